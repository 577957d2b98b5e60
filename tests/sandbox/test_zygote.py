"""The python kernel forked from the agent's zygote (agent/zygote.py): its own session and
process group, the session's uid, environment and streams, a restart after it is killed, and
kernels exec'd as before once the zygote is gone."""

from __future__ import annotations

import ast

from aioagb.server.sandbox import LocalSandbox

# What a cell sees of its own process: (forked?, its pid, own session and group?, its uid,
# its parent's pid). A forked kernel's command line is the agent's, without `--kernel`.
PROBE = (
    "import os\n"
    "own = open('/proc/self/cmdline', 'rb').read().split(b'\\0')\n"
    "(b'--kernel' not in own, os.getpid(), os.getsid(0) == os.getpid() == os.getpgid(0),"
    " os.getuid(), os.getppid())"
)


async def _probe(sandbox: LocalSandbox) -> tuple[bool, int, bool, int, int]:
    run = await sandbox.run_code(PROBE, "python", 20)
    assert run.error is None, run.stderr
    return ast.literal_eval(str(run.results[0]["text/plain"]))  # type: ignore[no-any-return]


async def _uid(sandbox: LocalSandbox) -> int:
    return int((await sandbox.shell("id -u", 10)).stdout)


async def test_the_kernel_is_forked_into_its_own_group_with_the_sessions_uid(
    sandbox: LocalSandbox,
) -> None:
    forked, _pid, own_group, uid, _parent = await _probe(sandbox)
    assert forked
    assert own_group  # the agent's SIGINT and SIGKILL reach the cell's whole group
    assert uid == await _uid(sandbox)
    env = await sandbox.run_code(
        "import os, sys\n(os.environ['HOME'], sys.executable)", "python", 10
    )
    home, executable = ast.literal_eval(str(env.results[0]["text/plain"]))
    assert executable.endswith("python3") and home.endswith("workspace")


async def test_a_forked_kernel_has_its_own_streams(
    sandbox: LocalSandbox,
) -> None:
    # The agent's streams are unbuffered (-u), the kernel's its own; stdin is /dev/null.
    out = await sandbox.run_code(
        "import sys\nprint('a', 'b')\nprint(sys.stdin.read())", "python", 10
    )
    assert "".join(out.stdout) == "a b\n\n"


async def test_a_killed_kernel_is_forked_again(sandbox: LocalSandbox) -> None:
    await sandbox.run_code("kept = 1", "python", 10)
    _, first, _, _, _ = await _probe(sandbox)
    died = await sandbox.run_code(
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "python", 10
    )
    assert died.error is not None and "restarted" in died.error
    forked, second, own_group, _, _ = await _probe(sandbox)
    assert forked and own_group and second != first
    lost = await sandbox.run_code("'kept' in globals()", "python", 10)
    assert lost.results[0]["text/plain"] == "False"


async def test_kernels_are_execd_once_the_zygote_is_gone(sandbox: LocalSandbox) -> None:
    _, _, _, _, zygote = await _probe(sandbox)
    # The zygote runs as the session's uid, so a cell can end it: the next kernel is exec'd.
    code = f"import os\nos.kill({zygote}, 9)\nos.kill(os.getpid(), 9)"
    await sandbox.run_code(code, "python", 10)
    forked, _, own_group, uid, _ = await _probe(sandbox)
    assert not forked and own_group and uid == await _uid(sandbox)
    again = await sandbox.run_code("os._exit(1)", "python", 10)  # and it restarts the same way
    assert again.error is not None
    forked, _, _, _, _ = await _probe(sandbox)
    assert not forked


async def test_warm_forks_the_kernel_ahead(sandbox: LocalSandbox) -> None:
    await sandbox.warm_up()
    forked, _, _, _, _ = await _probe(sandbox)
    assert forked
