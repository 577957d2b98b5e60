"""The aiohttp application of AGB Local: the route table, the dispatcher in front of it, and
the cleanup context that runs the idle reaper and ends every sandbox on shutdown.

One catch-all aiohttp route feeds a dispatcher of our own instead of aiohttp's router,
because the official client joins endpoint and path by concatenation (`//mcp/...` happens)
and because every "no such route" or "wrong method" must still be a protocol envelope.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from functools import partial

import anyio
from aiohttp import web
from aiohttp.typedefs import Middleware

from .. import _protocol as p
from .auth import KeyRing
from .background import BackgroundTaskGroup
from .config import ServerConfig
from .draining import DRAIN, RequestDrain
from .envelope import (
    CODE_BODY_TIMEOUT,
    CODE_UNAUTHORIZED,
    ApiError,
    bad_request,
    session_quota_exceeded,
)
from .faults import FaultInjector, fault_middleware
from .middleware import current_request_id, envelope_errors
from .persistence import Persistence
from .presign import TRANSFER_ROUTE
from .registry import (
    AdmissionCheck,
    Registry,
    ReleaseHook,
    SessionRecord,
    reap_idle_sessions,
)
from .routes import browser, contexts, links, sessions, stream, syncs, transfer
from .sandbox import SandboxBackend
from .state import STATE, AppState, Call, RouteHandler
from .tools import routes as tool_routes

log = logging.getLogger("aioagb.server")


ROUTES: Mapping[str, Mapping[str, RouteHandler]] = {
    p.PATH_CREATE_SESSION: {"POST": sessions.create_session},
    p.PATH_GET_SESSION: {"POST": sessions.get_session},
    p.PATH_GET_SESSION_INFO: {"POST": sessions.get_session_status},
    p.PATH_LIST_SESSIONS: {"GET": sessions.list_sessions},
    p.PATH_SET_LABELS: {"POST": sessions.set_labels},
    p.PATH_GET_LABELS: {"GET": sessions.get_labels},
    p.PATH_RELEASE_ASYNC: {"POST": sessions.release_session},
    p.PATH_RELEASE: {"POST": sessions.release_session},
    p.PATH_KEEP_ALIVE: {"POST": sessions.keep_alive},
    p.PATH_GET_LINK: {"GET": links.get_link},
    p.PATH_GET_LINK_ASYNC: {"GET": links.get_link, "POST": links.get_link},
    p.PATH_INIT_BROWSER: {"POST": browser.init_browser},
    p.PATH_GET_CDP_LINK: {"POST": browser.get_cdp_link},
    p.PATH_GET_MCP_RESOURCE: {"POST": sessions.get_mcp_resource},
    p.PATH_GET_CONTEXT_INFO: {"GET": syncs.get_context_info},
    p.PATH_SYNC_CONTEXT: {"POST": syncs.sync_context},
    p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT: {"POST": syncs.get_and_load_internal_context},
    p.PATH_LIST_CONTEXTS: {"GET": contexts.list_contexts},
    p.PATH_GET_CONTEXT: {"GET": contexts.get_context},
    p.PATH_MODIFY_CONTEXT: {"POST": contexts.modify_context},
    p.PATH_DELETE_CONTEXT: {"POST": contexts.delete_context},
    p.PATH_CLEAR_CONTEXT: {"POST": contexts.clear_context},
    p.PATH_DESCRIBE_CONTEXT_FILES: {"POST": contexts.describe_context_files},
    p.PATH_GET_CONTEXT_FILE_UPLOAD_URL: {"POST": contexts.get_file_upload_url},
    p.PATH_GET_CONTEXT_FILE_DOWNLOAD_URL: {"POST": contexts.get_file_download_url},
    p.PATH_DELETE_CONTEXT_FILE: {"POST": contexts.delete_context_file},
    p.PATH_LIST_TOOLS: {"POST": tool_routes.list_tools},
    p.PATH_CALL_TOOL: {"POST": tool_routes.call_mcp_tool},
}


def _normalised(path: str) -> str:
    # `//mcp/x` from an endpoint with a trailing slash; a trailing slash is tolerated too.
    return re.sub(r"/{2,}", "/", path).rstrip("/") or "/"


def _tenant(state: AppState, request: web.Request) -> str:
    tenant = state.keyring.tenant_for(request.headers.get(p.HEADER_AUTHORIZATION))
    if tenant is None:
        raise ApiError(401, CODE_UNAUTHORIZED, "Missing or unknown API key")
    return tenant


async def _json_body(request: web.Request, timeout_s: float) -> dict[str, object]:
    if request.method == "GET":
        return {}  # GET parameters are in the query string; a body is ignored
    try:
        with anyio.fail_after(timeout_s):
            raw = await request.read()  # raises 413 past client_max_size
    except TimeoutError:
        # A body trickling in (a byte every 100 ms) would otherwise hold its handler forever.
        raise ApiError(
            408, CODE_BODY_TIMEOUT, f"The request body did not arrive within {timeout_s:g} s"
        ) from None
    try:
        # JSON is UTF-8 (RFC 8259), whatever charset the Content-Type claims: decoding by
        # the header let invalid bytes or `charset=utf-16` escape as a 500.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("Request body is not valid UTF-8") from None
    if not text.strip():
        return {}
    try:
        body = json.loads(text)
    except RecursionError:  # `[[[[...]]]]` nested past the parser's stack
        raise bad_request("Request body is nested too deeply") from None
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


async def dispatch(request: web.Request) -> web.StreamResponse:
    """The one aiohttp handler: finds the route, authenticates, parses the body, and calls the
    route's handler with a `Call`."""
    methods = ROUTES.get(_normalised(request.path))
    if methods is None:
        raise web.HTTPNotFound()
    handler = methods.get(request.method)
    if handler is None:
        raise ApiError(
            405, "InvalidAction.MethodNotAllowed", f"Use {' or '.join(methods)} for this route"
        )
    state = request.app[STATE]
    call = Call(
        request=request,
        state=state,
        request_id=current_request_id(),
        tenant=_tenant(state, request),
        query=request.query,
        body=await _json_body(request, state.config.body_timeout_s),
    )
    return await handler(call)


