"""Stopping gracefully: the requests in progress get the grace to finish; a request that
arrives meanwhile, on a connection that was already open, gets a 503 envelope with
`Connection: close` instead of a dropped connection that its client could not tell from a
crash.

aiohttp's own shutdown (`AppRunner.cleanup`) closes every connection first, so that a request
arriving during the grace is never read, and then waits its `shutdown_timeout` twice for a
busy handler (once for it to finish, once more after "cancelling" it, which only cancels its
body), so a long call held a stop for twice the grace. The server therefore drains first,
with this middleware counting requests, and hands aiohttp only what is left to cut off.
"""

from __future__ import annotations

from http import HTTPStatus

import anyio
from aiohttp import web
from aiohttp.typedefs import Middleware

from . import envelope
from .envelope import CODE_SERVER_STOPPING, ApiError
from .middleware import NextHandler, current_request_id


class RequestDrain:
    """Counts the requests in progress; once stopping, refuses new ones."""

    def __init__(self) -> None:
        self._in_progress = 0
        self._stopping = False
        self._idle: anyio.Event | None = None

    @property
    def stopping(self) -> bool:
        """Whether new requests are being refused."""
        return self._stopping

    @property
    def in_progress(self) -> int:
        """Requests being handled now."""
        return self._in_progress

    def begin(self) -> None:
        """From now on, new requests get a 503 envelope and their connection is closed."""
        self._stopping = True

    async def wait(self) -> None:
        """Returns once no request is in progress (bound it with a timeout)."""
        while self._in_progress:
            self._idle = anyio.Event()
            await self._idle.wait()

    def middleware(self) -> Middleware:
        """The middleware that counts requests and refuses them while stopping."""

        @web.middleware
        async def drain(request: web.Request, handler: NextHandler) -> web.StreamResponse:
            if self._stopping:
                return _stopping_reply()
            self._in_progress += 1
            try:
                return await handler(request)
            finally:
                self._in_progress -= 1
                if not self._in_progress and self._idle is not None:
                    self._idle.set()

        return drain


def _stopping_reply() -> web.Response:
    error = ApiError(
        HTTPStatus.SERVICE_UNAVAILABLE.value,
        CODE_SERVER_STOPPING,
        "AGB Local is stopping and takes no new requests",
    )
    response = envelope.failure(current_request_id(), error)
    response.force_close()  # a stopping server keeps no connection alive
    return response


DRAIN = web.AppKey("aioagb_drain", RequestDrain)
