"""The session's streaming channel (docs/protocol.md §5.2): one WebSocket per session, opened
on first use, reused by later runs and reopened when it was dropped; one run at a time on it.

A run is an async iterator of events that ends with `EndEvent`. It reads the socket only as
fast as its consumer takes events, so a slow consumer slows the sandbox's output down (TCP
backpressure) instead of making anything buffer without bound. A run left before its end
(cancelled, `break`, an error, its deadline) closes the socket, which interrupts the code in
the sandbox; the next run opens a new one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import anyio
import attrs

from .._protocol.stream import (
    DEFAULT_TARGET,
    HEADER_ACCESS_TOKEN,
    StreamFailed,
    StreamProtocolError,
    event_from,
    parse_frame,
    run_code_frame,
)
from ..errors import RequestTimeoutError, ServerError, ToolError, TransportError
from ..models import CodeEvent, EndEvent, McpTool
from ._channel import SessionChannel

PING_INTERVAL_S = 20.0  # keep a long run's connection alive, as the official client does
CONNECT_TIMEOUT_S = 30.0  # the official client's WebSocket connect timeout (§1.3)
CLOSE_TIMEOUT_S = 5.0
END_MARGIN_S = 10.0  # beyond the run's own timeout, before the client gives up waiting


@attrs.define
class StreamEndpoint:
    """Where a session streams: its `ws_url`, `token` and tool list (for the target)."""

    ws_url: str = ""
    token: str = ""
    tool_list: list[McpTool] = attrs.field(factory=list)

    @property
    def target(self) -> str:
        """The `server` of run_code in the tool list, else the cloud's default (§5.2)."""
        for tool in self.tool_list:
            if tool.name == "run_code" and tool.server:
                return tool.server
        return DEFAULT_TARGET


class StreamSocket:
    """The one WebSocket of a session (see the module docstring)."""

    def __init__(self, channel: SessionChannel, endpoint: StreamEndpoint) -> None:
        self._channel = channel
        self.endpoint = endpoint
        self._ws: Any = None
        self._turn = anyio.Semaphore(1)  # one run at a time; released from any task

    def run(self, code: str, language: str, timeout_s: int) -> CodeStream:
        """Start a run: the events of `code` as the sandbox produces them."""
        invocation_id = uuid.uuid4().hex
        return CodeStream(invocation_id, self._events(invocation_id, code, language, timeout_s))

    async def aclose(self) -> None:
        """Close the socket (a running cell is interrupted); the next run opens a new one."""
        ws, self._ws = self._ws, None
        if ws is None:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT_S):
            await ws.close()

    async def _events(
        self, invocation_id: str, code: str, language: str, timeout_s: int
    ) -> AsyncGenerator[CodeEvent, None]:
        await self._turn.acquire()
        ended = False
        try:
            frame = run_code_frame(invocation_id, self.endpoint.target, language, timeout_s, code)
            deadline = anyio.current_time() + timeout_s + END_MARGIN_S
            ws, data = await self._start(frame, invocation_id, deadline)
            while True:
                try:
                    event = event_from(data)
                except StreamFailed as exc:
                    ended = True  # the server ended this call; the socket is still good
                    raise ToolError(f"stream: the server reported an error: {exc}") from None
                if event is not None:
                    ended = isinstance(event, EndEvent)
                    yield event
                if ended:
                    return
                data = await self._next_data(ws, invocation_id, deadline)
        except StreamProtocolError as exc:
            raise ServerError(f"stream: {exc}") from None
        finally:
            if not ended:
                await self.aclose()  # interrupts the cell in the sandbox
            self._turn.release()

    async def _start(
        self, frame: str, invocation_id: str, deadline: float
    ) -> tuple[Any, Mapping[str, object]]:
        """Send the run's frame; the socket and the first frame of the answer. A kept
        connection the server closed while it was idle shows as closed only now, before any
        answer: then (and only then) the frame is sent once more, on a new connection."""
        reused = self._ws is not None and not self._ws.closed
        try:
            return await self._send_frame(frame, invocation_id, deadline)
        except _Closed:
            await self.aclose()
            if not reused:
                raise
        return await self._send_frame(frame, invocation_id, deadline)

    async def _send_frame(
        self, frame: str, invocation_id: str, deadline: float
    ) -> tuple[Any, Mapping[str, object]]:
        ws = await self._open()
        try:
            await ws.send_str(frame)
        except (ConnectionError, RuntimeError) as exc:
            raise _Closed(f"stream: the connection failed: {exc}") from None
        return ws, await self._next_data(ws, invocation_id, deadline)

    async def _open(self) -> Any:
        if self._ws is not None and not self._ws.closed:
            return self._ws
        await self.aclose()  # release what is left of a connection the server closed
        endpoint = self.endpoint
        if not endpoint.ws_url:
            raise ToolError("ws_url is not available for this session")
        if not endpoint.token:
            raise ToolError("token is not available for WS connection")
        opener = self._channel.engine.transport
        if not hasattr(opener, "connect_websocket"):
            raise TransportError(
                "streaming needs a transport that opens WebSockets (AiohttpTransport); "
                f"{type(opener).__name__} does not"
            )
        headers = {HEADER_ACCESS_TOKEN: endpoint.token}
        self._ws = await opener.connect_websocket(endpoint.ws_url, headers, CONNECT_TIMEOUT_S)
        return self._ws

    async def _next_data(
        self, ws: Any, invocation_id: str, deadline: float
    ) -> Mapping[str, object]:
        """The data of the next frame of this run; frames of an abandoned earlier run on
        this socket are skipped. Pings every PING_INTERVAL_S while the cell is silent."""
        import aiohttp  # the socket is aiohttp's; the module stays importable without it

        while True:
            left = deadline - anyio.current_time()
            if left <= 0:
                raise RequestTimeoutError("stream: the run did not end in time")
            try:
                message = await ws.receive(timeout=min(PING_INTERVAL_S, left))
            except (asyncio.TimeoutError, TimeoutError):
                await ws.ping()
                continue
            except (ConnectionError, RuntimeError) as exc:
                raise _Closed(f"stream: the connection failed: {exc}") from None
            if message.type is aiohttp.WSMsgType.TEXT:
                frame_id, data = parse_frame(message.data)
                if frame_id == invocation_id:
                    return data
                continue
            if message.type in (aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG):
                continue
            raise _Closed(f"stream: the connection closed ({message.type.name})")


class _Closed(TransportError):
    """The socket closed or failed under a run."""


class CodeStream:
    """The events of one run: `async for event in stream`. Leave it early with
    `async with` (or `await stream.aclose()`): the socket closes and the run is interrupted.
    `invocation_id` names the run (the result's request id)."""

    def __init__(self, invocation_id: str, events: AsyncGenerator[CodeEvent, None]) -> None:
        self.invocation_id = invocation_id
        self._events = events

    def __aiter__(self) -> CodeStream:
        return self

    async def __anext__(self) -> CodeEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop the run if it is still going (closes the session's socket)."""
        await self._events.aclose()

    async def __aenter__(self) -> CodeStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
