"""An interpreter without IPython (`--python` pointing at a bare venv): the stdlib kernel
still gives rich bundles, `display`, `_repr_mimebundle_` and top-level await, and says
clearly that IPython syntax needs IPython."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aioagb.server.sandbox import LocalBackend, LocalSandbox, SandboxLimits, make_backend


@pytest.fixture(scope="module")
def bare_venv() -> Iterator[Path]:
    """A venv of the system python without its site-packages: no IPython, no numpy."""
    parent = Path(tempfile.mkdtemp(prefix="aioagb-bare-", dir="/tmp"))
    venv = parent / "venv"
    try:
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
        for path in (parent, *venv.rglob("*")):
            if path.is_dir():
                path.chmod(0o755)
        yield venv
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
async def bare(root: Path, limits: SandboxLimits, bare_venv: Path) -> AsyncIterator[LocalSandbox]:
    backend: LocalBackend = make_backend(root, limits, prefer="bwrap", python=str(bare_venv))
    try:
        yield await backend.create("bare")
    finally:
        await backend.aclose()


async def test_the_stdlib_kernel_runs_where_ipython_is_absent(bare: LocalSandbox) -> None:
    probe = await bare.run_code(
        "import importlib.util\nimportlib.util.find_spec('IPython')", "python", 30
    )
    assert probe.error is None and probe.results == []  # None: no main result
    code = (
        "class Page:\n"
        "    def _repr_html_(self): return '<b>page</b>'\n"
        "    def __repr__(self): return 'Page()'\n"
        "class Chart:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'application/vnd.vegalite.v5+json': {'mark': 'line'}}\n"
        "display(Page(), Chart())\n"
        "import asyncio\n"
        "await asyncio.sleep(0)\n"
        "Page()"
    )
    out = await bare.run_code(code, "python", 30)
    assert out.error is None, out.stderr
    assert out.results == [
        {"text/plain": "Page()", "text/html": "<b>page</b>", "isMainResult": False},
        {
            "text/plain": repr_of_chart(out.results[1]),
            "application/vnd.vegalite.v5+json": {"mark": "line"},
            "isMainResult": False,
        },
        {"text/plain": "Page()", "text/html": "<b>page</b>", "isMainResult": True},
    ]


def repr_of_chart(bundle: object) -> str:
    assert isinstance(bundle, dict)
    text = bundle["text/plain"]
    assert isinstance(text, str) and text.startswith("<__main__.Chart object")
    return text


async def test_ipython_syntax_fails_clearly_without_ipython(bare: LocalSandbox) -> None:
    out = await bare.run_code("!echo hi", "python", 30)
    assert out.error is not None and out.error.startswith("SyntaxError")
    missing = await bare.run_code("from IPython.display import HTML", "python", 30)
    assert missing.error == "ModuleNotFoundError: No module named 'IPython'"
    assert (await bare.run_code("1 + 1", "python", 30)).results[0]["text/plain"] == "2"
