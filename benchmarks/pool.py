"""pool: the time to get a session from a warm `SessionPool` versus a fresh create.

Against the injected latency: a fresh `agb.session()` pays the create latency; a warm pool
hands out an idle session it already holds (no request unless a health check is due).
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from aioagb import AsyncAGB, CreateSessionParams, SessionPool

from ._server import ServerProcess
from ._stats import median

IMAGE = "agb-code-space-2"


async def _run(server: ServerProcess, gets: int) -> dict[str, Any]:
    params = CreateSessionParams(image_id=IMAGE, labels={"bench": "pool"})
    fresh: list[float] = []
    pooled: list[float] = []
    async with AsyncAGB(server.api_key, endpoint=server.endpoint) as agb:
        for _ in range(max(3, gets // 10)):
            started = time.perf_counter()
            session = await agb.open_session(params)
            fresh.append(time.perf_counter() - started)
            await session.aclose()
        async with SessionPool(agb, params, min_size=4, max_size=8) as pool:
            for _ in range(gets):
                started = time.perf_counter()
                async with pool.session():
                    pooled.append(time.perf_counter() - started)
    return {
        "fresh_create_s": median(fresh),
        "pool_get_s": median(pooled),
        "fresh_samples_s": fresh,
        "pool_samples_s": pooled,
        "ratio": median(fresh) / median(pooled),
    }


def run(server: ServerProcess, gets: int) -> dict[str, Any]:
    result: dict[str, Any] = anyio.run(_run, server, gets)
    return result
