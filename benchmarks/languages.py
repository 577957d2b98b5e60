"""languages: each language of the code space, on AGB Local with real sandboxes.

For python, javascript, java and r: the *first* call of a fresh session (`sessions` of
them, each created, run once and deleted: the interpreter or JVM starts in that call), then
`calls` warm calls of a trivial snippet in one session, one after another, timed at the
client. A language whose runtime is not installed here is reported as missing.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from aioagb import AsyncAGB, CreateSessionParams

from ._server import ServerProcess
from ._stats import median, percentile

IMAGE = "agb-code-space-2"
SNIPPETS = {
    "python": ("1 + 1", "2"),
    "javascript": ("1 + 1", "2"),
    "java": ("System.out.println(1 + 1);", "2"),
    "r": ("cat(1 + 1)", "2"),
}


async def _timed(session: Any, language: str) -> float:
    code, expected = SNIPPETS[language]
    started = time.perf_counter()
    result = await session.code.run(code, language, timeout_s=120)
    elapsed = time.perf_counter() - started
    if not result.success or expected not in result.result:
        raise RuntimeError(f"{language}: {result.error_message or result!r}")
    return elapsed


async def _language(agb: AsyncAGB, language: str, sessions: int, calls: int) -> dict[str, Any]:
    params = CreateSessionParams(image_id=IMAGE)
    firsts = []
    for _ in range(sessions):
        async with agb.session(params) as session:
            firsts.append(await _timed(session, language))
    async with agb.session(params) as session:
        await _timed(session, language)
        warm = [await _timed(session, language) for _ in range(calls)]
    return {
        "first_p50_s": median(firsts),
        "first_p99_s": percentile(firsts, 99),
        "warm_p50_s": median(warm),
        "warm_p99_s": percentile(warm, 99),
        "sessions": sessions,
        "calls": calls,
    }


async def _run(server: ServerProcess, sessions: int, calls: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with AsyncAGB(server.api_key, endpoint=server.endpoint) as agb:
        async with agb.session(CreateSessionParams(image_id=IMAGE)) as probe:
            tools = await probe.list_mcp_tools()
        offered = next(t for t in tools.tools if t.name == "run_code")
        properties: Any = offered.input_schema.get("properties", {})
        languages = properties.get("language", {}).get("enum")
        for language in SNIPPETS:
            if isinstance(languages, list) and language not in languages:
                out[language] = None  # its runtime is not installed here
                continue
            out[language] = await _language(agb, language, sessions, calls)
    return out


def run(server: ServerProcess, sessions: int, calls: int) -> dict[str, Any]:
    """`server` must use the real sandbox backend and no injected latency."""
    result: dict[str, Any] = anyio.run(_run, server, sessions, calls)
    return result
