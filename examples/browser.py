"""A browser session: a headless Chromium in the sandbox, driven by playwright over CDP.

A web page is served inside the session (python's http.server, started with a shell
command), the session's browser opens it, reads its title and takes a screenshot; the same
server is also reached from here through a link. The browser's cookies are kept in a
context, so the second session finds the cookie the first one set.

Needs playwright (`pip install 'aioagb[browser]'`, no `playwright install`: it drives the
session's Chromium) and, for AGB Local, Chromium (`apt-get install chromium`).

    python examples/browser.py
"""

import asyncio
import time

import aiohttp
from playwright.async_api import async_playwright

from aioagb import (
    AsyncAGB,
    AsyncSession,
    BrowserContext,
    BrowserOption,
    BrowserViewport,
    CreateSessionParams,
)

PAGE = "<html><head><title>Hello from the sandbox</title></head><body><h1>hi</h1></body></html>"


async def serve_a_page(session: AsyncSession) -> None:
    """Starts a web server inside the session on port 8080 and waits until it listens."""
    await session.file.write("/tmp/site/index.html", PAGE)
    # In the background, its output redirected: it outlives the shell command.
    start = "cd /tmp/site && nohup python3 -m http.server 8080 > /tmp/http.log 2>&1 &"
    await session.command.execute(start, timeout_ms=5000)
    probe = "python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8080))\""
    for _ in range(100):
        if (await session.command.execute(probe, timeout_ms=5000)).exit_code == 0:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the web server in the session did not start")


async def main() -> None:
    async with AsyncAGB.local() as agb, async_playwright() as playwright:
        profile = (await agb.context.get(f"browser-example-{time.time_ns()}", create=True)).context
        assert profile is not None
        params = CreateSessionParams(
            image_id="agb-browser-use-1", browser_context=BrowserContext(profile.id)
        )

        async with agb.session(params) as session:
            await serve_a_page(session)
            assert await session.browser.initialize(
                BrowserOption(viewport=BrowserViewport(1280, 720))
            )
            browser = await playwright.chromium.connect_over_cdp(
                await session.browser.get_endpoint_url()
            )
            page = await browser.contexts[0].new_page()
            # The browser runs inside the session: 127.0.0.1 is the session's own loopback.
            await page.goto("http://127.0.0.1:8080/")
            print("title:", await page.title())
            png = await page.screenshot()
            print("screenshot:", len(png) > 1000 and png[:4] == b"\x89PNG")
            await page.evaluate("document.cookie = 'visits=1; max-age=3600'")
            await browser.close()  # disconnects; the session's browser keeps running

            # The same server, from here: a link to the session's port 8080.
            link = await session.get_link(port=8080)
            async with aiohttp.ClientSession() as http, http.get(link.data or "") as answer:
                print(
                    "through the link:",
                    answer.status,
                    "Hello from the sandbox" in await answer.text(),
                )
        # Leaving the block stopped the browser (its profile written) and saved the profile.

        async with agb.session(params) as session:
            await serve_a_page(session)
            assert await session.browser.initialize(BrowserOption())
            browser = await playwright.chromium.connect_over_cdp(
                await session.browser.get_endpoint_url()
            )
            cookies = await browser.contexts[0].cookies("http://127.0.0.1:8080/")
            print("cookie kept:", [(c["name"], c["value"]) for c in cookies])
            await browser.close()
        await agb.context.delete(profile)


if __name__ == "__main__":
    asyncio.run(main())
