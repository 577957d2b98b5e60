"""Warm sandboxes (`sandbox.warm`): started ahead of demand, one session each, never shared.

Real sandboxes of both kinds; the pool's refill runs in a task as the server runs it."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from aioagb.server.sandbox import (
    LocalBackend,
    LocalSandbox,
    SandboxError,
    SandboxLimits,
    make_backend,
)
from aioagb.server.sandbox import warm as warm_module
from aioagb.server.sandbox.warm import WarmPool, process_tree, refill_pause

IS_ROOT = os.geteuid() == 0
FILL_TIMEOUT_S = 30.0
LIMITS = SandboxLimits(memory_bytes=256 * 1024 * 1024, max_timeout_s=30.0)


async def until(condition: Callable[[], bool], timeout_s: float = FILL_TIMEOUT_S) -> None:
    """Polls the pool's own state (it has no event to wait on) until `condition` holds."""
    with anyio.fail_after(timeout_s):
        while not condition():  # noqa: ASYNC110 - polling state that has no event
            await anyio.sleep(0.005)


@contextlib.asynccontextmanager
async def warm_backend(root: Path, mode: str, size: int) -> AsyncIterator[LocalBackend]:
    """A backend keeping `size` warm sandboxes, its refill running, full when yielded."""
    backend = make_backend(root, LIMITS, prefer=mode, warm_sandboxes=size)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(backend.keep_warm)
            await wait_full(backend)
            yield backend
            tg.cancel_scope.cancel()
    finally:
        await backend.aclose()


