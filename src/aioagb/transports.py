"""Transports: the swappable layer that sends one HTTP request and returns its answer.

The client decides everything about the protocol (what to send, what a reply means, whether
to retry); a transport only moves bytes. As in httpx, the transport is a seam:

* `AiohttpTransport` is the default: one aiohttp `ClientSession` per client, a bounded
  connection pool, a timeout per request.
* `MockTransport(handler)` answers every request with a function of yours, so code that uses
  aioagb is tested without a network or a server:

        def handler(request: TransportRequest) -> TransportResponse:
            if request.path == "/mcp/createSession":
                return TransportResponse.json({"success": True, "data": {"sessionId": "s-1"}})
            return TransportResponse.json({"success": False, "message": "no"}, status=400)

        agb = AsyncAGB("key", endpoint="http://fake", transport=MockTransport(handler))

A transport raises `ConnectError` when the connection could not be opened (nothing reached
the server), `RequestTimeoutError` when no answer came within `request.timeout`, and
`TransportError` for a connection lost mid-request. Any HTTP answer, whatever its status, is a
`TransportResponse`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import anyio
import attrs
from yarl import URL

from .errors import ClientClosedError, ConnectError, RequestTimeoutError, TransportError

logger = logging.getLogger("aioagb.transport")

DEFAULT_CONNECTION_LIMIT = 100
POOL_WAIT_WARNING_INTERVAL_S = 10.0
# The largest frame read from a WebSocket: a rich result (a PNG) is one frame.
MAX_WEBSOCKET_MESSAGE = 64 * 1024 * 1024

__all__ = [
    "DEFAULT_CONNECTION_LIMIT",
    "AiohttpTransport",
    "MockTransport",
    "Transport",
    "TransportRequest",
    "TransportResponse",
]


@attrs.frozen(slots=True)
class TransportRequest:
    """One HTTP request, exactly as it must go on the wire."""

    method: str
    url: str  # already form-encoded (docs/protocol.md §1.4): send it as is
    headers: Mapping[str, str]
    body: bytes | None
    timeout: float  # seconds for the whole exchange of this attempt
    operation: str = ""  # the protocol's name for it: "createSession", "shell", ...

    @property
    def path(self) -> str:
        """The URL's path, e.g. `/mcp/createSession`."""
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        """The query string, decoded (form semantics: `+` is a space)."""
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def json(self) -> object:
        """The body parsed as JSON (None for a request without a body)."""
        return None if self.body is None else json.loads(self.body)


@attrs.frozen(slots=True)
class TransportResponse:
    """An HTTP answer: status, raw body and headers."""

    status: int
    content: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def json(
        cls, body: object, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> TransportResponse:
        """An answer whose body is `body` serialised as JSON."""
        content = json.dumps(body).encode("utf-8")
        return cls(status, content, {"Content-Type": "application/json", **(headers or {})})


class Transport(Protocol):
    """What `AsyncAGB(transport=...)` accepts."""

    async def send(self, request: TransportRequest) -> TransportResponse:
        """Send one request; return any HTTP answer, raise `TransportError` without one."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once by the client's `aclose()`."""
        ...


MockHandler = Callable[[TransportRequest], "TransportResponse | Awaitable[TransportResponse]"]


class MockTransport:
    """A transport that answers with `handler(request)` (a function or a coroutine function).

    The handler may raise `ConnectError`, `TransportError` or `RequestTimeoutError` to play a
    network failure. `requests` keeps every request sent, in order.
    """

    def __init__(self, handler: MockHandler) -> None:
        self._handler = handler
        self.requests: list[TransportRequest] = []
        self.closed = False

    async def send(self, request: TransportRequest) -> TransportResponse:
        """Record the request and answer it with the handler."""
        if self.closed:
            raise ClientClosedError("This AsyncAGB client is closed; create a new one.")
        self.requests.append(request)
        answer = self._handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, TransportResponse):
            raise TypeError(f"the handler must return a TransportResponse, got {answer!r}")
        return answer

    async def aclose(self) -> None:
        """Mark the transport closed; later sends raise `ClientClosedError`."""
        self.closed = True


