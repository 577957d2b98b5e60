"""shell: output, exit codes, cwd and envs, timeouts that really stop things, output caps."""

from __future__ import annotations

from aioagb._protocol import SHELL_TIMEOUT_EXIT_CODE
from aioagb.server.sandbox import LocalSandbox


async def test_shell_returns_stdout_stderr_and_the_exit_code(sandbox: LocalSandbox) -> None:
    out = await sandbox.shell("echo out; echo err >&2; exit 3", 10)
    assert (out.stdout, out.stderr, out.exit_code, out.timed_out) == ("out\n", "err\n", 3, False)
    ok = await sandbox.shell("true", 10)
    assert ok.exit_code == 0 and ok.stdout == "" and ok.stderr == ""


async def test_shell_cwd_is_under_the_workspace_envs_apply_and_home_is_the_workspace(
    sandbox: LocalSandbox,
) -> None:
    await sandbox.create_directory("/workspace/sub")
    command = 'echo "$GREETING"; ls -d "$PWD"'
    out = await sandbox.shell(command, 10, cwd="sub", envs={"GREETING": "hi"})
    assert out.exit_code == 0, out.stderr
    assert out.stdout.splitlines()[0] == "hi"
    assert out.stdout.splitlines()[1].endswith("/sub")
    home = await sandbox.shell("cd && touch at-home", 10)
    assert home.exit_code == 0
    assert await sandbox.get_file_info("/workspace/at-home")
    missing = await sandbox.shell("true", 10, cwd="/workspace/nope")
    assert missing.exit_code != 0 and "nope" in missing.stderr


async def test_timeout_kills_the_command_and_returns_124(sandbox: LocalSandbox) -> None:
    out = await sandbox.shell("echo started; sleep 100", 0.5)
    assert out.exit_code == SHELL_TIMEOUT_EXIT_CODE
    assert out.timed_out
    assert out.stdout == "started\n"
    # The sleep is gone: nothing of it is left in the session.
    ps = await sandbox.shell("ps -eo args", 10)
    assert "sleep 100" not in ps.stdout


async def test_background_child_holding_the_pipe_does_not_hang_the_call(
    sandbox: LocalSandbox,
) -> None:
    out = await sandbox.shell("sleep 30 & echo done", 1)
    assert out.exit_code == 0 and out.stdout == "done\n" and not out.timed_out


async def test_output_is_capped_with_a_visible_marker(sandbox: LocalSandbox) -> None:
    out = await sandbox.shell("head -c 5000000 /dev/zero | tr '\\0' x; echo tail >&2", 20)
    assert out.truncated
    assert out.stdout.endswith("\n[... output truncated at 65536 bytes ...]\n")
    assert len(out.stdout) < 70_000
    assert out.stderr == "tail\n"


async def test_a_gigabyte_of_output_is_drained_within_the_call(sandbox: LocalSandbox) -> None:
    """Output past the cap is read and dropped as fast as it comes: the command finishes
    (exit 0) inside its own deadline instead of blocking on a full pipe until killed."""
    out = await sandbox.shell("head -c 1000000000 /dev/zero", 30)
    assert out.exit_code == 0 and not out.timed_out
    assert out.truncated


async def test_calls_in_one_session_run_concurrently(sandbox: LocalSandbox) -> None:
    import anyio

    done: list[str] = []

    async def slow() -> None:
        await sandbox.shell("sleep 1", 5)
        done.append("slow")

    async def quick() -> None:
        for _ in range(20):
            await sandbox.get_file_info("/workspace")
        await sandbox.run_code("1", "python", 5)
        done.append("quick")

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow)
        await anyio.sleep(0.1)
        tg.start_soon(quick)
    assert done == ["quick", "slow"]
