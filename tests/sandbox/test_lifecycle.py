"""Lazy start, close, restart after a hung agent, clean-up of leftovers, cost of idle sessions."""

from __future__ import annotations

import contextlib
import os
import signal
import tracemalloc
from pathlib import Path

import anyio
import pytest

from aioagb.server.sandbox import (
    LocalBackend,
    LocalSandbox,
    SandboxError,
    SandboxLimits,
    make_backend,
    uids,
)
from aioagb.server.sandbox import backend as sandbox_backend


def _pids_of(uid: int) -> list[int]:
    """Live (non-zombie) processes of a uid; orphaned zombies wait for the host's init.

    Scoped, though it reads /proc: session uids come from a block this backend leased
    (`uids.UidLease`), so no process of anything else on the host can have one."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid and not uids.is_zombie(entry.name):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def _zombie_children() -> list[int]:
    """This test process's children that died unreaped (its own children only)."""
    children: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            children += [int(pid) for pid in (task / "children").read_text().split()]
    return [pid for pid in children if _is_zombie_pid(pid)]


def _is_zombie_pid(pid: int) -> bool:
    try:
        return uids.is_zombie(str(pid))
    except OSError:
        return False  # reaped meanwhile


def _parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])


def _agent_pid(sandbox: LocalSandbox) -> int:
    """The agent's host pid (under bubblewrap it is a grandchild of the server): the agent's
    command line whose parent's is not (the zygote and its kernels are forks of the agent)."""
    assert sandbox.uid is not None
    agents = set()
    for pid in _pids_of(sandbox.uid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"aioagb_agent" in cmd and b"--kernel" not in cmd:
            agents.add(pid)
    for pid in agents:
        with contextlib.suppress(OSError):
            if _parent_pid(pid) not in agents:
                return pid
    raise AssertionError("no agent process")


async def test_create_is_lazy_and_cheap(backend: LocalBackend) -> None:
    sandbox = await backend.create("lazy")
    assert not sandbox.started
    assert not sandbox.dir.exists()  # no disk work until the session is used
    if sandbox.uid is not None:
        assert _pids_of(sandbox.uid) == []
    await sandbox.shell("true", 10)
    assert sandbox.started
    assert (sandbox.dir / "workspace").is_dir() and (sandbox.dir / "tmp").is_dir()
    if sandbox.uid is not None:
        assert os.stat(sandbox.dir / "workspace").st_uid == sandbox.uid
    with pytest.raises(SandboxError):
        await backend.create("lazy")  # one sandbox per session id
    with pytest.raises(SandboxError):
        await backend.create("../escape")


async def test_aclose_kills_every_process_and_removes_the_files(backend: LocalBackend) -> None:
    sandbox = await backend.create("closing")
    await sandbox.run_code("x = 1", "python", 10)
    out = await sandbox.shell("setsid nohup sleep 1000 > /dev/null 2>&1 & echo ok", 10)
    assert out.stdout == "ok\n"
    if sandbox.uid is not None:
        assert len(_pids_of(sandbox.uid)) >= 3  # agent, kernel, the escaped sleep
    await sandbox.aclose()
    assert not sandbox.dir.exists()
    if sandbox.uid is not None:
        assert _pids_of(sandbox.uid) == []
    await sandbox.aclose()  # idempotent
    with pytest.raises(SandboxError):
        await sandbox.shell("true", 10)
    assert "closing" not in backend.sandboxes
    assert _zombie_children() == []


async def test_backend_aclose_ends_every_sandbox(
    root: Path, mode: str, limits: SandboxLimits
) -> None:
    backend = make_backend(root, limits, prefer=mode)
    boxes = [await backend.create(f"all-{i}") for i in range(4)]
    async with anyio.create_task_group() as tg:
        for box in boxes[:3]:
            tg.start_soon(box.shell, "sleep 1000 > /dev/null 2>&1 &", 10)
    await backend.aclose()
    for box in boxes:
        assert not box.dir.exists()
        if box.uid is not None:
            assert _pids_of(box.uid) == []
    assert list((root / "sessions").iterdir()) == []
    with pytest.raises(SandboxError):
        await backend.create("late")
    assert _zombie_children() == []


async def test_leftovers_of_a_previous_run_are_removed(root: Path, limits: SandboxLimits) -> None:
    old = root / "sessions" / "old-session" / "workspace"
    old.mkdir(parents=True)
    (old / "file.txt").write_text("left behind")
    os.chmod(old, 0o500)  # even a read-only tree goes
    backend = make_backend(root, limits, prefer="bwrap")
    try:
        assert list((root / "sessions").iterdir()) == []
    finally:
        await backend.aclose()


async def test_hung_agent_is_killed_and_replaced(
    bwrap_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = await bwrap_backend.create("hung")
    await sandbox.run_code("x = 1", "python", 10)
    if sandbox.uid is None:
        pytest.skip("sessions have no uid of their own (not root): the agent cannot be found")
    os.kill(_agent_pid(sandbox), signal.SIGSTOP)
    monkeypatch.setattr(sandbox_backend, "GRACE_S", 0.5)
    with pytest.raises(SandboxError, match="stopped responding"):
        await sandbox.shell("echo hi", 0.5)
    out = await sandbox.shell("echo back", 5)
    assert out.stdout == "back\n"
    lost = await sandbox.run_code("'x' in globals()", "python", 5)
    assert lost.results[0]["text/plain"] == "False"


async def test_dead_agent_is_restarted_on_the_next_call(bsandbox: LocalSandbox) -> None:
    await bsandbox.shell("true", 10)
    if bsandbox.uid is None:
        pytest.skip("sessions have no uid of their own (not root): the agent cannot be found")
    os.kill(_agent_pid(bsandbox), signal.SIGKILL)
    agent = bsandbox._agent
    assert agent is not None
    with anyio.fail_after(5):
        await agent.process.wait()
    assert not bsandbox.started
    assert (await bsandbox.shell("echo again", 10)).stdout == "again\n"


async def test_three_hundred_concurrent_creates_and_deletes_leave_nothing(
    root: Path, limits: SandboxLimits
) -> None:
    """Cheap create and delete, concurrently (their rate is measured by the benchmarks):
    every one succeeds and no directory is left."""
    backend = make_backend(root, limits, prefer="bwrap")
    try:
        async with anyio.create_task_group() as tg:
            for i in range(300):

                async def cycle(i: int = i) -> None:
                    box = await backend.create(f"fast-{i}")
                    await box.aclose()

                tg.start_soon(cycle)
        assert backend.sandboxes == {}
        assert list((root / "sessions").iterdir()) == []
    finally:
        await backend.aclose()


async def test_a_thousand_idle_sessions_cost_no_processes_and_little_memory(
    root: Path, limits: SandboxLimits
) -> None:
    backend = make_backend(root, limits, prefer="bwrap")
    try:
        tracemalloc.start()
        try:
            boxes = [await backend.create(f"idle-{i}") for i in range(1000)]
            current, _peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert current < 5 * 1024 * 1024, f"{current / 1000:.0f} bytes per idle session"
        assert not any(box.started for box in boxes)
        if boxes[0].uid is not None:
            assert all(_pids_of(box.uid) == [] for box in boxes[::100] if box.uid is not None)
            assert len({box.uid for box in boxes}) == 1000
    finally:
        await backend.aclose()
    assert list((root / "sessions").iterdir()) == []


async def test_two_backends_never_share_session_uids(
    root: Path, limits: SandboxLimits, tmp_path: Path
) -> None:
    first = make_backend(root, limits, prefer="bwrap")
    second = make_backend(tmp_path / "second", limits, prefer="bwrap")
    try:
        a = await first.create("same-id")
        b = await second.create("same-id")
        assert a.uid is None or a.uid != b.uid
        await a.shell("true", 10)
        await b.shell("true", 10)
        await a.aclose()  # kills a's uid's processes only
        assert (await b.shell("echo still", 10)).stdout == "still\n"
    finally:
        await first.aclose()
        await second.aclose()
