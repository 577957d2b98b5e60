"""overhead: the same `get_labels` request through aioagb and through raw aiohttp.

No injected latency and one request at a time, so the difference is the SDK's own work per
call: building the request, the retry loop, hooks, decoding the envelope into a result. The
two clients alternate in rounds (20 by default) so that noise from the shared machine falls on
both, and the result is the median of the ratios of neighbouring rounds.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import anyio

from aioagb import AsyncAGB, CreateSessionParams
from aioagb import _protocol as p

from ._server import ServerProcess
from ._stats import median

IMAGE = "agb-code-space-2"


async def _aioagb_round(session: Any, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        result = await session.get_labels()
        if not result.success:
            raise RuntimeError(f"get_labels failed: {result.error_message}")
    return (time.perf_counter() - started) / calls


async def _raw_round(
    http: aiohttp.ClientSession, url: str, session_id: str, headers: dict[str, str], calls: int
) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        # As one would write it by hand: the query from `params`, the reply's JSON decoded.
        params = {p.Q_SESSION_ID: session_id}
        async with http.get(url, params=params, headers=headers) as response:
            body = json.loads(await response.read())
        if response.status != 200 or not body.get("success"):
            raise RuntimeError(f"raw get_labels failed: {response.status} {body}")
        json.loads(body["data"]["labels"])  # JSON text inside the JSON, as the SDK decodes it
    return (time.perf_counter() - started) / calls


async def _run(server: ServerProcess, calls: int, rounds: int) -> dict[str, Any]:
    per_round = max(1, calls // rounds)
    sdk: list[float] = []
    raw: list[float] = []
    async with AsyncAGB(server.api_key, endpoint=server.endpoint) as agb:
        params = CreateSessionParams(image_id=IMAGE, labels={"bench": "overhead"})
        async with agb.session(params) as session, aiohttp.ClientSession() as http:
            url = agb.config.endpoint + p.PATH_GET_LABELS
            # The same bytes on the wire as the client sends (its engine holds the headers).
            sid, headers = session.session_id, dict(agb.lifecycle.engine._headers)
            await _aioagb_round(session, 20)  # warm both connections up
            await _raw_round(http, url, sid, headers, 20)
            for _ in range(rounds):
                sdk.append(await _aioagb_round(session, per_round))
                raw.append(await _raw_round(http, url, sid, headers, per_round))
    sdk_s, raw_s = median(sdk), median(raw)
    # Each aioagb round is compared with the raw round right after it, under the same load
    # from whatever else runs on the machine; the median of those ratios is the result.
    ratios = [s / r for s, r in zip(sdk, raw, strict=True)]
    return {
        "calls": per_round * rounds,
        "rounds": rounds,
        "aioagb_per_call_s": sdk_s,
        "raw_aiohttp_per_call_s": raw_s,
        "aioagb_rounds_s": sdk,
        "raw_rounds_s": raw,
        "round_ratios": ratios,
        "ratio": median(ratios),
    }


def run(server: ServerProcess, calls: int, rounds: int = 20) -> dict[str, Any]:
    """`server` must run without injected latency."""
    result: dict[str, Any] = anyio.run(_run, server, calls, rounds)
    return result
