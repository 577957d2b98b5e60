"""Browser sessions and links (issue 15) seen by an attacker: another tenant's CDP URL and
links, Chromium's reach (no network, not the host's loopback), the session's memory and
process caps with Chromium running, and no Chromium left once the session is deleted."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anyio
import attrs
import pytest
from aiohttp import web

from _support.security import KEY_A, KEY_B, NO_RETRIES, SECURITY_LIMITS, security_config
from aioagb import AsyncAGB, AsyncSession, BrowserOption, CreateSessionParams
from aioagb.server import LocalServer
from aioagb.server.sandbox import LocalBackend, make_backend

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="the browser extra (pip install 'aioagb[browser]')"
)

IMAGE = "agb-browser-use-1"
# Browser sessions' caps, small enough to trip here, large enough for Chromium.
LIMITS = attrs.evolve(
    SECURITY_LIMITS, browser_memory_bytes=1024 * 1024 * 1024, browser_max_processes=256
)


@pytest.fixture
async def backend() -> AsyncIterator[LocalBackend]:
    with tempfile.TemporaryDirectory(prefix="agb-browser-sec-") as root:
        made = await anyio.to_thread.run_sync(
            lambda: make_backend(Path(root), LIMITS, prefer="bwrap")
        )
        yield made


@pytest.fixture
async def server(backend: LocalBackend) -> AsyncIterator[LocalServer]:
    async with LocalServer(security_config(limits=LIMITS), backend=backend) as running:
        yield running


@pytest.fixture
async def tenant_a(server: LocalServer) -> AsyncIterator[AsyncAGB]:
    async with AsyncAGB(KEY_A, endpoint=server.endpoint, retry=NO_RETRIES, timeout=60) as agb:
        yield agb


@pytest.fixture
async def tenant_b(server: LocalServer) -> AsyncIterator[AsyncAGB]:
    async with AsyncAGB(KEY_B, endpoint=server.endpoint, retry=NO_RETRIES, timeout=60) as agb:
        yield agb


async def _browser(agb: AsyncAGB) -> AsyncSession:
    session = await agb.open_session(CreateSessionParams(image_id=IMAGE))
    assert await session.browser.initialize(BrowserOption())
    return session


async def _status(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    http = "http" + url[url.index(":") :] if url.startswith("ws") else url
    async with aiohttp.ClientSession() as client, client.get(http, headers=headers) as r:
        body = await r.json(content_type=None)
        return r.status, body.get("code", "") if isinstance(body, dict) else ""


def _cdp(url: str) -> tuple[str, str, str]:
    """(http base, session id, secret) of a CDP URL `ws://host/agb-local/cdp/S/SECRET/...`."""
    base, _, rest = url.partition("/agb-local/cdp/")
    session_id, secret = rest.split("/")[:2]
    return "http" + base[len("ws") :], session_id, secret


async def test_another_tenant_cannot_use_a_cdp_url_or_a_link(
    tenant_a: AsyncAGB, tenant_b: AsyncAGB
) -> None:
    async with await _browser(tenant_a) as a, await _browser(tenant_b) as b:
        base, sid_a, secret_a = _cdp(await a.browser.get_endpoint_url())
        _, sid_b, secret_b = _cdp(await b.browser.get_endpoint_url())
        link = (await a.get_link(port=8080)).data
        assert link is not None
        link_secret = link.rstrip("/").rsplit("/", 1)[1]

        def version(session_id: str, secret: str) -> str:
            return f"{base}/agb-local/cdp/{session_id}/{secret}/json/version"

        assert (await _status(version(sid_a, secret_a)))[0] == 200  # the owner's URL works
        forbidden = [
            (version(sid_a, secret_b), None),  # B's own secret on A's session
            (version(sid_b, secret_a), None),  # A's secret on B's session
            (version(sid_a, "x" + secret_a[1:]), None),  # altered
            (f"{base}/agb-local/cdp/{sid_a}/json/version", None),  # no secret
            (version(sid_a, secret_a), {"authorization": f"Bearer {KEY_B}"}),  # B's key
            (version(sid_a, link_secret), None),  # a link's secret is not a CDP one
            (link.replace("/8080/", "/8081/"), None),  # nor another port's
            (link.replace(sid_a, sid_b), None),  # nor another session's
        ]
        for url, headers in forbidden:
            status, code = await _status(url, headers)
            assert (status, code) == (403, "InvalidLinkToken.Forbidden"), url
        async with playwright_api.async_playwright() as pw:
            with pytest.raises(playwright_api.Error, match="403"):
                await pw.chromium.connect_over_cdp(
                    version(sid_a, secret_b)[: -len("/json/version")]
                )


@pytest.fixture
async def host_service() -> AsyncIterator[int]:
    """A service on the host's loopback, which no session may reach."""
    app = web.Application()

    async def secret(_: web.Request) -> web.Response:
        return web.Response(text="host secret")

    app.router.add_get("/", secret)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


