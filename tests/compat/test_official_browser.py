"""The official SDK's browser (§15) and links (§16.1) on AGB Local, unmodified: it starts the
session's Chromium, gets the CDP endpoint, and playwright's sync API drives it to a page
served inside the same session; a link reaches that server from the host."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import requests
from agb import AGB
from agb.modules.browser import BrowserOption, BrowserViewport
from agb.session import Session
from agb.session_params import CreateSessionParams

from aioagb import _protocol as p

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser extra (pip install 'aioagb[browser]')"
)

IMAGE = "agb-browser-use-1"
TITLE = "Served by the session"


def serve_page(session: Session, port: int) -> None:
    """`python3 -m http.server` started with the shell tool, listening once this returns."""
    page = f"<html><head><title>{TITLE}</title></head><body>hello</body></html>"
    started = session.command.execute(
        f"mkdir -p /tmp/site && printf '%s' '{page}' > /tmp/site/index.html && cd /tmp/site && "
        f"nohup python3 -m http.server {port} > /tmp/http.log 2>&1 &",
        timeout_ms=5000,
    )
    assert started.success, started.error_message
    probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 1)\""
    for _ in range(100):
        if session.command.execute(probe, timeout_ms=5000).exit_code == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the session's http.server did not start")


@pytest.fixture
def browser_session(agb: AGB) -> Iterator[Session]:
    result = agb.create(CreateSessionParams(image_id=IMAGE))
    assert result.success, result.error_message
    try:
        yield result.session
    finally:
        result.session.delete()


def test_playwright_drives_the_session_browser_to_a_page_served_in_it(
    browser_session: Session,
) -> None:
    session = browser_session
    serve_page(session, 8080)
    assert session.browser.initialize(BrowserOption(viewport=BrowserViewport(1024, 768)))
    assert session.browser.endpoint_router_port is not None
    url = session.browser.get_endpoint_url()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(url)
        page = browser.contexts[0].new_page()
        page.goto("http://127.0.0.1:8080/")
        assert page.title() == TITLE
        assert page.screenshot().startswith(b"\x89PNG\r\n\x1a\n")
        assert page.evaluate("innerWidth") == 1024
        browser.close()
    session.browser.destroy()  # the tool stopChrome
    listed = session.command.execute("ps -eo comm", timeout_ms=5000).output
    assert "chromium" not in listed


def test_initialize_async_is_accepted_too(browser_session: Session) -> None:
    """The aiohttp variant sends no body and leaves `/:,` unescaped in the query (§15.1)."""
    assert asyncio.run(browser_session.browser.initialize_async(BrowserOption()))
    assert browser_session.browser.get_endpoint_url().startswith("ws://")


def test_get_link_reaches_a_server_in_the_session_from_the_host(
    browser_session: Session,
) -> None:
    serve_page(browser_session, 8090)
    link = browser_session.get_link(port=8090)
    assert link.success, link.error_message
    answer = requests.get(link.data, timeout=30)
    assert answer.status_code == 200 and TITLE in answer.text
    assert browser_session.get_link(protocol_type="wss", port=8090).data.startswith("ws://")


def test_get_link_without_a_port_fails_with_the_official_text(browser_session: Session) -> None:
    result = browser_session.get_link()
    assert not result.success and result.error_message == "Failed to get link"


def test_browser_images_list_stop_chrome_and_code_spaces_do_not(agb: AGB) -> None:
    session = agb.create(CreateSessionParams(image_id=IMAGE)).session
    try:
        browser_tools = {t.name for t in session.list_mcp_tools().tools}
        code_tools = {t.name for t in session.list_mcp_tools("agb-code-space-2").tools}
    finally:
        session.delete()
    assert p.TOOL_STOP_CHROME in browser_tools
    assert p.TOOL_STOP_CHROME not in code_tools


def test_browser_agent_tools_are_not_available(browser_session: Session) -> None:
    result = browser_session.call_mcp_tool("page_use_navigate", {"url": "http://x"})
    assert not result.success
    assert "not available on AGB Local" in result.error_message


def test_the_browser_of_a_code_space_is_refused(agb: AGB) -> None:
    session = agb.create(CreateSessionParams(image_id="agb-code-space-2")).session
    try:
        assert not session.browser.initialize(BrowserOption())
    finally:
        session.delete()
