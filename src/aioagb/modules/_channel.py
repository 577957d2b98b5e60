"""The engine bound to one session: its requests and the tool call every module makes.

Raising style: a successful tool call (`POST /mcp`, docs/protocol.md §4) returns its payload
text; a tool that ran and failed (`isError`) raises `ToolError` with the payload in
`details["payload"]`; an API failure raises the typed error of the reply; no answer raises
`TransportError`. A reply that says the session is not found, or a connection that could not
be made or was lost, marks the channel `gone`: the pool retires such a session at once.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .. import _protocol as p
from .._engine import Engine
from .._protocol.replies import Reply, reply_error, tool_reply
from .._protocol.requests import ApiRequest, call_tool
from ..errors import AGBError, NotFoundError, RequestTimeoutError, ToolError, TransportError

# A tool call whose execution timeout is longer than the client's request timeout gets this
# much more than its execution timeout as its request timeout, so the server can answer.
TIMEOUT_MARGIN_S = 10.0
# Tools that only read (and mkdir, which is harmless to repeat): retried on transient
# failures like other idempotent requests.
IDEMPOTENT_TOOLS = frozenset(
    {
        p.TOOL_READ_FILE,
        p.TOOL_GET_FILE_INFO,
        p.TOOL_LIST_DIRECTORY,
        p.TOOL_SEARCH_FILES,
        p.TOOL_READ_MULTIPLE_FILES,
        p.TOOL_CREATE_DIRECTORY,
        p.TOOL_GET_METRICS,
    }
)


@attrs.frozen(slots=True)
class ToolText:
    """A tool's successful answer: its payload text (None when it sent none)."""

    text: str | None
    request_id: str


class SessionChannel:
    """Requests and tool calls of one session on the engine (see the module docstring);
    what the session and its code, command and file modules share."""

    def __init__(self, engine: Engine, session_id: str) -> None:
        self.engine = engine
        self.session_id = session_id
        self.gone_reason: str | None = None  # why the session can no longer be used

    def _note(self, error: AGBError) -> None:
        if isinstance(error, NotFoundError):
            self.gone_reason = f"the server no longer knows it: {error.message}"
        elif isinstance(error, TransportError) and not isinstance(error, RequestTimeoutError):
            self.gone_reason = f"its connection failed: {error.message}"

    async def send(self, request: ApiRequest, *, timeout: float | None = None) -> Reply:
        """`Engine.send` for this session's requests."""
        try:
            reply = await self.engine.send(request, timeout=timeout)
        except AGBError as exc:
            self._note(exc)
            raise
        return reply

    async def expect(
        self, request: ApiRequest, fallback: str, *, exactly_200: bool = False
    ) -> Reply:
        """`Engine.expect` for this session's requests."""
        try:
            reply = await self.engine.expect(request, fallback, exactly_200=exactly_200)
        except AGBError as exc:
            self._note(exc)
            raise
        return reply

    def timeout_for(self, execution_s: float) -> float:
        """The request timeout for a call that may execute for `execution_s` seconds."""
        return max(self.engine.request_timeout, execution_s + TIMEOUT_MARGIN_S)

    async def call(
        self,
        name: str,
        args: Mapping[str, object],
        *,
        idempotent: bool | None = None,
        timeout: float | None = None,
    ) -> ToolText:
        """Call `name` with `args`; see the module docstring for what raises."""
        if idempotent is None:
            idempotent = name in IDEMPOTENT_TOOLS
        request = call_tool(self.session_id, name, args, idempotent=idempotent)
        reply = await self.send(request, timeout=timeout)
        answer = tool_reply(reply)
        if answer.ok:
            return ToolText(answer.text, reply.request_id)
        if answer.is_tool_error:
            raise ToolError(
                answer.error_message,
                request_id=reply.request_id,
                code=reply.code,
                http_status=reply.status,
                details={"payload": answer.text},
            )
        error = reply_error(reply, answer.error_message)
        self._note(error)
        raise error
