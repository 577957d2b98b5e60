"""stream_code: output leaves the sandbox while the cell runs, within the output cap and no
faster than the consumer takes it; leaving a stream early interrupts the cell (and so does
cancelling a plain run_code call)."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import attrs
import pytest

from aioagb.server.sandbox import (
    CodeRun,
    LocalBackend,
    LocalSandbox,
    OutputChunk,
    RichOutput,
    SandboxFileError,
    SandboxLimits,
    StreamEvent,
    make_backend,
)


async def _collect(sandbox: LocalSandbox, code: str, language: str = "python") -> list[StreamEvent]:
    async with sandbox.stream_code(code, language, 20) as events:
        return [event async for event in events]


def _stdout(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, OutputChunk) and e.stream == "stdout")


async def _processes(sandbox: LocalSandbox) -> list[str]:
    """The command lines of every process in the sandbox's pid namespace (bubblewrap only)."""
    probe = (
        "import os\n"
        "[open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()"
        " for p in os.listdir('/proc') if p.isdigit()]"
    )
    run = await sandbox.run_code(probe, "python", 10)
    assert run.error is None, run.stderr
    return list(ast.literal_eval(str(run.results[0]["text/plain"])))


async def test_chunks_leave_the_sandbox_while_the_cell_runs(sandbox: LocalSandbox) -> None:
    # The cell prints, then waits for a file that only this test writes, on seeing that
    # print: a stream that delivered output at the end of the cell would never end.
    code = (
        "import os, time\n"
        "print('first', flush=True)\n"
        "for _ in range(1500):\n"
        "    if os.path.exists('/workspace/go'): break\n"
        "    time.sleep(0.01)\n"
        "print('second')\n"
        "'done'"
    )
    seen: list[StreamEvent] = []
    async with sandbox.stream_code(code, "python", 20) as events:
        async for event in events:
            seen.append(event)
            if event == OutputChunk("stdout", "first\n"):
                await sandbox.write_file("/workspace/go", "", "overwrite")
    assert seen[0] == OutputChunk("stdout", "first\n")
    assert seen[1] == OutputChunk("stdout", "second\n")
    assert seen[2] == RichOutput({"text/plain": "'done'", "isMainResult": True})
    end = seen[-1]
    assert isinstance(end, CodeRun) and end.error is None and len(seen) == 4
    # A streamed run's end carries no output of its own: it all came as events.
    assert (end.stdout, end.stderr, end.results) == ([], [], [])
    assert end.execution_count is not None


async def test_stderr_results_and_errors_come_as_events(sandbox: LocalSandbox) -> None:
    code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\ndisplay(1)\n1 / 0"
    events = await _collect(sandbox, code)
    assert OutputChunk("stdout", "out\n") in events
    assert OutputChunk("stderr", "err\n") in events
    assert RichOutput({"text/plain": "1", "isMainResult": False}) in events
    tracebacks = [e.text for e in events if isinstance(e, OutputChunk) and "Traceback" in e.text]
    assert tracebacks and "ZeroDivisionError" in tracebacks[0]
    end = events[-1]
    assert isinstance(end, CodeRun) and end.error == "ZeroDivisionError: division by zero"


async def test_leaving_a_stream_interrupts_the_cell_and_keeps_the_kernel(
    bsandbox: LocalSandbox,
) -> None:
    await bsandbox.run_code("kept = 'yes'", "python", 10)
    code = "import subprocess\nprint('started', flush=True)\nsubprocess.run(['sleep', '300'])"
    async with bsandbox.stream_code(code, "python", 60) as events:
        async for event in events:
            assert event == OutputChunk("stdout", "started\n")
            break  # leaving the block cancels the run, and waits for it to stop
    assert not [cmd for cmd in await _processes(bsandbox) if cmd.startswith("sleep")]
    after = await bsandbox.run_code("kept", "python", 10)
    assert after.results == [{"text/plain": "'yes'", "isMainResult": True}]


