"""Sending one request: aiohttp, a bounded connection pool, a timeout per request.

The transport knows nothing of the protocol beyond "bytes in, status and bytes out"; the
client decides what a reply means and whether to retry. `Transport` is the seam for tests
and for users who bring their own HTTP stack (as httpx's transports are).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Protocol

import aiohttp
from yarl import URL

from ._wire import Reply, Request
from .errors import ClientClosedError, RequestTimeoutError, TransportError

logger = logging.getLogger("aioagb.transport")

DEFAULT_CONNECTION_LIMIT = 100
POOL_WAIT_WARNING_INTERVAL_S = 10.0


class Transport(Protocol):
    async def send(
        self, request: Request, url: str, headers: Mapping[str, str], timeout: float
    ) -> Reply: ...

    async def aclose(self) -> None: ...


class ConnectError(TransportError):
    """The connection could not be opened: the request certainly did not reach the server."""


class AiohttpTransport:
    """One aiohttp `ClientSession`, made lazily in the running event loop, closed by `aclose`."""

    def __init__(self, *, connection_limit: int = DEFAULT_CONNECTION_LIMIT) -> None:
        self._connection_limit = connection_limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._last_pool_warning = -POOL_WAIT_WARNING_INTERVAL_S
        self._in_flight = 0

    def _client(self) -> aiohttp.ClientSession:
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

    async def send(
        self, request: Request, url: str, headers: Mapping[str, str], timeout: float
    ) -> Reply:
        session = self._client()
        # Each request in flight holds at most one connection, so a request that starts while
        # `connection_limit` are in flight waits for one. (Counting here instead of through an
        # aiohttp TraceConfig: tracing costs every request ~40 us, see docs/benchmarks.md.)
        if self._in_flight >= self._connection_limit:
            self._on_pool_wait()
        self._in_flight += 1
        try:
            async with session.request(
                request.method,
                URL(url, encoded=True),  # already form-encoded exactly (§1.4)
                data=request.body,
                headers=dict(headers),
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                return Reply.decode(response.status, raw, response.headers)
        except asyncio.TimeoutError:
            raise RequestTimeoutError(
                f"{request.operation}: no answer within the request timeout of {timeout:g} s"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(f"{request.operation}: cannot connect: {exc.strerror}") from None
        except aiohttp.ClientError as exc:
            raise TransportError(
                f"{request.operation}: the connection failed: {type(exc).__name__}"
            ) from None
        finally:
            self._in_flight -= 1

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()
