"""server: AGB Local itself, with real sandboxes and no injected latency.

* create+delete per second: `concurrency` workers, each opening and closing sessions
  (`agb.session()`: create, then release and the status poll) until `count` are done;
* warm `run_code`: one session, its python kernel started, then `calls` runs of a trivial
  snippet one after another, timed at the client (HTTP included);
* memory: the server process's resident memory (VmRSS) before and after `idle` sessions are
  created and left idle; the sandboxes' own processes (none until a session runs something)
  are counted separately.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from aioagb import AsyncAGB, CreateSessionParams

from ._procs import children_rss
from ._server import ServerProcess
from ._stats import median, percentile

IMAGE = "agb-code-space-2"
MIB = 1024 * 1024


async def _create_delete_rate(agb: AsyncAGB, count: int, concurrency: int) -> dict[str, Any]:
    params = CreateSessionParams(image_id=IMAGE)
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with agb.session(params):
                pass

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    elapsed = time.perf_counter() - started
    return {
        "sessions": count,
        "concurrency": concurrency,
        "seconds": elapsed,
        "per_second": count / elapsed,
    }


async def _warm_run_code(agb: AsyncAGB, calls: int) -> dict[str, Any]:
    params = CreateSessionParams(image_id=IMAGE)
    async with agb.session(params) as session:
        started = time.perf_counter()
        first = await session.code.run("1 + 1", "python")
        cold_s = time.perf_counter() - started
        if not first.success:
            raise RuntimeError(f"run_code failed: {first.error_message}")
        for _ in range(5):
            await session.code.run("1 + 1", "python")
        latencies = []
        for _ in range(calls):
            started = time.perf_counter()
            result = await session.code.run("1 + 1", "python")
            latencies.append(time.perf_counter() - started)
            if result.result != "2":
                raise RuntimeError(f"unexpected run_code result: {result!r}")
    return {
        "calls": calls,
        "cold_first_call_s": cold_s,
        "p50_s": median(latencies),
        "p99_s": percentile(latencies, 99),
        "latencies_s": latencies,
    }


async def _idle_memory(agb: AsyncAGB, server: ServerProcess, idle: int) -> dict[str, Any]:
    params = CreateSessionParams(image_id=IMAGE, labels={"bench": "idle"})
    before = server.rss_bytes()
    async with agb.sessions(params, count=idle, concurrency=64):
        await anyio.sleep(1.0)  # let the server settle (reaper tick, freed buffers)
        during = server.rss_bytes()
        sandboxes = children_rss(server.pid)
    return {
        "sessions": idle,
        "rss_before_mib": before / MIB,
        "rss_mib": during / MIB,
        "rss_per_session_kib": (during - before) / idle / 1024,
        "sandbox_processes_rss_mib": sandboxes / MIB,
    }


async def _run(
    server: ServerProcess, count: int, concurrency: int, calls: int, idle: int
) -> dict[str, Any]:
    async with AsyncAGB(server.api_key, endpoint=server.endpoint) as agb:
        await _create_delete_rate(agb, min(count, 20), concurrency)  # warm-up
        return {
            "create_delete": await _create_delete_rate(agb, count, concurrency),
            "warm_run_code": await _warm_run_code(agb, calls),
            "idle_memory": await _idle_memory(agb, server, idle),
        }


def idle_sessions(server: ServerProcess, idle: int) -> dict[str, Any]:
    """The server's RSS with `idle` sessions (on any server: with a warm pool too)."""

    async def run() -> dict[str, Any]:
        async with AsyncAGB(server.api_key, endpoint=server.endpoint) as agb:
            return await _idle_memory(agb, server, idle)

    result: dict[str, Any] = anyio.run(run)
    return result


def run(
    server: ServerProcess, count: int, concurrency: int, calls: int, idle: int
) -> dict[str, Any]:
    """`server` must use the real sandbox backend and no injected latency."""
    result: dict[str, Any] = anyio.run(_run, server, count, concurrency, calls, idle)
    return result
