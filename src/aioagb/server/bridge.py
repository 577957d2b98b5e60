"""The bridge from AGB Local's own HTTP port to a port inside a session's sandbox: what makes
a session's browser (CDP) and its servers (links, §16.1) reachable from the host.

Each relayed request or WebSocket gets one upstream connection over a socket that the
sandbox makes in its own network namespace (`Sandbox.open_socket`, see `sandbox/netns.py`),
driven by aiohttp's client (its `socket_factory` hands it that socket). So the session's
process sees an ordinary loopback client, nothing runs in the sandbox for it, and the bridge
reaches only what listens on the sandbox's own loopback: never the host, nor another
session. HTTP is relayed as a stream (bodies are not buffered, their encoding is left as
is); a WebSocket is relayed message by message in both directions until either side closes.

Who may use it is decided before any of this (`routes/links.py`, `routes/browser.py`): the
URL's secret. This module only relays, and makes the upstream answer fit the public URL: a
redirect or cookie path of the session's server is put under the link's prefix.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

import aiohttp
import anyio
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from .envelope import ApiError
from .sandbox import Sandbox
from .sandbox.ports import loopback_client

log = logging.getLogger("aioagb.server")

CODE_UNREACHABLE = "Link.PortUnreachable"
# A CDP message can be a full-page screenshot (base64); a link's WebSocket gets the same cap.
MAX_WS_MESSAGE_BYTES = 256 * 1024 * 1024
# Not relayed: hop-by-hop headers (RFC 9110, section 7.6.1), the Host (the upstream's own is set),
# and AGB Local's API key, which the session's code must never see.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "origin"}
WS_HANDSHAKE = frozenset({"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"})


def unreachable(port: int, why: object) -> ApiError:
    """The answer when nothing in the session listens on `port` (or it hung up)."""
    return ApiError(502, CODE_UNREACHABLE, f"Nothing in the session answers on port {port}: {why}")


def forwarded_headers(
    headers: Iterable[tuple[str, str]], skip: frozenset[str] = NOT_FORWARDED
) -> CIMultiDict[str]:
    """The request headers the session's server gets."""
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers:
        if name.lower() not in skip:
            out.add(name, value)
    return out


def _public_location(location: str, port: int, prefix: str, public_base: str) -> str:
    """A redirect of the session's server, pointed at the link instead of its loopback."""
    for local in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        if location == local or location.startswith(local + "/"):
            return public_base + prefix + location[len(local) :]
    if location.startswith("/") and not location.startswith("//"):
        return prefix + location
    return location


def _cookie_under(prefix: str, cookie: str) -> str:
    """A Set-Cookie of the session's server, its path put under the link's prefix: the
    host's other links (other sessions' servers) share the origin, not the cookie."""
    parts = [part.strip() for part in cookie.split(";")]
    path = "/"
    kept = [parts[0]]
    for part in parts[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "path":
            path = value.strip() or "/"
        elif part:
            kept.append(part)
    path = prefix + (path if path.startswith("/") else "/" + path)
    return "; ".join([*kept, f"Path={path}"])


async def relay_http(
    request: web.Request,
    sandbox: Sandbox,
    port: int,
    path_qs: str,
    prefix: str,
    rewrite: Callable[[bytes], bytes] | None = None,
) -> web.StreamResponse:
    """Relays `request` to `path_qs` on the sandbox's `port`; its answer comes back as a
    stream (or, with `rewrite`, read whole and rewritten: small JSON documents)."""
    public_base = f"{request.scheme}://{request.host}"
    headers = forwarded_headers(request.headers.items())
    headers["X-Forwarded-Prefix"] = prefix
    headers["X-Forwarded-Host"] = request.host
    headers["X-Forwarded-Proto"] = request.scheme
    body = request.content if request.body_exists else None
    async with loopback_client(sandbox) as client:
        try:
            answer = await client.request(
                request.method,
                f"http://127.0.0.1:{port}{path_qs}",
                headers=headers,
                data=body,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, OSError) as exc:
            raise unreachable(port, exc) from None
        async with answer:
            response = web.StreamResponse(status=answer.status, reason=answer.reason)
            for name, value in answer.headers.items():
                lowered = name.lower()
                if lowered in HOP_BY_HOP:
                    continue
                if lowered == "location":
                    value = _public_location(value, port, prefix, public_base)
                elif lowered == "set-cookie":
                    value = _cookie_under(prefix, value)
                response.headers.add(name, value)
            if rewrite is not None:
                content = rewrite(await answer.read())
                response.headers["Content-Length"] = str(len(content))
                await response.prepare(request)
                await response.write(content)
            else:
                await response.prepare(request)
                try:
                    async for chunk in answer.content.iter_any():
                        await response.write(chunk)
                except (aiohttp.ClientError, OSError):
                    log.debug("link to port %s: the session's server hung up", port)
            await response.write_eof()
            return response


async def relay_websocket(
    request: web.Request,
    sandbox: Sandbox,
    port: int,
    path_qs: str,
    track: Callable[[web.WebSocketResponse], object] | None = None,
) -> web.WebSocketResponse:
    """Opens `path_qs` on the sandbox's `port` as a WebSocket, then answers `request`'s
    upgrade and relays messages both ways until one side closes (its close code is passed
    on). `track` is told the client's socket once it is open (to close it at shutdown)."""
    protocols = [
        item.strip()
        for item in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
        if item.strip()
    ]
    headers = forwarded_headers(request.headers.items(), NOT_FORWARDED | WS_HANDSHAKE)
    headers.popall("Sec-WebSocket-Protocol", None)
    async with loopback_client(sandbox) as client:
        try:
            inner = await client.ws_connect(
                f"http://127.0.0.1:{port}{path_qs}",
                protocols=protocols,
                headers=headers,
                max_msg_size=MAX_WS_MESSAGE_BYTES,
                autoping=True,
            )
        except (aiohttp.ClientError, OSError) as exc:
            raise unreachable(port, exc) from None
        async with inner:
            outer = web.WebSocketResponse(
                protocols=[inner.protocol] if inner.protocol else (),
                max_msg_size=MAX_WS_MESSAGE_BYTES,
                autoping=True,
            )
            await outer.prepare(request)
            if track is not None:
                track(outer)
            async with anyio.create_task_group() as tg:
                tg.start_soon(_pump, inner, outer, tg.cancel_scope)
                tg.start_soon(_pump, outer, inner, tg.cancel_scope)
            await _close_like(outer, inner)
            await _close_like(inner, outer)
    return outer


Socket: TypeAlias = "web.WebSocketResponse[Any] | aiohttp.ClientWebSocketResponse[Any]"


async def _pump(source: Socket, sink: Socket, done: anyio.CancelScope) -> None:
    """Copies `source`'s messages to `sink` until `source` closes; then ends the relay."""
    try:
        async for message in source:
            if message.type == WSMsgType.TEXT:
                await sink.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await sink.send_bytes(message.data)
    except (ConnectionError, RuntimeError, aiohttp.ClientError):
        pass  # one side is gone: the relay ends
    finally:
        done.cancel()


async def _close_like(sock: Socket, peer: Socket) -> None:
    """Closes `sock` with the close code its peer closed with (1000 when it has none)."""
    code = peer.close_code
    if code is None or not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code < 5000):
        code = 1000  # 1005, 1006 and 1015 describe a close; they are never sent
    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
        await sock.close(code=code)
