"""batch: N sessions, each created, given one `run_code` and deleted, at concurrency C.

(a) aioagb: `agb.sessions(params, count=N, concurrency=C)`, then one `code.run` per session
    under a `CapacityLimiter(C)`, then the concurrent delete on leaving the block;
(a') aioagb pipelined: `agb.map_sessions(fn, range(N), params, concurrency=C)`, each task
    its own session's create, `code.run` and delete in turn (as the threads of (c) do);
(b) the official `agbcloud-sdk`, one session after another, on a smaller N, scaled to N;
(c) the official SDK in a `ThreadPoolExecutor(threads)`, on N;
(d) the physical limit: ceil(N / C) rounds of create + tool call + release latency.

All of them talk to the same AGB Local (its own process) with the same injected latency.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

from aioagb import AsyncAGB, AsyncSession, CreateSessionParams
from aioagb import _protocol as p

from ._server import Latency, ServerProcess

IMAGE = "agb-code-space-2"
SNIPPET = "1 + 1"


def physical_limit_s(count: int, concurrency: int, latency: Latency) -> float:
    return math.ceil(count / concurrency) * latency.per_session_s


# --- (a) aioagb ------------------------------------------------------------------------------


async def _aioagb_batch(server: ServerProcess, count: int, concurrency: int) -> float:
    params = CreateSessionParams(image_id=IMAGE, labels={"bench": "batch"})
    limiter = anyio.CapacityLimiter(concurrency)

    async def run_one(session: AsyncSession) -> None:
        async with limiter:
            result = await session.code.run(SNIPPET, "python")
        if not result.success:
            raise RuntimeError(f"run_code failed: {result.error_message}")

    async with AsyncAGB(server.api_key, endpoint=server.endpoint) as agb:
        started = time.perf_counter()
        async with (
            agb.sessions(params, count=count, concurrency=concurrency) as sessions,
            anyio.create_task_group() as tg,
        ):
            for session in sessions:
                tg.start_soon(run_one, session)
        return time.perf_counter() - started


def aioagb_batch(server: ServerProcess, count: int, concurrency: int) -> float:
    seconds: float = anyio.run(_aioagb_batch, server, count, concurrency)
    return seconds


async def _aioagb_pipelined(server: ServerProcess, count: int, concurrency: int) -> float:
    params = CreateSessionParams(image_id=IMAGE, labels={"bench": "batch"})

    async def one(session: AsyncSession, _index: int) -> None:
        result = await session.code.run(SNIPPET, "python")
        if not result.success:
            raise RuntimeError(f"run_code failed: {result.error_message}")

    async with AsyncAGB(server.api_key, endpoint=server.endpoint) as agb:
        started = time.perf_counter()
        await agb.map_sessions(one, range(count), params, concurrency=concurrency)
        return time.perf_counter() - started


def aioagb_pipelined(server: ServerProcess, count: int, concurrency: int) -> float:
    seconds: float = anyio.run(_aioagb_pipelined, server, count, concurrency)
    return seconds


# --- (b), (c) the official SDK ----------------------------------------------------------------


def _official_client(server: ServerProcess) -> Any:
    # The official client reads its endpoint from the environment, as its users set it.
    os.environ[p.ENV_ENDPOINT] = server.endpoint
    os.environ.pop(p.ENV_TIMEOUT_MS, None)
    from agb import AGB  # type: ignore[import-untyped]
    from agb.logger import AGBLogger  # type: ignore[import-untyped]

    AGBLogger.set_level("CRITICAL")  # it logs every "not found" of its delete poll as an error
    return AGB(api_key=server.api_key)


def _official_one(agb: Any) -> None:
    from agb.session_params import (  # type: ignore[import-untyped]
        CreateSessionParams as OfficialParams,
    )

    created = agb.create(OfficialParams(image_id=IMAGE, labels={"bench": "batch"}))
    if not created.success:
        raise RuntimeError(f"official create failed: {created.error_message}")
    session = created.session
    try:
        result = session.code.run(SNIPPET, "python")
        if not result.success:
            raise RuntimeError(f"official run_code failed: {result.error_message}")
    finally:
        deleted = session.delete()
        if not deleted.success:
            raise RuntimeError(f"official delete failed: {deleted.error_message}")


def official_sequential(server: ServerProcess, count: int) -> float:
    agb = _official_client(server)
    started = time.perf_counter()
    for _ in range(count):
        _official_one(agb)
    return time.perf_counter() - started


def official_threads(server: ServerProcess, count: int, threads: int) -> float:
    agb = _official_client(server)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(_official_one, agb) for _ in range(count)]:
            future.result()
    return time.perf_counter() - started
