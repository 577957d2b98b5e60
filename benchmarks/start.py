"""start: how soon a session's sandbox is ready, with and without warm sandboxes (issue 14).

Against AGB Local with real sandboxes and no injected latency, timed at the client (HTTP
included):

* first call: sessions one after another, each created, given its first python `run_code`
  (`1 + 1`) and deleted, with a pause between them in which a warm pool refills; the time
  from the create's request to the run's answer;
* burst: `count` sessions at once, each created, given its first `run_code` and deleted;
  sessions per second over the whole burst, which starts with the server's pool full;
* idle memory: the processes of each started, idle sandbox (bwrap, its child, the agent and
  the kernel), summed per sandbox from /proc/PID/smaps_rollup: RSS, PSS (shared pages
  counted proportionally) and USS (private pages), averaged over the sandboxes.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from aioagb import AsyncAGB, AsyncSession, CreateSessionParams

from . import _procs
from ._server import ServerProcess
from ._stats import median, percentile

IMAGE = "agb-code-space-2"
SNIPPET = "1 + 1"
MIB = 1024 * 1024


async def _first_run(session: AsyncSession) -> None:
    result = await session.code.run(SNIPPET, "python")
    if result.result != "2":
        raise RuntimeError(f"unexpected run_code result: {result!r}")


async def _first_calls(agb: AsyncAGB, count: int, pause_s: float) -> dict[str, Any]:
    params = CreateSessionParams(image_id=IMAGE, labels={"bench": "start"})
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        async with agb.session(params) as session:
            await _first_run(session)
            latencies.append(time.perf_counter() - started)
        await anyio.sleep(pause_s)
    return {
        "sessions": count,
        "pause_s": pause_s,
        "p50_s": median(latencies),
        "p99_s": percentile(latencies, 99),
        "latencies_s": latencies,
    }


async def _burst(agb: AsyncAGB, count: int) -> dict[str, Any]:
    params = CreateSessionParams(image_id=IMAGE, labels={"bench": "burst"})

    async def one() -> None:
        async with agb.session(params) as session:
            await _first_run(session)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(one)
    elapsed = time.perf_counter() - started
    return {"sessions": count, "seconds": elapsed, "per_second": count / elapsed}


def idle_memory(server: ServerProcess) -> dict[str, Any]:
    """The mean memory of the server's started sandboxes (call it when all are idle)."""
    figures = [_procs.sandbox_memory(procs) for procs in _procs.started(server.pid)]
    if not figures:
        raise RuntimeError("no started sandbox to measure")
    n = len(figures)
    return {
        "sandboxes": n,
        "processes_per_sandbox": median([m.processes for m in figures]),
        "rss_mib": sum(m.rss for m in figures) / n / MIB,
        "pss_mib": sum(m.pss for m in figures) / n / MIB,
        "uss_mib": sum(m.uss for m in figures) / n / MIB,
    }


async def _started_sessions_memory(agb: AsyncAGB, server: ServerProcess, count: int) -> Any:
    """`count` sessions, each started by its first call and then idle: their sandboxes'
    memory (on a server without a warm pool, they are its only sandboxes)."""
    params = CreateSessionParams(image_id=IMAGE, labels={"bench": "idle-started"})
    async with agb.sessions(params, count=count, concurrency=count) as sessions:
        for session in sessions:
            await _first_run(session)
        await anyio.sleep(1.0)  # the kernels settle after their first cell
        return idle_memory(server)


def _client(server: ServerProcess) -> AsyncAGB:
    return AsyncAGB(server.api_key, endpoint=server.endpoint)


async def _warmed_up(agb: AsyncAGB) -> None:
    # One unmeasured session: the client's imports and first connection, the server's routes.
    async with agb.session(CreateSessionParams(image_id=IMAGE)) as session:
        await _first_run(session)


def first_calls(server: ServerProcess, count: int, pause_s: float, pool: int) -> dict[str, Any]:
    """The first-call figure; with `pool` warm sandboxes, waits until the pool is full first
    (and again after the warm-up session took one)."""

    async def run() -> dict[str, Any]:
        async with _client(server) as agb:
            await _warmed_up(agb)
            refill_s = await anyio.to_thread.run_sync(_procs.wait_for_started, server.pid, pool)
            out = await _first_calls(agb, count, pause_s)
            out["pool"] = pool
            out["pool_refill_after_one_s"] = refill_s
            return out

    result: dict[str, Any] = anyio.run(run)
    return result


def burst(server: ServerProcess, count: int, pool: int) -> dict[str, Any]:
    """The burst figure, starting with the server's pool (`pool` sandboxes) full."""

    async def run() -> dict[str, Any]:
        async with _client(server) as agb:
            await _warmed_up(agb)
            fill_s = await anyio.to_thread.run_sync(_procs.wait_for_started, server.pid, pool)
            out = await _burst(agb, count)
            out["pool"] = pool
            out["pool_fill_s"] = fill_s
            return out

    result: dict[str, Any] = anyio.run(run)
    return result


def started_sessions_memory(server: ServerProcess, count: int) -> dict[str, Any]:
    """`server` must have no warm pool (its sandboxes are then the sessions')."""

    async def run() -> dict[str, Any]:
        async with _client(server) as agb:
            result: dict[str, Any] = await _started_sessions_memory(agb, server, count)
            return result

    result: dict[str, Any] = anyio.run(run)
    return result