class AiohttpTransport:
    """One aiohttp `ClientSession`, made lazily in the running event loop, closed by `aclose`.

    `connection_limit` bounds the connections open at once; requests beyond it wait for one,
    and a warning is logged (at most every 10 s) when they start waiting.
    """

    def __init__(self, *, connection_limit: int = DEFAULT_CONNECTION_LIMIT) -> None:
        self._connection_limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._last_pool_warning = -POOL_WAIT_WARNING_INTERVAL_S
        self._in_flight = 0
        # The WebSockets opened here: closed with the transport, so that none outlives it.
        self._websockets: weakref.WeakSet[aiohttp.ClientWebSocketResponse[bool]] = weakref.WeakSet()

    @property
    def connection_limit(self) -> int:
        """The most connections this transport opens at once."""
        return self._connection_limit

    def client_session(self) -> aiohttp.ClientSession:
        """The aiohttp session (made on first use in the running loop), for transfers and
        WebSockets that must share this client's connections and lifetime."""
        if self._closed:
            raise ClientClosedError("This AsyncAGB client is closed; create a new one.")
        loop = asyncio.get_running_loop()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                # The client's own timeouts are per request (see send); none here.
                timeout=aiohttp.ClientTimeout(total=None),
            )
            self._loop = loop
        elif loop is not self._loop:
            raise TransportError(
                "This AsyncAGB client was first used in another event loop; "
                "create one client per event loop."
            )
        return self._session

    def _on_pool_wait(self) -> None:
        now = time.monotonic()
        if now - self._last_pool_warning >= POOL_WAIT_WARNING_INTERVAL_S:
            self._last_pool_warning = now
            logger.warning(
                "All %d connections are busy; requests are waiting for one "
                "(raise AsyncAGB(connection_limit=...) or lower your concurrency).",
                self._connection_limit,
            )

    async def send(self, request: TransportRequest) -> TransportResponse:
        """Send over the shared pool; map aiohttp's failures to aioagb's transport errors."""
        session = self.client_session()
        # Each request in flight holds at most one connection, so a request that starts while
        # `connection_limit` are in flight waits for one. (Counting here instead of through an
        # aiohttp TraceConfig: tracing costs every request ~40 us, see docs/benchmarks.md.)
        if self._in_flight >= self._connection_limit:
            self._on_pool_wait()
        self._in_flight += 1
        try:
            async with session.request(
                request.method,
                URL(request.url, encoded=True),  # already form-encoded exactly (§1.4)
                data=request.body,
                headers=dict(request.headers),
                timeout=aiohttp.ClientTimeout(total=request.timeout),
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                return TransportResponse(response.status, raw, response.headers)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            # Mapped here, not by a context manager around the request: this is every
            # request's path, and the error text is built only when there is an error.
            timed_out = f"no answer within the request timeout of {request.timeout:g} s"
            raise _transport_error(exc, request.operation or request.method, timed_out) from None
        finally:
            self._in_flight -= 1

    async def connect_websocket(
        self, url: str, headers: Mapping[str, str], connect_timeout: float
    ) -> aiohttp.ClientWebSocketResponse[bool]:
        """Open a WebSocket on this transport's session (the streaming channel, §5.2).

        No automatic heartbeat: aiohttp handles a PONG only while someone reads, so an idle
        connection's pings would time out; a dropped idle connection is reopened instead."""
        session = self.client_session()
        timed_out = f"the WebSocket did not open within {connect_timeout:g} s"
        with _mapped_failures("stream", timed_out), anyio.fail_after(connect_timeout):
            ws = await session.ws_connect(
                url,
                headers=dict(headers),
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=connect_timeout),
                autoping=True,
                max_msg_size=MAX_WEBSOCKET_MESSAGE,
            )
        self._websockets.add(ws)
        return ws

    async def aclose(self) -> None:
        """Close the WebSockets and the aiohttp session; later sends raise
        `ClientClosedError`."""
        self._closed = True
        for ws in list(self._websockets):
            with anyio.move_on_after(1):
                await ws.close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()


@contextlib.contextmanager
def _mapped_failures(what: str, timed_out: str) -> Iterator[None]:
    """aiohttp's failures as aioagb's transport errors, each naming the operation `what`."""
    try:
        yield
    except (asyncio.TimeoutError, TimeoutError, aiohttp.ClientError) as exc:
        raise _transport_error(exc, what, timed_out) from None


def _transport_error(exc: BaseException, what: str, timed_out: str) -> TransportError:
    """The aioagb error for one of aiohttp's failures (or a timeout) of operation `what`."""
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return RequestTimeoutError(f"{what}: {timed_out}")
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return TransportError(f"{what}: the server refused the WebSocket (HTTP {exc.status})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(f"{what}: cannot connect: {exc.strerror}")
    return TransportError(f"{what}: the connection failed: {type(exc).__name__}")
