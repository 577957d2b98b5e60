"""The streaming channel of run_code (agb-wire.md §5.2): a WebSocket per client and session.

create and getSession hand out the session's `wsUrl` and `token` (`stream_fields`); the
socket opens only with that token in `X-Access-Token`. One socket stays open for many calls
(the official client keeps it, pinging every 20 s), and several calls may run on it at once,
each under its own invocation id. A call's output leaves the sandbox as it is produced, and
no faster than the client reads it: each frame is sent (awaiting the socket's flow control)
before the next event is taken, and the sandbox produces a bounded number of events ahead
(`Sandbox.stream_code`). A `cancel` frame interrupts its call in the sandbox; a client that
goes away interrupts all of its calls.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
from aiohttp import WSMsgType, web

from ... import _protocol as p
from ..envelope import CODE_UNAUTHORIZED, ApiError
from ..params import optional, optional_int, required
from ..registry import Registry, SessionRecord
from ..sandbox import SandboxError, SandboxLimits
from ..state import STATE, Call
from ..stream_tokens import StreamTokens
from ..tools import stream_format as fmt

log = logging.getLogger("aioagb.server")

STREAM_PATH = "/ws/session/{session_id}"
HEARTBEAT_S = 20.0  # ping the client as it pings us: a vanished peer is noticed
MAX_CALLS_PER_SOCKET = 16  # calls running at once on one socket (python ones queue anyway)
CODE_STREAM = "InvalidParameter.Stream"

TOKENS = web.AppKey("aioagb_stream_tokens", StreamTokens)
SOCKETS = web.AppKey("aioagb_stream_sockets", weakref.WeakSet[Any])


def install(app: web.Application) -> None:
    """Adds the channel to `app`: its route (before the catch-all dispatcher's), its token
    key, and closing the open sockets on shutdown (their calls are interrupted)."""
    app[TOKENS] = StreamTokens()
    app[SOCKETS] = weakref.WeakSet()
    app.router.add_get(STREAM_PATH, stream_socket)
    app.on_shutdown.append(_close_sockets)


def stream_fields(call: Call, record: SessionRecord) -> dict[str, str]:
    """The `wsUrl` and `token` of a session, for create and getSession (§3.1, §3.2)."""
    scheme = "wss" if call.request.scheme == "https" else "ws"
    path = STREAM_PATH.format(session_id=record.session_id)
    return {
        p.KEY_WS_URL: f"{scheme}://{call.request.host}{path}",
        p.KEY_TOKEN: call.request.app[TOKENS].issue(record.tenant, record.session_id),
    }


async def stream_socket(request: web.Request) -> web.StreamResponse:
    """The socket's handshake (token, session) and then its frames until either side
    closes it."""
    session_id = request.match_info["session_id"]
    token = request.headers.get(p.HEADER_ACCESS_TOKEN)
    tenant = request.app[TOKENS].tenant_of(token, session_id)
    if tenant is None:
        raise ApiError(401, CODE_UNAUTHORIZED, f"Missing or wrong {p.HEADER_ACCESS_TOKEN}")
    state = request.app[STATE]
    state.registry.lookup(tenant, session_id)  # not found: the protocol's reply (§2)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=state.config.max_body_bytes)
    if not ws.can_prepare(request).ok:
        raise ApiError(400, CODE_STREAM, "This route is a WebSocket: send an Upgrade request")
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    connection = _Connection(ws, state.registry, tenant, session_id, state.config.limits)
    try:
        await connection.serve()
    finally:
        request.app[SOCKETS].discard(ws)
    return ws


async def _close_sockets(app: web.Application) -> None:
    sockets: weakref.WeakSet[Any] = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=1001, message=b"server shutdown")


class _Connection:
    """One open socket: its frames in, its calls' frames out."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        registry: Registry,
        tenant: str,
        session_id: str,
        limits: SandboxLimits,
    ) -> None:
        self._ws = ws
        self._registry = registry
        self._tenant = tenant
        self._session_id = session_id
        self._limits = limits
        self._send_lock = anyio.Lock()
        self._calls: dict[str, anyio.CancelScope] = {}
        self._tasks: anyio.abc.TaskGroup | None = None

    async def serve(self) -> None:
        """Reads frames until the client closes; then interrupts every call still running."""
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            async for message in self._ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_frame(message.data, tg)
                elif message.type == WSMsgType.BINARY:
                    log.debug("stream %s: a binary frame, ignored", self._session_id)
            tg.cancel_scope.cancel()

    async def _on_frame(self, raw: str, tg: anyio.abc.TaskGroup) -> None:
        try:
            request = fmt.read_frame(raw)
            if request.method == p.STREAM_METHOD_CANCEL:
                scope = self._calls.get(request.invocation_id)
                if scope is not None:
                    scope.cancel()
                return
            if request.method != p.STREAM_METHOD_RUN_CODE:
                raise fmt.FrameError(request.invocation_id, f"unknown method {request.method!r}")
            if request.invocation_id in self._calls:
                raise fmt.FrameError(request.invocation_id, "this invocationId is running")
            if len(self._calls) >= MAX_CALLS_PER_SOCKET:
                raise fmt.FrameError(
                    request.invocation_id,
                    f"too many calls at once on one socket (at most {MAX_CALLS_PER_SOCKET})",
                )
            code, language, timeout_s = self._run_params(request)
        except fmt.FrameError as exc:
            if exc.invocation_id:
                data = fmt.error_data(exc.message, CODE_STREAM)
                await self._send(exc.invocation_id, p.STREAM_DEFAULT_TARGET, data)
            else:
                log.debug("stream %s: %s", self._session_id, exc.message)
            return
        scope = anyio.CancelScope()
        self._calls[request.invocation_id] = scope
        tg.start_soon(self._run, scope, request, code, language, timeout_s)

    def _run_params(self, request: fmt.ClientFrame) -> tuple[str, str, float]:
        """run_code's params (`code`, `language`, `timeoutS`), checked as `POST /mcp` checks
        its `args`."""
        try:
            code = required(request.params, "code", str, "params")
            raw_language = optional(request.params, "language", str, "params") or "python"
            timeout_s = optional_int(request.params, "timeoutS", "params")
        except ApiError as exc:
            raise fmt.FrameError(request.invocation_id, exc.message) from None
        language = p.canonical_language(raw_language)
        if language is None:
            supported = ", ".join(p.LANGUAGES)
            raise fmt.FrameError(
                request.invocation_id,
                f"Unsupported language: {raw_language}. Supported languages are {supported}",
            )
        if timeout_s is None:
            timeout_s = p.DEFAULT_CODE_TIMEOUT_S
        if timeout_s <= 0:
            raise fmt.FrameError(request.invocation_id, "params.timeoutS must be positive")
        return code, language, min(float(timeout_s), self._limits.max_timeout_s)

    async def _run(
        self,
        scope: anyio.CancelScope,
        request: fmt.ClientFrame,
        code: str,
        language: str,
        timeout_s: float,
    ) -> None:
        """One call: its events as frames; its failure to start as an `error` frame."""
        invocation, source = request.invocation_id, request.target
        try:
            with scope:
                try:
                    await self._stream(invocation, source, code, language, timeout_s)
                except ApiError as exc:  # the session is gone
                    await self._send(invocation, source, fmt.error_data(exc.message, exc.code))
                except SandboxError as exc:
                    message = str(exc) or type(exc).__name__
                    await self._send(invocation, source, fmt.error_data(message, CODE_STREAM))
            if scope.cancelled_caught:  # a `cancel` frame: the client hears the end
                await self._send(invocation, source, fmt.cancelled_data())
        finally:
            self._calls.pop(invocation, None)

    async def _stream(
        self, invocation: str, source: str, code: str, language: str, timeout_s: float
    ) -> None:
        record = self._registry.lookup(self._tenant, self._session_id)
        running = record.sandbox.stream_code(code, language, timeout_s)
        async with self._registry.busy(record), running as events:
            async for event in events:
                for data in fmt.event_data(event):
                    await self._send(invocation, source, data)

    async def _send(self, invocation: str, source: str, data: dict[str, object]) -> None:
        """One frame, once the socket takes it (its flow control is the backpressure). A
        socket that is gone ends the connection: its calls are interrupted."""
        async with self._send_lock:
            try:
                await self._ws.send_str(fmt.frame(invocation, source, data))
                return
            except (ConnectionError, RuntimeError):
                log.debug("stream %s: the client is gone", self._session_id)
        assert self._tasks is not None
        self._tasks.cancel_scope.cancel()
        await anyio.lowlevel.checkpoint()  # this call ends here, cancelled with the others
