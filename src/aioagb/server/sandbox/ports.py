"""HTTP and WebSocket clients of a sandbox's own loopback (aiohttp's client over a socket made
in the sandbox's network namespace, `Sandbox.open_socket`): what the bridge relays links and
CDP with, and how a browser is asked to shut down cleanly."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio

if TYPE_CHECKING:
    from .browser import BrowserEndpoint
    from .interface import Sandbox

CONNECT_TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def loopback_client(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client whose one connection goes to the sandbox's loopback (requests name
    `127.0.0.1:PORT`): its socket is made in the sandbox, then handed to aiohttp."""
    sock: socket.socket | None = await sandbox.open_socket()

    def hand_over(_addr_info: Any) -> socket.socket:
        nonlocal sock
        if sock is None:
            raise OSError("one connection per loopback client")
        taken, sock = sock, None
        return taken

    connector = aiohttp.TCPConnector(socket_factory=hand_over, limit=1, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies belong to the client, not to us
            auto_decompress=False,  # bytes pass as they are, with their Content-Encoding
            timeout=timeout,
        ) as client:
            yield client
    finally:
        if sock is not None:  # never connected
            sock.close()


async def close_browser(sandbox: Sandbox, endpoint: BrowserEndpoint, timeout_s: float) -> None:
    """Asks the browser to shut down (CDP `Browser.close`), as its own menu would: unlike a
    signal, that writes its profile, cookies included, before it exits. Bounded; a browser
    that does not answer is left to the caller's kill."""
    with anyio.move_on_after(timeout_s):
        async with loopback_client(sandbox) as client:
            url = f"http://127.0.0.1:{endpoint.port}{endpoint.path}"
            async with client.ws_connect(url) as ws:
                await ws.send_str(json.dumps({"id": 1, "method": "Browser.close"}))
                async for _message in ws:  # the answer, then the browser hangs up
                    pass
