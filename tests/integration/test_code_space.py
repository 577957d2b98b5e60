"""aioagb's code API against AGB Local's code-space sandbox (issue 13): streaming with
`session.code.stream()` and `run(stream_beta=True)` (output while the cell runs, a cell
interrupted by leaving the stream, a consumer slower than the cell), every rich result type,
java, r, and get_metrics."""

from __future__ import annotations

import anyio
import pytest

from aioagb import (
    AsyncAGB,
    AsyncSession,
    CreateSessionParams,
    EndEvent,
    ResultEvent,
    StdoutEvent,
)
from aioagb.server.sandbox.runtimes import find_runtimes

RUNTIMES = find_runtimes("bwrap")


@pytest.fixture
async def session(agb: AsyncAGB, params: CreateSessionParams) -> AsyncSession:
    async with agb.session(params) as session:
        yield session  # type: ignore[misc]


async def test_output_streams_while_the_cell_runs(session: AsyncSession) -> None:
    """The first line arrives before the cell goes on: the cell waits for a file the
    consumer writes only once it has seen that line."""
    code = (
        "import os, time\n"
        "print('first', flush=True)\n"
        "while not os.path.exists('/workspace/go'): time.sleep(0.01)\n"
        "print('second', flush=True)\n"
        "40 + 2\n"
    )
    seen: list[str] = []
    async with session.code.stream(code, "python", timeout_s=60) as events:
        async for event in events:
            if isinstance(event, StdoutEvent):
                seen.append(event.text)
                if event.text == "first\n":
                    assert (await session.file.write("/workspace/go", "")).success
            elif isinstance(event, ResultEvent):
                assert event.result.text == "42" and event.result.is_main_result
            elif isinstance(event, EndEvent):
                assert event.success
    assert seen == ["first\n", "second\n"]


async def test_run_with_stream_beta_and_coroutine_callbacks(session: AsyncSession) -> None:
    out: list[str] = []

    async def on_stdout(chunk: str) -> None:
        out.append(chunk)

    result = await session.code.run(
        "for i in range(3): print(i, flush=True)", "py", stream_beta=True, on_stdout=on_stdout
    )
    assert result.success, result.error_message
    assert "".join(out) == "0\n1\n2\n" and result.logs.stdout == out


async def test_leaving_a_stream_interrupts_the_cell_and_leaves_no_process(
    session: AsyncSession,
) -> None:
    """Cancelling the consumer mid-cell closes the socket: the cell stops (its child process
    too) and the kernel keeps its state."""
    await session.code.run("kept = 'yes'", "python")
    code = (
        "import subprocess, time\n"
        "child = subprocess.Popen(['sleep', '4321'])\n"
        "print('running', flush=True)\n"
        "time.sleep(600)\n"
    )
    with anyio.CancelScope() as scope:
        async for event in session.code.stream(code, "python", timeout_s=600):
            if event == StdoutEvent("running\n"):
                scope.cancel()
    assert scope.cancelled_caught
    with anyio.fail_after(30):  # a hang guard, not a measurement
        while True:
            ps = await session.command.execute("ps -eo args", timeout_ms=5000)
            if "sleep 4321" not in ps.stdout:
                break
            await anyio.sleep(0.1)
    after = await session.code.run("kept", "python")
    assert after.success and after.result == "'yes'"


async def test_a_consumer_slower_than_the_cell_loses_nothing(session: AsyncSession) -> None:
    """The cell prints faster than the consumer reads: it is held back (backpressure), and
    every line arrives, in order."""
    code = "for i in range(400): print(f'{i:04d}' + 'x' * 1000, flush=True)"
    lines: list[str] = []
    async with session.code.stream(code, "python", timeout_s=120) as events:
        async for event in events:
            if isinstance(event, StdoutEvent):
                lines += event.text.splitlines()
                await anyio.sleep(0.002)  # a slow consumer
    assert [line[:4] for line in lines] == [f"{i:04d}" for i in range(400)]


RICH = r"""
from IPython.display import display, HTML, Markdown, SVG, Latex, JSON
import matplotlib.pyplot as plt

class Chart:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"application/vnd.vegalite.v5+json": {"mark": "bar"}, "text/plain": "chart"}

display(HTML("<b>bold</b>"))
display(Markdown("*md*"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"/>'))
display(Latex(r"$x^2$"))
display(JSON({"a": 1}))
display(Chart())
plt.plot([1, 2, 3])
plt.show()
"""


async def test_every_rich_type_comes_back(session: AsyncSession) -> None:
    result = await session.code.run(RICH, "python", timeout_s=120)
    assert result.success, result.error_message
    by_kind = {
        "html": [r for r in result.results if r.html],
        "markdown": [r for r in result.results if r.markdown],
        "svg": [r for r in result.results if r.svg],
        "latex": [r for r in result.results if r.latex],
        "json": [r for r in result.results if r.json],
        "chart": [r for r in result.results if r.chart],
        "png": [r for r in result.results if r.png],
    }
    assert all(by_kind.values()), {k: len(v) for k, v in by_kind.items()}
    assert by_kind["html"][0].html == "<b>bold</b>"
    assert by_kind["chart"][0].chart == {"mark": "bar"}
    assert by_kind["png"][0].png.startswith("iVBOR")  # base64 of a PNG header


async def test_python_cells_allow_top_level_await_and_shell_escapes(session: AsyncSession) -> None:
    awaited = await session.code.run("import asyncio\nawait asyncio.sleep(0)\n'awaited'", "python")
    assert awaited.success and awaited.result == "'awaited'"
    shell = await session.code.run("!echo from-shell", "python")
    assert shell.success and "from-shell" in "".join(shell.logs.stdout)


@pytest.mark.skipif(RUNTIMES.java is None, reason="no JDK here (scripts/_install_system.sh)")
async def test_java_snippets_run_with_output_and_errors(session: AsyncSession) -> None:
    ok = await session.code.run('System.out.println("from java");', "java", timeout_s=120)
    assert ok.success and ok.logs.stdout == ["from java\n"], ok
    bad = await session.code.run("int x = ;", "java", timeout_s=120)
    assert not bad.success and bad.error_message


@pytest.mark.skipif(RUNTIMES.rscript is None, reason="no R here (scripts/_install_system.sh)")
async def test_r_snippets_run_with_output_and_errors(session: AsyncSession) -> None:
    ok = await session.code.run('cat("from r\\n")', "R", timeout_s=120)
    assert ok.success and ok.logs.stdout == ["from r\n"], ok
    bad = await session.code.run('stop("boom")', "r", timeout_s=120)
    assert not bad.success and "boom" in bad.error_message + "".join(bad.logs.stderr)


async def test_metrics_describe_the_session(session: AsyncSession) -> None:
    result = await session.get_metrics()
    assert result.success, result.error_message
    metrics = result.metrics
    assert metrics is not None and metrics.cpu_count >= 1
    assert metrics.mem_total > 0 and metrics.disk_total > 0
    assert 0 <= metrics.cpu_used_pct <= 100 and metrics.timestamp