async def wait_full(backend: LocalBackend) -> None:
    pool = backend.warm_pool
    await until(lambda: pool.ready >= pool.size)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (host pids)."""
    return [process for process, _threads in process_tree(pid)]


def pooled(backend: LocalBackend) -> list[LocalSandbox]:
    return list(backend.warm_pool._ready)


async def test_a_sessions_first_call_takes_a_started_sandbox_whose_kernel_ran_no_cell(
    root: Path, mode: str
) -> None:
    async with warm_backend(root, mode, 1) as backend:
        [ready] = pooled(backend)
        agent_pid, warm_dir = ready.agent_pid, ready.dir
        sandbox = await backend.create("w-one")
        # An idle session holds no sandbox: the pool is left alone until its first call.
        assert not sandbox.started and backend.warm_pool.ready == 1
        run = await sandbox.run_code("1 + 1", "python", 10)
        assert sandbox.started and sandbox.agent_pid == agent_pid  # no new start
        assert sandbox.dir == warm_dir and backend.sandboxes == {"w-one": sandbox}
        # The warm-up started the kernel without running a cell: the user's is the first.
        assert run.error is None and run.execution_count == 1
        assert run.results[0]["text/plain"] == "2"
        await wait_full(backend)  # the refill replaced it with another sandbox
        assert pooled(backend)[0].dir != warm_dir
        await sandbox.aclose()
        assert not warm_dir.exists() and not alive(agent_pid or 0)


async def test_context_files_copied_in_before_the_first_call_land_in_the_taken_sandbox(
    root: Path, mode: str
) -> None:
    async with warm_backend(root, mode, 1) as backend:
        [ready] = pooled(backend)
        sandbox = await backend.create("w-files", ["/workspace/ctx"])
        await sandbox.host_files()  # what a context download at create does first
        assert sandbox.dir == ready.dir and backend.warm_pool.ready == 0
        (sandbox.host_roots()["/workspace"] / "from-context.txt").write_text("downloaded")
        run = await sandbox.run_code("open('from-context.txt').read()", "python", 10)
        assert run.results[0]["text/plain"] == "'downloaded'"


async def test_nothing_of_one_tenant_reaches_the_next_session_from_the_pool(
    root: Path, mode: str
) -> None:
    async with warm_backend(root, mode, 2) as backend:
        a = await backend.create("tenant-a")
        await a.write_file("/workspace/a.txt", "secret of a", "overwrite")
        await a.write_file("/tmp/a.txt", "secret of a", "overwrite")
        await a.run_code("import os\nos.environ['A_SECRET'] = '1'\nA_GLOBAL = 42", "python", 10)
        started = await a.shell("nohup sleep 300 >/dev/null 2>&1 & echo $!", 10)
        assert a.agent_pid is not None and a.dir.name.startswith("warm-")  # from the pool
        # A's processes by host pid: under bubblewrap all stay below its pid namespace's
        # init; in plain mode the orphaned `sleep` is known by its own pid ($!).
        a_processes = descendants(a.agent_pid)
        if mode == "plain":
            a_processes.append(int(started.stdout))
        assert len(a_processes) >= 3  # agent, kernel, sleep (and bubblewrap's own two)
        a_dir = a.dir
        await a.aclose()
        assert not a_dir.exists()
        assert not [pid for pid in a_processes if alive(pid)]
        await wait_full(backend)
        assert all(sandbox is not a for sandbox in pooled(backend))  # never handed back

        b = await backend.create("tenant-b")
        await b.shell("true", 10)
        assert b.dir != a_dir and b.dir.name.startswith("warm-")
        assert (await b.list_directory("/workspace")) == []
        assert not [e for e in await b.list_directory("/tmp") if e.name == "a.txt"]
        run = await b.run_code(
            "import os\n(os.environ.get('A_SECRET'), 'A_GLOBAL' in dir())", "python", 10
        )
        assert run.results[0]["text/plain"] == "(None, False)"
        if mode == "bwrap":  # its own pid namespace: A's processes are not even visible
            ps = await b.shell("ls /proc | grep -c '^[0-9]'", 10)
            assert (
                "sleep 300"
                not in (await b.shell("cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '", 10)).stdout
            )
            assert int(ps.stdout) < 20


async def test_a_pooled_sandbox_waits_at_low_priority_and_its_session_runs_at_normal(
    root: Path, mode: str
) -> None:
    if not IS_ROOT:
        pytest.skip("only root can give a process its priority back; no nicing without it")
    async with warm_backend(root, mode, 1) as backend:
        [ready] = pooled(backend)
        pid = ready.agent_pid
        assert pid is not None
        assert os.getpriority(os.PRIO_PROCESS, pid) == 10
        sandbox = await backend.create("w-prio")
        assert os.getpriority(os.PRIO_PROCESS, pid) == 10  # not taken yet
        await sandbox.shell("true", 10)
        assert sandbox.agent_pid == pid and os.getpriority(os.PRIO_PROCESS, pid) == 0
        code = "import os, subprocess\nos.nice(0), subprocess.check_output(['nice'], text=True)"
        run = await sandbox.run_code(code, "python", 10)
        assert run.results[0]["text/plain"] == "(0, '0\\n')"


async def test_sessions_that_need_their_own_mounts_or_a_browser_start_their_own(
    root: Path, mode: str
) -> None:
    async with warm_backend(root, mode, 1) as backend:
        [ready] = pooled(backend)
        mounted = await backend.create("w-mount", ["/data/ctx"])
        browser = await backend.create("w-browser", browser=True)
        inside = await backend.create("w-inside", ["/workspace/ctx"])  # no mount of its own
        for sandbox in (mounted, browser, inside):
            await sandbox.shell("true", 10)
        assert mounted.dir != ready.dir and browser.dir != ready.dir
        assert inside.dir == ready.dir


async def test_a_pooled_sandbox_that_died_is_never_handed_out_and_is_replaced(
    root: Path, mode: str
) -> None:
    async with warm_backend(root, mode, 1) as backend:
        [dead] = pooled(backend)
        assert dead.agent_pid is not None
        os.killpg(dead.agent_pid, signal.SIGKILL)
        await until(lambda: not dead.started, 10)
        dead_pid, dead_dir = dead.agent_pid, dead.dir
        session = await backend.create("w-after-crash")
        run = await session.run_code("6 * 7", "python", 10)  # a cold start, not the corpse
        assert run.results[0]["text/plain"] == "42"
        assert session.agent_pid != dead_pid and session.dir != dead_dir
        pool = backend.warm_pool
        await until(lambda: pool.replaced_total == 1 and pool.ready == 1)
        assert not dead_dir.exists()
        assert pooled(backend)[0] is not dead and pooled(backend)[0].started


async def test_closing_the_backend_ends_every_pooled_sandbox(root: Path, mode: str) -> None:
    backend = make_backend(root, LIMITS, prefer=mode, warm_sandboxes=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(backend.keep_warm)
        await wait_full(backend)
        sandboxes = pooled(backend)
        pids = [sandbox.agent_pid for sandbox in sandboxes]
        tg.cancel_scope.cancel()
    await backend.aclose()
    assert len(pids) == 2
    for sandbox, pid in zip(sandboxes, pids, strict=True):
        assert pid is not None and not alive(pid)
        assert not sandbox.dir.exists()
    assert list((root / "sessions").iterdir()) == []
    with pytest.raises(SandboxError):
        await backend.create("after-close")


async def test_a_start_cancelled_by_shutdown_leaves_nothing(root: Path, mode: str) -> None:
    backend = make_backend(root, LIMITS, prefer=mode, warm_sandboxes=1)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(backend.keep_warm)
            # A start is under way once its directory is there.
            await until(lambda: any((root / "sessions").iterdir()))
            tg.cancel_scope.cancel()
    finally:
        await backend.aclose()
    assert list((root / "sessions").iterdir()) == []
    assert backend.warm_pool.ready == 0


# --- the pool on its own: when it starts sandboxes -------------------------------------------


class FakeSandbox:
    def __init__(self) -> None:
        self.started = True
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True
        self.started = False


async def test_the_refill_waits_while_sessions_own_sandboxes_start() -> None:
    starts: list[FakeSandbox] = []
    busy = True

    async def start() -> FakeSandbox:
        starts.append(FakeSandbox())
        return starts[-1]

    pool = WarmPool(2, start, busy=lambda: busy)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.run)
        await anyio.sleep(0.3)
        assert starts == []
        busy = False
        await until(lambda: pool.ready == 2, 5)
        taken = pool.take()
        assert taken is starts[0]
        await until(lambda: pool.ready == 2, 5)
        assert len(starts) == 3
        tg.cancel_scope.cancel()
    await pool.aclose()
    assert all(s.closed for s in starts[1:]) and not starts[0].closed


async def test_a_failed_start_is_logged_and_tried_again_later(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(warm_module, "FAILED_START_PAUSE_S", 0.05)
    attempts = 0

    async def start() -> FakeSandbox:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise SandboxError("no bubblewrap today")
        if attempts == 2:
            raise OSError("an unexpected failure")
        return FakeSandbox()

    pool = WarmPool(1, start)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, "aioagb.server.sandbox"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(pool.run)
            await until(lambda: pool.ready == 1, 5)
            tg.cancel_scope.cancel()
    await pool.aclose()
    assert attempts == 3
    messages = [r.getMessage() for r in caplog.records]
    assert sum("no bubblewrap today" in m for m in messages) == 1
    assert sum("an unexpected failure" in m for m in messages) == 1


def test_the_refill_pauses_in_proportion_to_what_a_start_took() -> None:
    assert refill_pause(0.08, cpu_budget=0.5) == pytest.approx(0.08)
    assert refill_pause(0.08, cpu_budget=0.25) == pytest.approx(0.24)
    assert refill_pause(0.08, cpu_budget=1.0) == 0.0
    with pytest.raises(ValueError):
        WarmPool(1, lambda: None, cpu_budget=0)  # type: ignore[arg-type, return-value]


async def test_misses_grow_the_pool_up_to_its_ceiling_and_quiet_shrinks_it_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(warm_module, "HEALTH_INTERVAL_S", 0.01)
    now = 1000.0
    made: list[FakeSandbox] = []

    async def start() -> FakeSandbox:
        made.append(FakeSandbox())
        return made[-1]

    pool = WarmPool(1, start, max_size=3, clock=lambda: now)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.run)
        await until(lambda: pool.ready == 1, 5)
        taken = [pool.take() for _ in range(5)]  # one hit, then four misses
        assert taken[0] is made[0] and taken[1:] == [None] * 4
        assert (pool.misses, pool.target) == (4, 3)  # one more per miss, up to the ceiling
        await until(lambda: pool.ready == 3, 5)
        now += warm_module.SHRINK_AFTER_S - 1
        await anyio.sleep(0.05)
        assert pool.target == 3 and pool.ready == 3  # not yet quiet for long enough
        now += 2
        await until(lambda: pool.ready == 1, 5)
        assert pool.target == 1
        tg.cancel_scope.cancel()
    await pool.aclose()
    assert sum(s.closed for s in made) == len(made) - 1  # all but the one a session took
    with pytest.raises(ValueError):
        WarmPool(2, start, max_size=1)  # type: ignore[arg-type]


def test_the_ceiling_is_checked_against_the_floor_and_off_means_off() -> None:
    from aioagb.cli.agb_local import SERVE_WARM_SANDBOXES_MAX, _warm_ceiling
    from aioagb.server import ServerConfig

    with pytest.raises(ValueError, match="at least warm_sandboxes"):
        ServerConfig(warm_sandboxes=4, warm_sandboxes_max=2)
    assert ServerConfig(warm_sandboxes=2).warm_sandboxes_max is None  # fixed size
    assert _warm_ceiling(4, None) == SERVE_WARM_SANDBOXES_MAX
    assert _warm_ceiling(0, None) == 0  # --warm-sandboxes 0: no pool, and none grows
    assert _warm_ceiling(20, None) == 20 and _warm_ceiling(4, 2) == 4