async def test_a_cancelled_run_code_call_interrupts_its_cell(bsandbox: LocalSandbox) -> None:
    await bsandbox.run_code("kept = 'yes'", "python", 10)
    code = (
        "open('/workspace/started', 'w').close()\n"
        "import subprocess\n"
        "subprocess.run(['sleep', '300'])"
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(bsandbox.run_code, code, "python", 60)
        while True:
            try:
                await bsandbox.get_file_info("/workspace/started")
                break
            except SandboxFileError:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    # The kernel is free (its cell was interrupted, not left to sleep) and kept its state.
    after = await bsandbox.run_code("kept", "python", 30)
    assert after.results == [{"text/plain": "'yes'", "isMainResult": True}]
    assert not [cmd for cmd in await _processes(bsandbox) if cmd.startswith("sleep")]


async def test_a_cancelled_task_interrupts_a_java_cell(bsandbox: LocalSandbox) -> None:
    code = 'System.out.println("up"); Thread.sleep(300000);'
    with anyio.CancelScope() as scope:
        async with bsandbox.stream_code(code, "java", 60) as events:
            async for event in events:
                assert event == OutputChunk("stdout", "up\n")
                scope.cancel()
    assert scope.cancelled_caught
    assert not [cmd for cmd in await _processes(bsandbox) if cmd.split()[0].endswith("/java")]


async def test_streamed_output_is_capped_with_one_marker(sandbox: LocalSandbox) -> None:
    events = await _collect(sandbox, "print('x' * 10_000_000)\nprint('after the cap')")
    text = _stdout(events)
    assert text.count("[... output truncated at 65536 bytes ...]") == 1
    assert "after the cap" not in text
    assert len(text) < 70_000
    end = events[-1]
    assert isinstance(end, CodeRun) and end.truncated and end.error is None


async def test_a_stream_ends_at_its_timeout(sandbox: LocalSandbox) -> None:
    async with sandbox.stream_code(
        "print('spin', flush=True)\nwhile True: pass", "python", 1
    ) as ev:
        events = [event async for event in ev]
    assert events[0] == OutputChunk("stdout", "spin\n")
    end = events[-1]
    assert isinstance(end, CodeRun) and end.timed_out
    assert end.error is not None and end.error.startswith("TimeoutError")


@pytest.fixture
async def roomy_backend(root: Path, limits: SandboxLimits) -> AsyncIterator[LocalBackend]:
    """A backend whose output cap does not stop a large output (for backpressure)."""
    backend = make_backend(root, attrs.evolve(limits, max_output_bytes=64 << 20), prefer="bwrap")
    try:
        yield backend
    finally:
        await backend.aclose()


async def _progress(sandbox: LocalSandbox) -> int:
    raw = await sandbox.read_file("/workspace/progress", 0, 100)
    return int(raw or b"-1")


async def _settled_progress(sandbox: LocalSandbox) -> int:
    """The cell's progress once it has stopped moving (it is blocked)."""
    last, same = -2, 0
    for _ in range(600):
        now = await _progress(sandbox)
        same = same + 1 if now == last else 0
        if same >= 5:
            return now
        last = now
        await anyio.sleep(0.1)
    raise AssertionError(f"the cell never stopped: at {last}")


async def test_a_slow_consumer_holds_the_cell_back(roomy_backend: LocalBackend) -> None:
    sandbox = await roomy_backend.create("slow")
    await sandbox.write_file("/workspace/progress", "-1", "overwrite")
    lines = 300
    code = (
        "import sys\n"
        f"for i in range({lines}):\n"
        "    sys.stdout.write('x' * 65535 + '\\n')\n"
        "    open('/workspace/progress', 'w').write(str(i))\n"
    )
    async with sandbox.stream_code(code, "python", 60) as events:
        first = await events.__anext__()
        assert isinstance(first, OutputChunk)
        # Not consuming: the sandbox may run only a few events (credits) and a pipe ahead.
        blocked_at = await _settled_progress(sandbox)
        assert blocked_at < lines // 4
        rest = [event async for event in events]
    text = first.text + _stdout(rest)
    assert text.count("\n") == lines
    assert await _progress(sandbox) == lines - 1
    end = rest[-1]
    assert isinstance(end, CodeRun) and end.error is None and not end.truncated
