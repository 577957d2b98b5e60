"""Links to ports in a session (agb-wire.md §3.10, §16.1): `getLink` hands out a URL on
AGB Local's own port that reaches what a session's process listens on (`python3 -m
http.server 8080` inside the session), and the link route relays it (`bridge`).

A link URL is `{scheme}://{host}/agb-local/link/{session}/{port}/{secret}/`: the secret is
an HMAC of the owner, the session and the port under a key of this server process
(`StreamTokens`), so a link opens one port of one session, and a guessed, altered or other
tenant's one gets a 403. A request that also carries an API key must carry its owner's.

AGB Local serves plain http and ws on loopback (or https and wss behind a TLS proxy: the
scheme follows the request's): `protocolType` picks http or ws, its "s" is the server's.
Any port 1-65535 works; the cloud's own links take 30100-30199.
"""

from __future__ import annotations

import weakref
from typing import Any

from aiohttp import web

from ... import _protocol as p
from ..bridge import relay_http, relay_websocket
from ..envelope import ApiError, bad_request
from ..registry import SessionRecord
from ..state import STATE, Call
from ..stream_tokens import StreamTokens
from .sessions import session_id_of

LINK_PREFIX = "/agb-local/link/{session_id}/{port}/{token}"
LINK_ROUTE = LINK_PREFIX + "{tail:.*}"
CODE_FORBIDDEN = "InvalidLinkToken.Forbidden"

SECRETS = web.AppKey("aioagb_bridge_secrets", StreamTokens)
RELAYS = web.AppKey("aioagb_bridge_relays", weakref.WeakSet[Any])


def install(app: web.Application) -> None:
    """Adds the link route (before the catch-all dispatcher's), the secrets' key, and
    closing the relayed WebSockets on shutdown."""
    app[SECRETS] = StreamTokens()
    app[RELAYS] = weakref.WeakSet()
    app.router.add_route("*", LINK_ROUTE, serve_link)
    app.on_shutdown.append(_close_relays)


def secret_scope(session_id: str, what: str) -> str:
    """What a bridge secret opens: `what` ("cdp", "port:8080") of one session."""
    return f"{session_id}\0{what}"


def public_scheme(request: web.Request, websocket: bool) -> str:
    """The scheme of a URL on this server: http(s), or ws(s) for a WebSocket."""
    secure = request.scheme == "https"
    return ("wss" if secure else "ws") if websocket else ("https" if secure else "http")


async def get_link(call: Call) -> web.Response:
    """`/internet/getLink` and `/mcp/getLink` (§3.10): the URL of a port of the session."""
    record = call.session(session_id_of(call))
    raw_protocol = call.query.get(p.Q_PROTOCOL_TYPE, call.body.get(p.Q_PROTOCOL_TYPE))
    protocol = str(raw_protocol or "http").strip().lower()
    if protocol not in p.LINK_PROTOCOLS:
        raise bad_request(f"protocolType must be one of {', '.join(p.LINK_PROTOCOLS)}")
    port = _port(call.query.get(p.Q_PORT, call.body.get(p.Q_PORT)))
    secret = call.request.app[SECRETS].issue(
        call.tenant, secret_scope(record.session_id, f"port:{port}")
    )
    scheme = public_scheme(call.request, protocol in ("ws", "wss"))
    path = LINK_PREFIX.format(session_id=record.session_id, port=port, token=secret)
    return call.ok({p.KEY_URL: f"{scheme}://{call.request.host}{path}/"})


def _port(raw: object) -> int:
    if raw is None or raw == "":
        raise bad_request(
            "port is required on AGB Local: the port a process of the session listens on"
        )
    try:
        port = int(str(raw))
    except ValueError:
        raise bad_request("port must be an integer") from None
    if not 0 < port < 65536:
        raise bad_request("port must be between 1 and 65535")
    return port


def authorized_session(request: web.Request, what: str) -> SessionRecord:
    """The session a bridge URL opens; a 403 for a missing or wrong secret, or for an API
    key of another tenant."""
    state = request.app[STATE]
    session_id, token = request.match_info["session_id"], request.match_info["token"]
    tenant = request.app[SECRETS].tenant_of(token, secret_scope(session_id, what))
    if tenant is None:
        raise ApiError(403, CODE_FORBIDDEN, "This link's secret is missing or wrong")
    header = request.headers.get(p.HEADER_AUTHORIZATION)
    if header is not None and state.keyring.tenant_for(header) != tenant:
        raise ApiError(403, CODE_FORBIDDEN, "This link belongs to another API key")
    return state.registry.lookup(tenant, session_id)  # gone: the protocol's not-found


def is_websocket(request: web.Request) -> bool:
    """Whether `request` asks to become a WebSocket."""
    return request.headers.get("Upgrade", "").lower() == "websocket"


def upstream_path(request: web.Request, prefix: str) -> str:
    """The relayed path and query, as the client encoded them: what follows `prefix`."""
    raw = request.raw_path
    if not raw.startswith(prefix):
        raise web.HTTPNotFound()  # the prefix itself percent-encoded: not a URL we made
    rest = raw[len(prefix) :] or "/"
    if rest.startswith("?"):
        rest = "/" + rest
    if not rest.startswith("/"):
        raise web.HTTPNotFound()
    return rest


async def relay(
    request: web.Request, record: SessionRecord, port: int, prefix: str, **kw: Any
) -> web.StreamResponse:
    """Relays `request` to `port` in `record`'s sandbox, the session busy meanwhile (a
    relayed browser or server in use is not idle)."""
    path = upstream_path(request, prefix)
    async with request.app[STATE].registry.busy(record):
        if is_websocket(request):
            return await relay_websocket(
                request, record.sandbox, port, path, track=request.app[RELAYS].add
            )
        return await relay_http(request, record.sandbox, port, path, prefix, **kw)


async def serve_link(request: web.Request) -> web.StreamResponse:
    """The link route: the secret, then the relay to the session's port."""
    raw_port = request.match_info["port"]
    if not raw_port.isdigit():
        raise ApiError(403, CODE_FORBIDDEN, "This link's secret is missing or wrong")
    port = int(raw_port)
    record = authorized_session(request, f"port:{port}")
    prefix = LINK_PREFIX.format(
        session_id=record.session_id, port=raw_port, token=request.match_info["token"]
    )
    return await relay(request, record, port, prefix)


async def _close_relays(app: web.Application) -> None:
    sockets: weakref.WeakSet[Any] = app[RELAYS]
    for socket in list(sockets):
        await socket.close(code=1001, message=b"server shutdown")
