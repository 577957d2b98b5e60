"""`AiohttpTransport`, the default transport, against a real aiohttp server on loopback:
exact URLs, failures mapped to aioagb's errors, the pool limit, one event loop, and a session
that is always closed."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import pytest
from aiohttp import web

from _support.mock_wire import API_KEY, SESSION_ID, envelope
from aioagb import (
    AiohttpTransport,
    AsyncAGB,
    AsyncSession,
    ConnectError,
    RequestTimeoutError,
    TransportError,
    TransportRequest,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Hang:
    """What a handler awaits to never answer; released (so it ends cleanly) at teardown."""

    def __init__(self) -> None:
        self.done = asyncio.Event()

    async def __call__(self) -> None:
        await self.done.wait()


@pytest.fixture
def hang() -> Hang:
    return Hang()


@pytest.fixture
async def serve(hang: Hang) -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start an aiohttp server answering every path with a handler; yields its base URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    hang.done.set()
    for runner in runners:
        await runner.cleanup()


def request(url: str, timeout: float = 5.0) -> TransportRequest:
    return TransportRequest("POST", url, {"authorization": "Bearer k"}, b"{}", timeout, "op")


async def test_the_url_goes_out_exactly_as_built(serve):
    """§1.4: the query string is already form-encoded; the transport must not re-encode it."""
    seen: list[str] = []

    async def handler(req: web.Request) -> web.Response:
        seen.append(req.raw_path)
        return web.json_response(envelope({"status": "RUNNING"}))

    base = await serve(handler)
    transport = AiohttpTransport()
    raw = "/sdk/SetLabel?sessionId=s-1&Labels=%7B%22a%22%3A+%22b+c%22%7D"
    answer = await transport.send(request(base + raw))
    await transport.aclose()
    assert answer.status == 200 and seen == [raw]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_refused_connection_is_a_connect_error():
    transport = AiohttpTransport()
    with pytest.raises(ConnectError, match="op: cannot connect"):
        await transport.send(request(f"http://127.0.0.1:{closed_port()}/mcp"))
    await transport.aclose()


async def test_no_answer_in_time_is_a_request_timeout(serve, hang: Hang):
    async def handler(req: web.Request) -> web.Response:
        await hang()
        return web.Response()

    base = await serve(handler)
    transport = AiohttpTransport()
    with pytest.raises(RequestTimeoutError, match=r"request timeout of 0\.2 s"):
        await transport.send(request(base + "/mcp", timeout=0.2))
    await transport.aclose()


async def test_a_dropped_connection_is_a_transport_error(serve, hang: Hang):
    async def handler(req: web.Request) -> web.Response:
        assert req.transport is not None
        req.transport.close()  # the server goes away mid-request
        await hang()
        return web.Response()

    base = await serve(handler)
    transport = AiohttpTransport()
    with pytest.raises(TransportError, match="the connection failed") as caught:
        await transport.send(request(base + "/mcp"))
    assert type(caught.value) is TransportError
    await transport.aclose()


async def test_the_connection_limit_is_the_pool_size_and_waiting_is_logged(
    serve, caplog: pytest.LogCaptureFixture
):
    """DESIGN.md: a full pool queues requests; the limit is configurable and a warning says
    when requests start waiting for a connection."""
    release, two_in = anyio.Event(), anyio.Event()
    in_flight = 0
    most = 0

    async def handler(req: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        if in_flight == 2:
            two_in.set()
        await release.wait()
        in_flight -= 1
        return web.json_response({})

    base = await serve(handler)
    transport = AiohttpTransport(connection_limit=2)
    assert transport.client_session().connector.limit == 2  # type: ignore[union-attr]
    caplog.set_level(logging.WARNING, "aioagb.transport")
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(transport.send, request(base + "/mcp"))
        await two_in.wait()
        await anyio.sleep(0.05)  # room for a third connection, were the limit not kept
        assert in_flight == 2
        release.set()
    await transport.aclose()
    assert most == 2
    assert any("All 2 connections are busy" in r.getMessage() for r in caplog.records)


def test_a_client_used_from_a_second_event_loop_fails_clearly(serve_in_thread) -> None:
    """DESIGN.md: the HTTP session is made lazily in the running loop; another loop gets a
    clear TransportError instead of aiohttp's obscure one."""
    agb = AsyncAGB(API_KEY, endpoint=serve_in_thread)

    async def status() -> object:
        return await AsyncSession(agb, SESSION_ID).get_status()

    assert anyio.run(status).success  # type: ignore[attr-defined]
    second = anyio.run(status)
    assert not second.success  # type: ignore[attr-defined]
    assert "first used in another event loop; create one client per event loop" in (
        second.error_message  # type: ignore[attr-defined]
    )
    anyio.run(agb.aclose)
    assert agb.closed  # and closed from a third loop without a warning


@pytest.fixture
def serve_in_thread():
    """A loopback server in its own thread and loop (for tests that run several loops)."""
    from anyio.from_thread import start_blocking_portal

    async def handler(req: web.Request) -> web.Response:
        # No keep-alive: a pooled connection would outlive the event loop that opened it.
        close = {"Connection": "close"}
        return web.json_response(envelope({"status": "RUNNING"}), headers=close)

    async def start(runners: list[web.AppRunner]) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    runners: list[web.AppRunner] = []
    with start_blocking_portal() as portal:
        yield portal.call(start, runners)
        portal.call(runners[0].cleanup)


async def test_cancelling_the_client_block_closes_the_aiohttp_session(serve, hang: Hang):
    """Leaving `async with AsyncAGB()` by cancellation closes its one ClientSession; nothing
    is left for the garbage collector to warn about."""
    reached = anyio.Event()

    async def handler(req: web.Request) -> web.Response:
        reached.set()
        await hang()
        return web.Response()

    base = await serve(handler)
    transport = AiohttpTransport()
    session = transport.client_session()

    async def work() -> None:
        async with AsyncAGB(API_KEY, endpoint=base, transport=transport) as agb:
            await AsyncSession(agb, SESSION_ID).get_status()

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(work)
            await reached.wait()
            scope.cancel()
    assert scope.cancelled_caught and session.closed
    with pytest.raises(Exception, match="closed"):
        transport.client_session()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]