async def _run_sessions(app: web.Application) -> AsyncIterator[None]:
    """The server's lifetime: the context store opens first (recovering from a crash), the
    idle reaper, the store's upkeep and the backend's warm sandboxes run in the background;
    on the way out every session is released (uploading its contexts) before the store
    closes, even when the cleanup is cancelled."""
    state = app[STATE]
    store = state.persistence.store
    await anyio.to_thread.run_sync(store.open)
    try:
        background = BackgroundTaskGroup()
        reaper = partial(reap_idle_sessions, state.registry, state.config.reaper_interval_s)
        await background.start(
            reaper, state.persistence.maintenance.run, state.registry.backend.keep_warm
        )
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await background.aclose()
                await state.registry.aclose()
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(store.close)


def _session_quota(limit: int | None) -> AdmissionCheck | None:
    if limit is None:
        return None

    def admit(tenant: str, live: int) -> None:
        if live >= limit:
            raise session_quota_exceeded(limit)

    return admit


def _release_hooks(*hooks: ReleaseHook) -> ReleaseHook:
    """One release hook that runs `hooks` in order, each whatever the previous one did."""

    async def run_all(record: SessionRecord) -> None:
        for hook in hooks:
            try:
                await hook(record)
            except Exception:
                log.exception("session %s: work before its release failed", record.session_id)

    return run_all


def build_app(config: ServerConfig, keyring: KeyRing, backend: SandboxBackend) -> web.Application:
    """AGB Local's aiohttp application: the envelope, drain (and optional fault) middleware,
    the dispatcher, and the sessions' lifetime as a cleanup context."""
    drain = RequestDrain()
    middlewares: list[Middleware] = [envelope_errors, drain.middleware()]
    if config.faults is not None:
        # Inside the envelope middleware: an injected fault still gets a request id header.
        middlewares.append(fault_middleware(FaultInjector(config.faults)))
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=middlewares)
    persistence = Persistence.from_config(config)
    registry = Registry(
        backend,
        release_timeout_s=config.release_timeout_s,
        admit=_session_quota(config.max_sessions_per_key),
        before_release=_release_hooks(browser.stop_before_release, persistence.syncs.detach),
    )
    app[STATE] = AppState(
        config=config, keyring=keyring, registry=registry, persistence=persistence
    )
    app[DRAIN] = drain
    # Pre-signed URLs carry their own authority (an HMAC), not an API key: their own route,
    # ahead of the dispatcher that requires one.
    app.router.add_route("*", TRANSFER_ROUTE + "/{name:.*}", transfer.serve_presigned)
    stream.install(app)  # its WebSocket route comes before the catch-all
    links.install(app)  # the bridge's routes too: links, then CDP
    browser.install(app)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    app.cleanup_ctx.append(_run_sessions)
    return app
