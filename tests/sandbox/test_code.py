"""run_code: a stateful python kernel, javascript under node, clear errors, timeouts."""

from __future__ import annotations

import ast

import pytest

from aioagb.server.sandbox import CodeRun, LocalSandbox, SandboxUnavailable
from aioagb.server.sandbox.backend import AGENT_SOURCE


async def test_python_state_persists_and_last_expression_is_the_main_result(
    sandbox: LocalSandbox,
) -> None:
    first = await sandbox.run_code("x = 41\nprint('set')", "python", 10)
    assert first.error is None
    assert first.stdout == ["set\n"]
    assert first.results == []
    second = await sandbox.run_code("x + 1", "python", 10)
    assert second.error is None
    assert second.results == [{"text/plain": "42", "isMainResult": True}]
    assert second.execution_count == (first.execution_count or 0) + 1
    assert second.execution_time >= 0


async def test_runtime_error_is_a_result_with_traceback_in_stderr(sandbox: LocalSandbox) -> None:
    out = await sandbox.run_code("print('before')\nundefined_name", "python", 10)
    assert out.error == "NameError: name 'undefined_name' is not defined"
    assert out.stdout == ["before\n"]
    assert "Traceback" in "".join(out.stderr)
    assert "undefined_name" in "".join(out.stderr)
    syntax = await sandbox.run_code("def (:", "python", 10)
    assert syntax.error is not None and syntax.error.startswith("SyntaxError")


async def test_a_cells_syntax_error_shows_the_cell_not_the_kernels_parser(
    sandbox: LocalSandbox,
) -> None:
    for prelude in ("", "from IPython.display import display\n"):  # both kernels
        run = await sandbox.run_code(prelude + "x = (1,\nprint('a'", "python", 10)
        trace = "".join(run.stderr)
        assert run.error is not None and run.error.startswith("SyntaxError")
        assert "ast.py" not in trace and "Traceback" not in trace, trace
        assert trace.strip().endswith("SyntaxError: '(' was never closed")
        assert 'File "<cell' in trace
    raised = await sandbox.run_code("compile('x(', 'made-by-the-cell', 'exec')", "python", 10)
    # A SyntaxError the cell raises at run time keeps the cell's frame.
    assert "Traceback" in "".join(raised.stderr) and "made-by-the-cell" in "".join(raised.stderr)


async def test_comment_only_program_succeeds(sandbox: LocalSandbox) -> None:
    out = await sandbox.run_code("# comment", "python", 10)
    assert out.error is None and out.results == [] and out.stdout == []


async def test_display_gives_rich_bundles(sandbox: LocalSandbox) -> None:
    code = (
        "class H:\n"
        "    def _repr_html_(self): return '<b>hi</b>'\n"
        "    def __repr__(self): return 'H()'\n"
        "display(H())\n"
        "H()"
    )
    out = await sandbox.run_code(code, "python", 10)
    assert out.error is None
    assert out.results == [
        {"text/plain": "H()", "text/html": "<b>hi</b>", "isMainResult": False},
        {"text/plain": "H()", "text/html": "<b>hi</b>", "isMainResult": True},
    ]


