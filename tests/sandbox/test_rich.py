"""Rich results from a venv for user code: matplotlib figures become image/png bundles.

The venv is built once from /usr/bin/python3 (the interpreter the sandbox can see) with
matplotlib from PyPI, cached under the system temp directory between runs."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aioagb.server.sandbox import LocalBackend, SandboxLimits, make_backend


def _build_venv(target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix="venv-", dir=target.parent))
    try:
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(staging)], check=True)
        pip = [str(staging / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "matplotlib"], check=True)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # venv scripts name their directory: keep it stable
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@pytest.fixture(scope="session")
def mpl_venv() -> Path:
    target = Path(tempfile.gettempdir()) / "aioagb-test-venv-matplotlib"
    ok = target.exists() and (
        subprocess.run(
            [str(target / "bin" / "python"), "-c", "import matplotlib"], check=False
        ).returncode
        == 0
    )
    if not ok:
        _build_venv(target)
    target.chmod(0o755)
    return target


@pytest.fixture
async def mpl_backend(
    root: Path, limits: SandboxLimits, mpl_venv: Path
) -> AsyncIterator[LocalBackend]:
    backend = make_backend(root, limits, prefer="bwrap", python=str(mpl_venv / "bin" / "python"))
    try:
        yield backend
    finally:
        await backend.aclose()


async def test_matplotlib_figure_is_an_image_png_result(mpl_backend: LocalBackend) -> None:
    sandbox = await mpl_backend.create("mpl")
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nprint('drawn')"
    out = await sandbox.run_code(code, "python", 60)
    assert out.error is None, out.stderr
    assert out.stdout == ["drawn\n"]
    pngs = [r for r in out.results if "image/png" in r]
    assert len(pngs) == 1 and pngs[0]["isMainResult"] is False
    png = pngs[0]["image/png"]
    assert isinstance(png, str) and base64.b64decode(png).startswith(b"\x89PNG")
    # Figures are closed after being sent: the next cell has none.
    again = await sandbox.run_code("len(plt.get_fignums())", "python", 10)
    assert again.results == [{"text/plain": "0", "isMainResult": True}]
    # The venv's python is first on PATH for shell commands too.
    which = await sandbox.shell("python -c 'import sys, matplotlib; print(sys.prefix)'", 30)
    assert which.stdout.strip() == "/opt/venv", which.stderr
