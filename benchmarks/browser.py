"""browser: the cold start of a browser session and its memory, with real sandboxes.

* cold start: `agb.session()` of an `agb-browser-use-*` image, `session.browser.initialize()`
  (Chromium starts in the sandbox), `get_endpoint_url()`, playwright's `connect_over_cdp`
  through AGB Local's relay, a new page, its content set and its title read: the time a user
  waits from nothing to a page they can drive, timed at the client, median of `repeats`
  (each a new session);
* memory: the session's memory as its cgroup counts it (`get_metrics().mem_used`: Chromium,
  its page, the agent) with the browser and that one page open, against the browser
  session's cap (`SandboxLimits.browser_memory_bytes`).
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from aioagb import AsyncAGB, BrowserOption, CreateSessionParams

from ._server import ServerProcess
from ._stats import median

IMAGE = "agb-browser-use-1"
PAGE = "<title>benchmark</title><h1>a page</h1>"


async def _cold_start(agb: AsyncAGB) -> tuple[float, float, int, int]:
    """(create -> title seconds, of which initialize, session memory, its cap) once."""
    from playwright.async_api import async_playwright

    started = time.perf_counter()
    async with agb.session(CreateSessionParams(image_id=IMAGE)) as session:
        before_init = time.perf_counter()
        if not await session.browser.initialize(BrowserOption()):
            raise RuntimeError("the browser did not start (is chromium installed?)")
        init_s = time.perf_counter() - before_init
        async with async_playwright() as playwright:
            browser = await playwright.chromium.connect_over_cdp(
                await session.browser.get_endpoint_url()
            )
            page = await browser.contexts[0].new_page()
            await page.set_content(PAGE)
            if await page.title() != "benchmark":
                raise RuntimeError("the page's title did not come back")
            elapsed = time.perf_counter() - started
            metrics = (await session.get_metrics()).metrics
            await browser.close()
    if metrics is None:
        raise RuntimeError("get_metrics failed")
    return elapsed, init_s, metrics.mem_used, metrics.mem_total


async def _run(server: ServerProcess, repeats: int) -> dict[str, Any]:
    async with AsyncAGB(server.api_key, endpoint=server.endpoint, timeout=120) as agb:
        await _cold_start(agb)  # warm the page cache: Chromium's 200 MB come from disk once
        runs = [await _cold_start(agb) for _ in range(repeats)]
    return {
        "repeats": repeats,
        "cold_start_s": median([r[0] for r in runs]),
        "initialize_s": median([r[1] for r in runs]),
        "session_memory_bytes": median([float(r[2]) for r in runs]),
        "memory_cap_bytes": runs[0][3],
    }


def run(server: ServerProcess, repeats: int) -> dict[str, Any]:
    """`server` must use the real sandbox backend and no injected latency."""
    result: dict[str, Any] = anyio.run(_run, server, repeats)
    return result
