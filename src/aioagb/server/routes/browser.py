"""Browser sessions (agb-wire.md §15): `/browser/init` starts the session's headless Chromium
in its sandbox, `/internet/getCdpLink` hands out the URL of its DevTools (CDP) endpoint on
AGB Local's own port, and the CDP route relays it (`bridge`) to Playwright and friends.

A CDP URL is `ws://{host}/agb-local/cdp/{session}/{secret}/devtools/browser/{id}`, its
secret made and checked as a link's (`links`). The same prefix also answers Chromium's HTTP
endpoints (`/json/version`, `/json/list`, ...) with their WebSocket URLs pointed at the
relay, so `connect_over_cdp("http://.../agb-local/cdp/{session}/{secret}")` works too.
"""

from __future__ import annotations

import anyio
from aiohttp import web

from ... import _protocol as p
from ..browser_launch import checked_profile, launch_from_option
from ..envelope import ApiError, not_on_agb_local
from ..images import ImageKind, image_kind
from ..params import parse_json_object
from ..registry import SessionRecord
from ..sandbox import SandboxError, SandboxUnavailable
from ..state import Call
from .links import SECRETS, authorized_session, public_scheme, relay, secret_scope
from .sessions import session_id_of

CDP_PREFIX = "/agb-local/cdp/{session_id}/{token}"
CDP_ROUTE = CDP_PREFIX + "{tail:.*}"
CDP_SCOPE = "cdp"
CODE_BROWSER = "Browser.NotRunning"
CODE_BROWSER_START = "Browser.StartFailed"
STOP_BEFORE_RELEASE_S = 20.0


def install(app: web.Application) -> None:
    """Adds the CDP route, before the catch-all dispatcher's (after `links.install`)."""
    app.router.add_route("*", CDP_ROUTE, serve_cdp)


def _browser_session(call: Call) -> SessionRecord:
    record = call.session(session_id_of(call))
    if image_kind(record.image_id) is not ImageKind.BROWSER_USE:
        raise not_on_agb_local(
            f"The browser of session {record.session_id} (image {record.image_id}: only "
            f"{p.IMAGE_PREFIX_BROWSER_USE}* images have one)"
        )
    return record


async def init_browser(call: Call) -> web.Response:
    """`/browser/init` (§15.1): (re)starts the session's browser with `browserOption`, its
    profile at `persistentPath`; answers the DevTools port inside the sandbox."""
    record = _browser_session(call)
    profile = checked_profile(call.query.get(p.Q_PERSISTENT_PATH))
    option = parse_json_object(call.query.get(p.Q_BROWSER_OPTION) or "{}", p.Q_BROWSER_OPTION)
    launch = launch_from_option(option, profile)
    async with call.registry.busy(record):
        try:
            endpoint = await record.sandbox.start_browser(launch)
        except SandboxUnavailable as exc:
            raise ApiError(400, CODE_BROWSER_START, f"The browser did not start: {exc}") from None
        except SandboxError as exc:
            raise ApiError(500, CODE_BROWSER_START, f"The browser did not start: {exc}") from None
    return call.ok({p.KEY_PORT: endpoint.port})


async def get_cdp_link(call: Call) -> web.Response:
    """`/internet/getCdpLink` (§15.3): the relay URL of the running browser's WebSocket."""
    record = _browser_session(call)
    endpoint = await record.sandbox.browser_endpoint()
    if endpoint is None:
        raise ApiError(400, CODE_BROWSER, "The session's browser is not running: initialize it")
    secret = call.request.app[SECRETS].issue(
        call.tenant, secret_scope(record.session_id, CDP_SCOPE)
    )
    prefix = CDP_PREFIX.format(session_id=record.session_id, token=secret)
    url = f"{public_scheme(call.request, True)}://{call.request.host}{prefix}{endpoint.path}"
    return call.ok({p.KEY_URL: url})


async def serve_cdp(request: web.Request) -> web.StreamResponse:
    """The CDP route: the secret, then the relay to the browser's DevTools port."""
    record = authorized_session(request, CDP_SCOPE)
    endpoint = await record.sandbox.browser_endpoint()
    if endpoint is None:
        raise ApiError(409, CODE_BROWSER, "The session's browser is not running")
    prefix = CDP_PREFIX.format(session_id=record.session_id, token=request.match_info["token"])
    public = f"{request.host}{prefix}"
    local = f"127.0.0.1:{endpoint.port}"

    def point_at_relay(body: bytes) -> bytes:
        # /json/version and /json/list name the DevTools WebSockets by the browser's own
        # address (`ws://127.0.0.1:PORT/...`, `ws=127.0.0.1:PORT/...`).
        ws = public_scheme(request, True)
        body = body.replace(f"ws://{local}".encode(), f"{ws}://{public}".encode())
        return body.replace(f"{ws}={local}".encode(), f"{ws}={public}".encode())

    rewrite = point_at_relay if request.match_info["tail"].startswith("/json") else None
    return await relay(request, record, endpoint.port, prefix, rewrite=rewrite)


async def stop_before_release(record: SessionRecord) -> None:
    """Stops a released session's browser first, so its profile is on disk for the context
    upload that follows (§13.6 item 3)."""
    if image_kind(record.image_id) is not ImageKind.BROWSER_USE:
        return
    # Bounded: a hung sandbox must not hold up its release (the sandbox is killed next).
    with anyio.move_on_after(STOP_BEFORE_RELEASE_S):
        try:
            await record.sandbox.stop_browser()
        except SandboxError as exc:
            raise ApiError(500, CODE_BROWSER, f"stopping the browser failed: {exc}") from None
