"""`session.browser` and `session.get_link` against a real AGB Local: a headless Chromium in
the session's sandbox, driven by playwright's async API over the CDP relay; links to a
server started in the session; a browser profile kept in a context across two sessions."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import anyio
import pytest

from aioagb import (
    AsyncAGB,
    AsyncSession,
    BrowserContext,
    BrowserError,
    BrowserOption,
    BrowserScreen,
    BrowserViewport,
    CreateSessionParams,
)

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="the browser extra (pip install 'aioagb[browser]')"
)

IMAGE = "agb-browser-use-1"
PAGE = "<html><head><title>Served in the session</title></head><body><h1>hi</h1></body></html>"


async def serve_page(session: AsyncSession, port: int = 8080) -> None:
    """`python3 -m http.server` in the session, serving PAGE, listening once this returns."""
    setup = (
        f"mkdir -p /tmp/site/sub && printf '%s' '{PAGE}' > /tmp/site/index.html && "
        "echo nested > /tmp/site/sub/index.html && cd /tmp/site && "
        f"nohup python3 -m http.server {port} --bind 127.0.0.1 > /tmp/http.log 2>&1 &"
    )
    started = await session.command.execute(setup, timeout_ms=5000)
    assert started.success, started.error_message
    probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 1)\""
    for _ in range(100):
        if (await session.command.execute(probe, timeout_ms=5000)).exit_code == 0:
            return
        await anyio.sleep(0.05)
    raise AssertionError("the session's http.server did not start")


@pytest.fixture
async def browser_session(agb: AsyncAGB) -> AsyncIterator[AsyncSession]:
    async with agb.session(CreateSessionParams(image_id=IMAGE)) as session:
        yield session


async def test_playwright_reads_a_page_served_in_the_session(
    browser_session: AsyncSession,
) -> None:
    session = browser_session
    await serve_page(session)
    option = BrowserOption(viewport=BrowserViewport(1280, 720), screen=BrowserScreen(1600, 900))
    assert await session.browser.initialize(option)
    assert session.browser.is_initialized() and session.browser.get_option() == option
    assert isinstance(session.browser.endpoint_router_port, int)
    url = await session.browser.get_endpoint_url()
    assert url.startswith("ws://") and "/devtools/browser/" in url
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.connect_over_cdp(url)
        page = await browser.contexts[0].new_page()
        await page.goto("http://127.0.0.1:8080/")
        assert await page.title() == "Served in the session"
        png = await page.screenshot()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        sizes = await page.evaluate("[innerWidth, screen.width, screen.height]")
        assert sizes == [1280, 1600, 900]
        await browser.close()


async def test_connect_over_cdp_with_the_http_form_of_the_url(
    browser_session: AsyncSession,
) -> None:
    """Playwright reads `/json/version` from an http URL; the relay points its
    `webSocketDebuggerUrl` at itself."""
    session = browser_session
    assert await session.browser.initialize(BrowserOption())
    ws_url = await session.browser.get_endpoint_url()
    http_url = "http" + ws_url[len("ws") : ws_url.index("/devtools/")]
    async with aiohttp.ClientSession() as client, client.get(http_url + "/json/version") as r:
        version = await r.json()
    assert version["webSocketDebuggerUrl"] == ws_url
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.connect_over_cdp(http_url)
        page = await browser.contexts[0].new_page()
        await page.set_content("<title>set over http</title>")
        assert await page.title() == "set over http"
        await browser.close()


async def test_get_link_reaches_a_server_in_the_session(browser_session: AsyncSession) -> None:
    session = browser_session
    await serve_page(session, port=8081)
    link = await session.get_link(port=8081)
    assert link.success, link.error_message
    assert link.data is not None and link.data.startswith("http://")
    async with aiohttp.ClientSession() as client:
        async with client.get(link.data) as answer:
            assert answer.status == 200
            assert await answer.text() == PAGE
        # http.server redirects /sub to /sub/: the redirect stays under the link.
        async with client.get(link.data + "sub") as answer:
            assert answer.status == 200 and answer.history[0].status == 301
            assert answer.url.path.startswith("/agb-local/link/")
            assert answer.url.path.endswith("/sub/")
            assert await answer.text() == "nested\n"
    ws_link = await session.get_link(protocol_type="ws", port=8081)
    assert ws_link.success and ws_link.data is not None and ws_link.data.startswith("ws://")


async def test_get_link_failures_read_as_the_official_ones(browser_session: AsyncSession) -> None:
    missing_port = await browser_session.get_link()
    assert not missing_port.success and missing_port.error_message == "Failed to get link"
    assert missing_port.exception is not None
    bad_protocol = await browser_session.get_link(protocol_type="ftp", port=8080)
    assert bad_protocol.error_message == "Failed to get link"


async def test_destroy_stops_it_and_initialize_starts_a_new_one(
    browser_session: AsyncSession,
) -> None:
    browser = browser_session.browser
    with pytest.raises(BrowserError, match="not initialized"):
        await browser.get_endpoint_url()
    with pytest.raises(BrowserError, match="Cannot stop browser"):
        await browser.destroy()
    assert await browser.initialize(BrowserOption())
    first = await browser.get_endpoint_url()
    await browser.destroy()
    assert not browser.is_initialized()
    assert await browser.initialize(BrowserOption())
    second = await browser.get_endpoint_url()
    assert first != second  # a new browser, with a new id


async def test_options_agb_local_cannot_honour_fail_with_the_reason(
    browser_session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aioagb"):
        assert not await browser_session.browser.initialize(BrowserOption(use_stealth=True))
    assert "useStealth" in caplog.text and "not available on AGB Local" in caplog.text
    assert not browser_session.browser.is_initialized()


async def test_a_cookie_survives_across_two_sessions_through_a_browser_context(
    agb: AsyncAGB,
) -> None:
    context = (await agb.context.get(f"profile-{time.monotonic_ns()}", create=True)).context
    assert context is not None
    params = CreateSessionParams(image_id=IMAGE, browser_context=BrowserContext(context.id))
    cookie = {"name": "kept", "value": "yes", "url": "https://profile.example/"}
    async with agb.session(params) as first, playwright_api.async_playwright() as pw:
        assert await first.browser.initialize(BrowserOption())
        browser = await pw.chromium.connect_over_cdp(await first.browser.get_endpoint_url())
        await browser.contexts[0].add_cookies([{**cookie, "expires": time.time() + 3600}])
        await browser.close()
        # Leaving the block releases the session: its browser is stopped (the profile
        # written), then the profile is uploaded to the context.
    async with agb.session(params) as second, playwright_api.async_playwright() as pw:
        assert await second.browser.initialize(BrowserOption())
        browser = await pw.chromium.connect_over_cdp(await second.browser.get_endpoint_url())
        cookies = await browser.contexts[0].cookies("https://profile.example/")
        await browser.close()
    assert [(c["name"], c["value"]) for c in cookies] == [("kept", "yes")]
    await agb.context.delete(context)
