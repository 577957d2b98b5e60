"""`session.browser`: the session's headless browser (docs/protocol.md §15). Playwright (or
any CDP client) drives it: `initialize()` starts it, `get_endpoint_url()` gives the URL to
`connect_over_cdp`, `destroy()` stops it.

The official `Browser`'s names, results and error texts: `initialize` returns True or False
and raises nothing for a failure the server reports (the failure is logged, with the
server's message the official client drops); `get_endpoint_url` and `destroy` raise
`BrowserError`. One difference: after `destroy()` the browser is no longer initialized, so
`initialize()` starts a new one (the official client keeps its flag set and sends nothing).
"""

from __future__ import annotations

import logging

from .. import _protocol as p
from .._protocol import requests as rq
from ..browser_options import BrowserOption
from ..errors import AGBError, BrowserError, ClientClosedError, InvalidArgumentError
from ._channel import SessionChannel

logger = logging.getLogger("aioagb")

NOT_INITIALIZED = "Browser is not initialized. Cannot access endpoint URL."
NOT_INITIALIZED_STOP = "Browser is not initialized. Cannot stop browser."


class Browser:
    """The browser of one session (the official `session.browser`)."""

    def __init__(self, channel: SessionChannel) -> None:
        self._channel = channel
        self._initialized = False
        self._option: BrowserOption | None = None
        # The browser's DevTools port inside the session (what /browser/init answers).
        self.endpoint_router_port: int | None = None

    def is_initialized(self) -> bool:
        """Whether `initialize` succeeded (and `destroy` has not been called since)."""
        return self._initialized

    def get_option(self) -> BrowserOption | None:
        """The option the browser was initialized with, or None."""
        return self._option

    async def initialize(self, option: BrowserOption) -> bool:
        """Start the session's browser with `option` (`POST /browser/init`); True once it
        runs. Already initialized: True, and nothing is sent (as the official client)."""
        if not isinstance(option, BrowserOption):
            raise InvalidArgumentError(
                f"option must be a BrowserOption, got {type(option).__name__}"
            )
        if self._initialized:
            return True
        try:
            port = await self._initialize(option)
        except (ClientClosedError, InvalidArgumentError):
            raise
        except AGBError as exc:
            logger.warning(
                "session %s: Browser initialization failed: %s",
                self._channel.session_id,
                exc.message,
            )
            return False
        self._initialized, self._option, self.endpoint_router_port = True, option, port
        return True

    async def initialize_async(self, option: BrowserOption) -> bool:
        """The same as `initialize` (the official SDK's asynchronous spelling)."""
        return await self.initialize(option)

    async def _initialize(self, option: BrowserOption) -> int:
        request = rq.init_browser(self._channel.session_id, p.BROWSER_DATA_PATH, option.to_map())
        reply = await self._channel.expect(request, "Unknown error", exactly_200=True)
        port = reply.data_object().get(p.KEY_PORT)
        try:
            if isinstance(port, bool) or not isinstance(port, int | str | float):
                raise TypeError
            return int(port)
        except (TypeError, ValueError):
            raise BrowserError(
                "Browser initialization failed: No port in response",
                request_id=reply.request_id,
            ) from None

    async def get_endpoint_url(self) -> str:
        """The browser's CDP WebSocket URL (`POST /internet/getCdpLink`, asked every time):
        `await playwright.chromium.connect_over_cdp(url)`."""
        if not self._initialized:
            raise BrowserError(NOT_INITIALIZED)
        request = rq.get_cdp_link(self._channel.session_id)
        try:
            reply = await self._channel.expect(request, "Unknown error", exactly_200=True)
        except (ClientClosedError, InvalidArgumentError):
            raise
        except AGBError as exc:
            raise BrowserError(
                f"Failed to get CDP link: {exc.message}",
                request_id=exc.request_id,
                code=exc.code,
                http_status=exc.http_status,
            ) from exc
        url = reply.data_object().get(p.KEY_URL)
        if not isinstance(url, str) or not url:
            raise BrowserError(
                "Failed to get CDP link: No URL in response", request_id=reply.request_id
            )
        return url

    async def destroy(self) -> None:
        """Stop the browser and everything it started (the `stopChrome` tool); its outcome
        is logged, not raised, as the official client ignores it."""
        if not self._initialized:
            raise BrowserError(NOT_INITIALIZED_STOP)
        try:
            await self._channel.call(p.TOOL_STOP_CHROME, {}, idempotent=True)
        except (ClientClosedError, InvalidArgumentError):
            raise
        except AGBError as exc:
            logger.warning(
                "session %s: stopping the browser failed: %s", self._channel.session_id, exc
            )
        self._initialized, self.endpoint_router_port = False, None
