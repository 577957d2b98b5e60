"""Issue 6 point 6: load. 1,000 live sessions on one AGB Local, 100 concurrent clients running
code and writing files: no errors, and the server's memory stays bounded (printed).

The server runs as its own process (`python -m aioagb.server`, bubblewrap), so its resident
memory is measured alone; the sandboxes are separate processes and are measured apart.

What "live" costs: a created session is a directory and a registry entry (no process); its
sandbox (agent + python kernel) starts at its first call. All 1,000 sessions are created and
held; the 100 clients each run code and write files in their own session (100 running
sandboxes) and also touch the idle ones (status, labels, keep-alive), which start nothing.
Running a sandbox in every one of the 1,000 sessions would need about 1,000 x 30 MB of RAM
and, on 2 cores, minutes of start-up; the test prints that estimate from what it measured.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from _support.security import serve_process
from aioagb import AsyncAGB, AsyncSession, CreateSessionParams, RetryPolicy

pytestmark = [pytest.mark.load, pytest.mark.timeout(300)]

SESSIONS = 1000
CLIENTS = 100
ROUNDS = 5
KEY = "load-test-key-0123456789abcdef"
RETRIES = RetryPolicy(attempts=3, wait_initial=0.05, wait_max=0.5)


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _memory(pid: int) -> tuple[float, float]:
    """(server RSS, all its sandboxes' RSS) in MiB."""
    sandboxes = sum(_rss_kib(child) for child in _descendants(pid))
    return _rss_kib(pid) / 1024, sandboxes / 1024


@pytest.fixture
async def server() -> AsyncIterator[tuple[Process, str]]:
    flags = ("--backend", "bwrap", "--memory-mb", "256", "--idle-timeout", "600")
    async with serve_process(KEY, *flags, "--log-level", "WARNING") as started:
        yield started


async def test_1000_live_sessions_and_100_concurrent_clients(
    server: tuple[Process, str], capsys: pytest.CaptureFixture[str]
) -> None:
    process, endpoint = server
    started = time.monotonic()
    empty_rss, _ = await anyio.to_thread.run_sync(_memory, process.pid)
    params = CreateSessionParams(image_id="agb-code-space-2", labels={"load": "yes"})
    async with AsyncAGB(KEY, endpoint=endpoint, retry=RETRIES, timeout=120) as admin:
        batch = await admin.create_many(params, SESSIONS, concurrency=50)
        sessions = list(batch.sessions)
        created_in = time.monotonic() - started
        idle_rss, _ = await anyio.to_thread.run_sync(_memory, process.pid)
        listed = [s async for s in admin.iter_sessions({"load": "yes"}, page_size=100)]
        assert len(listed) == SESSIONS

        errors: list[str] = []
        latencies: list[float] = []

        async def client(index: int) -> None:
            own = sessions[index]
            idle = sessions[CLIENTS + index :: CLIENTS]  # 9 sessions nobody runs code in
            async with AsyncAGB(KEY, endpoint=endpoint, retry=RETRIES, timeout=120) as agb:
                mine = AsyncSession(agb, own.session_id)
                for n in range(ROUNDS):
                    t0 = time.monotonic()
                    ran = await mine.code.run(f"total = {index} * {n}\nprint(total)", "python")
                    if not (ran.success and ran.logs.stdout == [f"{index * n}\n"]):
                        errors.append(f"run_code {index}/{n}: {ran.error_message}")
                    path = f"/workspace/client-{index}/round-{n}.txt"
                    wrote = await mine.file.write(path, f"{index}:{n}\n" * 100)
                    if not wrote.success:
                        errors.append(f"write {index}/{n}: {wrote.error_message}")
                    latencies.append(time.monotonic() - t0)
                for other in idle:
                    status = await AsyncSession(agb, other.session_id).get_status()
                    alive = await AsyncSession(agb, other.session_id).keep_alive()
                    if not (status.success and status.status == "RUNNING" and alive.success):
                        errors.append(f"idle {other.session_id}: {status.error_message}")
                read = await mine.file.read(f"/workspace/client-{index}/round-0.txt")
                if read.content != f"{index}:0\n" * 100:
                    errors.append(f"read back {index}: {read.error_message}")

        work_started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for index in range(CLIENTS):
                tg.start_soon(client, index)
        worked_in = time.monotonic() - work_started
        busy_rss, sandboxes_rss = await anyio.to_thread.run_sync(_memory, process.pid)

        deleting = time.monotonic()
        deleted = await admin.delete_sessions(sessions, concurrency=50)
        deleted_in = time.monotonic() - deleting
        assert deleted == 0  # no failures
        after_rss, _ = await anyio.to_thread.run_sync(_memory, process.pid)

    per_sandbox = sandboxes_rss / CLIENTS
    latencies.sort()
    report = (
        f"\nload: {SESSIONS} sessions created in {created_in:.1f} s; {CLIENTS} clients x "
        f"{ROUNDS} rounds (run_code + write) in {worked_in:.1f} s, round p50 "
        f"{latencies[len(latencies) // 2]:.3f} s p99 {latencies[int(len(latencies) * 0.99)]:.3f}"
        f" s; deleted in {deleted_in:.1f} s\n"
        f"server RSS: empty {empty_rss:.0f} MiB, {SESSIONS} idle sessions {idle_rss:.0f} MiB, "
        f"busy {busy_rss:.0f} MiB, after delete {after_rss:.0f} MiB; "
        f"{CLIENTS} running sandboxes {sandboxes_rss:.0f} MiB ({per_sandbox:.0f} MiB each; "
        f"all {SESSIONS} running would need ~{per_sandbox * SESSIONS / 1024:.1f} GiB)"
    )
    with capsys.disabled():  # the report is part of the result: shown in every run
        print(report)
    assert not errors, errors[:10]
    assert len(latencies) == CLIENTS * ROUNDS
    # Bounded: the server's own memory for 1,000 sessions and 100 busy clients stays small
    # (sandboxes are separate processes with their own cgroup caps).
    assert busy_rss - empty_rss < 150, report
    assert per_sandbox < 256, report  # each under its --memory-mb cap