async def test_chromium_reaches_no_network_and_not_the_hosts_loopback(
    tenant_a: AsyncAGB, server: LocalServer, host_service: int
) -> None:
    async with await _browser(tenant_a) as session:
        interfaces = await session.command.execute("cat /proc/net/dev", timeout_ms=5000)
        names = [line.split(":")[0].strip() for line in interfaces.stdout.splitlines()[2:]]
        assert names == ["lo"]
        url = await session.browser.get_endpoint_url()
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.connect_over_cdp(url)
            page = await browser.contexts[0].new_page()
            for target in (
                f"http://127.0.0.1:{host_service}/",
                f"http://127.0.0.1:{server.port}/",
                "http://agb-local-test.invalid/",
            ):
                with pytest.raises(playwright_api.Error, match="net::ERR_"):
                    await page.goto(target, timeout=15_000)
            await browser.close()


async def test_memory_and_process_caps_hold_with_chromium_running(
    tenant_a: AsyncAGB, backend: LocalBackend
) -> None:
    if not backend.cgroups:
        pytest.skip("no memory cgroup here: browser sessions are capped by cgroups only")
    async with await _browser(tenant_a) as session:
        metrics = await session.get_metrics()
        assert metrics.metrics is not None
        assert metrics.metrics.mem_total == LIMITS.browser_memory_bytes
        hog = "x = bytearray(3_000_000_000)\nx[::4096] = b'1' * len(x[::4096])"
        ran = await session.code.run(hog, "python", timeout_s=60)
        assert not ran.success, ran
        bomb = await session.command.execute("bomb() { bomb | bomb; }; bomb", timeout_ms=3000)
        assert not bomb.success
        tasks = await session.command.execute("ls /proc/*/task | grep -c '^[0-9]'")
        assert int(tasks.stdout.strip() or 0) <= LIMITS.browser_max_processes


def _descendants(pid: int) -> dict[int, str]:
    """The processes below `pid` (ours: the session's bubblewrap), with their names."""
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{tid}/children").read_text().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                try:
                    found[child] = Path(f"/proc/{child}/comm").read_text().strip()
                except FileNotFoundError:
                    continue
                todo.append(child)
    return found


def _start_times(pids: list[int]) -> dict[int, str]:
    """Each live pid's start time (a pid reused later has another)."""
    times: dict[int, str] = {}
    for pid in pids:
        try:
            times[pid] = Path(f"/proc/{pid}/stat").read_text().split()[21]
        except FileNotFoundError:
            continue
    return times


async def test_deleting_the_session_leaves_no_chromium_process(
    tenant_a: AsyncAGB, backend: LocalBackend
) -> None:
    session = await _browser(tenant_a)
    agent_pid = backend.sandboxes[session.session_id].agent_pid
    assert agent_pid is not None
    chromium = [pid for pid, name in _descendants(agent_pid).items() if "chrom" in name]
    assert len(chromium) >= 3  # the browser, its zygotes, renderers, GPU and network
    before = _start_times(chromium)
    await session.aclose()
    after = _start_times(chromium)
    assert not [pid for pid in after if after[pid] == before.get(pid)], "chromium outlived it"
