"""The python kernel with the system's IPython and data stack (scripts/_install_system.sh):
every rich mime type, display_id, magics and `!cmd`, top-level await, matplotlib figures,
and IPython loaded only by the cells that need it."""

from __future__ import annotations

import base64
from collections.abc import Mapping

import pytest

from aioagb.server.sandbox import CodeRun, LocalSandbox

pytestmark = pytest.mark.usefixtures("needs_data_stack")


@pytest.fixture(scope="module")
def needs_data_stack() -> None:
    import subprocess

    probe = "import IPython, numpy, pandas, matplotlib, scipy, PIL, requests"
    if subprocess.run(["/usr/bin/python3", "-c", probe], check=False).returncode != 0:
        pytest.skip("the data stack is not installed (scripts/_install_system.sh installs it)")


async def run(sandbox: LocalSandbox, code: str) -> CodeRun:
    out = await sandbox.run_code(code, "python", 30)
    assert out.error is None, out.stderr
    return out


def only(results: list[Mapping[str, object]], mime: str) -> Mapping[str, object]:
    found = [r for r in results if mime in r]
    assert len(found) == 1, results
    return found[0]


async def test_plain_cells_load_neither_ipython_nor_the_data_stack(bsandbox: LocalSandbox) -> None:
    await run(bsandbox, "x = 1 + 1")
    probe = "import sys\nsorted(m for m in ('IPython', 'numpy', 'matplotlib') if m in sys.modules)"
    assert (await run(bsandbox, probe)).results[0]["text/plain"] == "[]"
    # A pandas frame shows as HTML without IPython too.
    frame = await run(bsandbox, "import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    assert "<table" in str(only(list(frame.results), "text/html")["text/html"])
    assert (await run(bsandbox, "'IPython' in sys.modules")).results[0]["text/plain"] == "False"


async def test_every_display_type_comes_back(bsandbox: LocalSandbox) -> None:
    await run(bsandbox, "kept = 41")  # before the upgrade: the namespace carries over
    code = (
        "from IPython.display import HTML, JSON, SVG, Image, Latex, Markdown, display\n"
        "import io\n"
        "from PIL import Image as PILImage\n"
        "buf = io.BytesIO(); PILImage.new('RGB', (4, 4), 'red').save(buf, 'JPEG')\n"
        "display(HTML('<h1>Hello HTML</h1>'))\n"
        "display(Markdown('# Hello Markdown'))\n"
        'display(SVG(\'<svg height="10" width="10"><circle cx="5" cy="5" r="4"/></svg>\'))\n'
        "display(Latex(r'\\frac{1}{2}'))\n"
        "display(JSON({'key': [1, 2]}))\n"
        "display(Image(data=buf.getvalue(), format='jpeg'))\n"
        "kept + 1"
    )
    results = list((await run(bsandbox, code)).results)
    assert "Hello HTML" in str(only(results, "text/html")["text/html"])
    assert only(results, "text/markdown")["text/markdown"] == "# Hello Markdown"
    assert "<svg" in str(only(results, "image/svg+xml")["image/svg+xml"])
    assert only(results, "text/latex")["text/latex"] == "\\frac{1}{2}"
    assert only(results, "application/json")["application/json"] == {"key": [1, 2]}
    jpeg = base64.b64decode(str(only(results, "image/jpeg")["image/jpeg"]))
    assert jpeg.startswith(b"\xff\xd8")
    assert [r["isMainResult"] for r in results] == [False] * 6 + [True]
    assert results[-1]["text/plain"] == "42"


@pytest.mark.parametrize("version", ["v4", "v5"])
async def test_mimebundle_charts_are_objects(bsandbox: LocalSandbox, version: str) -> None:
    mime = f"application/vnd.vegalite.{version}+json"
    code = (
        "class Chart:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        f"        return {{'{mime}': {{'mark': 'bar', 'data': {{'values': [1]}}}},\n"
        "                'text/plain': 'Chart'}\n"
        "display(Chart())"
    )
    results = (await run(bsandbox, code)).results
    assert results == [
        {
            mime: {"mark": "bar", "data": {"values": [1]}},
            "text/plain": "Chart",
            "isMainResult": False,
        }
    ]


async def test_display_id_updates_in_place(bsandbox: LocalSandbox) -> None:
    code = (
        "from IPython.display import HTML, display, update_display\n"
        "handle = display(HTML('<p>one</p>'), display_id='status')\n"
        "display(HTML('<p>other</p>'))\n"
        "update_display(HTML('<p>two</p>'), display_id='status')\n"
        "auto = display('x', display_id=True)\n"
        "auto.update('y')"
    )
    results = (await run(bsandbox, code)).results
    shown = [r.get("text/html", r.get("text/plain")) for r in results]
    assert shown == ["<p>two</p>", "<p>other</p>", "'y'"]
    # An update from a later cell is shown as new output.
    later = await run(bsandbox, "handle.update(HTML('<p>three</p>'))")
    assert [r.get("text/html") for r in later.results] == ["<p>three</p>"]


async def test_magics_shell_escapes_and_top_level_await(bsandbox: LocalSandbox) -> None:
    shell = await run(bsandbox, "!echo from-the-shell\nfiles = !ls /workspace\nlen(files) >= 0")
    assert shell.stdout == ["from-the-shell\n"]
    assert shell.results[0]["text/plain"] == "True"
    timed = await run(bsandbox, "%time total = sum(range(10))\ntotal")
    assert "Wall time" in "".join(timed.stdout)
    assert timed.results[0]["text/plain"] == "45"
    awaited = await run(bsandbox, "import asyncio\nawait asyncio.sleep(0)\n'awaited'")
    assert awaited.results[0]["text/plain"] == "'awaited'"
    assert (await run(bsandbox, "get_ipython().__class__.__name__")).results[0][
        "text/plain"
    ] == "'KernelShell'"


async def test_ipython_errors_are_short_with_the_traceback_on_stderr(
    bsandbox: LocalSandbox,
) -> None:
    await run(bsandbox, "%time 1")  # upgraded
    out = await bsandbox.run_code("print('before')\nundefined_name", "python", 10)
    assert out.error == "NameError: name 'undefined_name' is not defined"
    assert out.stdout == ["before\n"]
    stderr = "".join(out.stderr)
    assert "NameError" in stderr and "undefined_name" in stderr and "\x1b[" not in stderr
    timed_out = await bsandbox.run_code("import time\ntime.sleep(30)", "python", 1)
    assert timed_out.timed_out and timed_out.error is not None
    assert "state are kept" in timed_out.error
    assert (await run(bsandbox, "1 + 1")).results[0]["text/plain"] == "2"


async def test_matplotlib_figures_on_show_and_at_the_end_of_a_cell(
    sandbox: LocalSandbox,
) -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3])\n"
        "plt.show()\n"
        "print('between')\n"
        "plt.figure(); plt.bar([1], [2])"
    )
    out = await run(sandbox, code)
    pngs = [r for r in out.results if "image/png" in r]
    assert len(pngs) == 2 and not any(r["isMainResult"] for r in pngs)
    for png in pngs:
        assert base64.b64decode(str(png["image/png"])).startswith(b"\x89PNG")
    assert out.stdout == ["between\n"]
    assert not out.stderr  # no "non-interactive" warning, no fontconfig complaint
    # Shown figures are closed; and the same works once the kernel is IPython's.
    again = await run(sandbox, "%matplotlib inline\nplt.plot([3, 1]); plt.show()")
    assert [r for r in again.results if "image/png" in r]


async def test_numpy_scipy_pandas_and_requests_import(bsandbox: LocalSandbox) -> None:
    code = (
        "import numpy as np, scipy.stats, pandas as pd, requests\n"
        "float(scipy.stats.norm.cdf(0)) + float(np.mean([1, 2, 3])) + len(pd.Series([1]))"
    )
    assert (await run(bsandbox, code)).results[0]["text/plain"] == "3.5"