async def test_python_sees_workspace_files_and_cwd(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("/workspace/helper.py", "VALUE = 7\n", "overwrite")
    out = await sandbox.run_code("import helper, os\nhelper.VALUE", "python", 10)
    assert out.error is None, out.stderr
    assert out.results[0]["text/plain"] == "7"


# Every module of the agent package: none may answer a user's `import` by its bare name.
AGENT_MODULES = sorted(
    path.stem for path in AGENT_SOURCE.glob("*.py") if not path.stem.startswith("__")
)


async def test_the_agents_modules_do_not_shadow_user_imports(sandbox: LocalSandbox) -> None:
    """The kernel runs the agent package, but a cell's `import config` is the user's own
    module (or none), never the agent's module of that name."""
    probe = (
        "import importlib.util\n"
        f"specs = [importlib.util.find_spec(name) for name in {AGENT_MODULES!r}]\n"
        "[spec.origin for spec in specs if spec is not None]"
    )
    found = await sandbox.run_code(probe, "python", 10)
    assert found.error is None, found.stderr
    origins = ast.literal_eval(str(found.results[0]["text/plain"]))
    assert not [origin for origin in origins if "aioagb_agent" in str(origin)]
    await sandbox.write_file("/workspace/config.py", "WHO = 'user'\n", "overwrite")
    mine = await sandbox.run_code("import config\nconfig.WHO", "python", 10)
    assert mine.error is None, mine.stderr
    assert mine.results[0]["text/plain"] == "'user'"


async def test_javascript_prints_via_node(sandbox: LocalSandbox) -> None:
    out = await sandbox.run_code("console.log('js', 1 + 1)", "javascript", 10)
    assert out.error is None, out.stderr
    assert out.stdout == ["js 2\n"]
    bad = await sandbox.run_code("nope()", "javascript", 10)
    assert bad.error == "ReferenceError: nope is not defined"


async def test_unsupported_language_is_unavailable(sandbox: LocalSandbox) -> None:
    with pytest.raises(SandboxUnavailable, match="not available on this server"):
        await sandbox.run_code("x", "cobol", 10)


async def test_runaway_cell_is_interrupted_and_the_kernel_keeps_its_state(
    sandbox: LocalSandbox,
) -> None:
    await sandbox.run_code("kept = 'yes'", "python", 10)
    out = await sandbox.run_code("while True: pass", "python", 1)
    assert out.timed_out
    assert out.error is not None and "timed out" in out.error and "state" in out.error
    again = await sandbox.run_code("kept", "python", 10)
    assert again.error is None
    assert again.results[0]["text/plain"] == "'yes'"


async def test_cell_that_ignores_interrupts_is_killed_and_the_kernel_restarts(
    sandbox: LocalSandbox,
) -> None:
    await sandbox.run_code("kept = 1", "python", 10)
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
    out = await sandbox.run_code(code, "python", 1)
    assert out.timed_out
    assert out.error is not None and "restarted" in out.error and "lost" in out.error
    after = await sandbox.run_code("print('alive')\n'kept' in globals()", "python", 10)
    assert after.stdout == ["alive\n"]
    assert after.results[0]["text/plain"] == "False"


async def test_child_process_output_is_captured_and_a_dead_kernel_restarts(
    sandbox: LocalSandbox,
) -> None:
    out = await sandbox.run_code("import os\nos.system('echo from-child')", "python", 10)
    assert out.stdout == ["from-child\n"]
    died = await sandbox.run_code("import os\nos._exit(3)", "python", 10)
    assert died.error is not None and "restarted" in died.error
    back = await sandbox.run_code("1 + 1", "python", 10)
    assert back.results[0]["text/plain"] == "2"


async def test_python_output_is_capped_with_a_marker(sandbox: LocalSandbox) -> None:
    out = await sandbox.run_code("print('x' * 10_000_000)", "python", 20)
    assert out.truncated
    text = "".join(out.stdout)
    assert "[... output truncated at 65536 bytes ...]" in text
    assert len(text) < 70_000


async def test_a_queued_cell_times_out_by_its_own_deadline(sandbox: LocalSandbox) -> None:
    import anyio

    outcomes: dict[str, CodeRun] = {}

    async def run(name: str, code: str, limit_s: float) -> None:
        outcomes[name] = await sandbox.run_code(code, "python", limit_s)

    await sandbox.run_code("import time", "python", 10)
    async with anyio.create_task_group() as tg:
        tg.start_soon(run, "long", "time.sleep(2)\n'long done'", 10)
        await anyio.sleep(0.2)
        tg.start_soon(run, "queued", "'queued ran'", 0.5)
    assert outcomes["long"].results[0]["text/plain"] == "'long done'"
    queued = outcomes["queued"]
    assert queued.timed_out and queued.error is not None and "busy" in queued.error
    assert sandbox.started  # the agent was not restarted on the way


async def test_top_level_await_runs_on_the_stdlib_kernel(sandbox: LocalSandbox) -> None:
    awaited = await sandbox.run_code(
        "import asyncio\nx = await asyncio.sleep(0, 5)\nx", "python", 10
    )
    assert awaited.error is None and awaited.results[0]["text/plain"] == "5"
    # A coroutine the cell makes but does not await is its value, not run.
    made = await sandbox.run_code("async def f(): return 1\nf()", "python", 10)
    assert str(made.results[0]["text/plain"]).startswith("<coroutine object f")
    probe = await sandbox.run_code("import sys\n'IPython' in sys.modules", "python", 10)
    assert probe.results[0]["text/plain"] == "False"  # no upgrade was needed
