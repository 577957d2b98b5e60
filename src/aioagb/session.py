"""AsyncSession: one AGB session, its seed-parity operations and its code/command/file modules.

Seed-parity methods (`info`, `get_status`, `keep_alive`, `set_labels`, `get_labels`,
`delete`, `list_mcp_tools`, `call_mcp_tool`, and the modules' methods) return result objects
and do not raise for failures the server reports. `aclose()` and `async with session:` are the
async-native way out: they raise `SessionDeleteError` when the session could not be deleted.
Invalid arguments raise `InvalidArgumentError` everywhere, before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from . import _protocol as p
from . import _validate as v
from . import _wire as wire
from ._modules import CodeModule, CommandModule, FileSystem
from .errors import AGBError, SessionDeleteError, ToolError
from .models import (
    DeleteResult,
    EnhancedCodeExecutionResult,
    McpTool,
    McpToolResult,
    McpToolsResult,
    OperationResult,
    SessionStatusResult,
)

if TYPE_CHECKING:
    from types import TracebackType

    from .client import AsyncAGB

# Label keys the SDK puts on sessions it creates (see _orphans); hidden from get_labels().
SDK_LABEL_PREFIX = "aioagb-"


@attrs.frozen(slots=True)
class ToolCall:
    """The outcome of one `POST /mcp`, before a module reads its payload."""

    ok: bool
    text: str | None
    error_message: str
    request_id: str
    exception: AGBError | None
    is_tool_error: bool


class AsyncSession:
    """A handle on one session. Cheap: holds ids and a reference to its client."""

    def __init__(
        self,
        agb: AsyncAGB,
        session_id: str,
        *,
        image_id: str = "",
        resource_url: str = "",
        app_instance_id: str = "",
        resource_id: str = "",
    ) -> None:
        self.agb = agb
        self.session_id = v.check_session_id(session_id)
        self.image_id = image_id
        self.resource_url = resource_url
        self.app_instance_id = app_instance_id
        self.resource_id = resource_id
        self.code = CodeModule(self)
        self.command = CommandModule(self)
        self.file = FileSystem(self)
        self._deleted = False

    def __repr__(self) -> str:
        return f"AsyncSession(session_id={self.session_id!r}, image_id={self.image_id!r})"

    # The seed's accessor names.
    def get_session_id(self) -> str:
        return self.session_id

    async def run_code(
        self, code: str, language: str, timeout_s: int = p.DEFAULT_CODE_TIMEOUT_S
    ) -> EnhancedCodeExecutionResult:
        """The seed's name for `session.code.run`."""
        return await self.code.run(code, language, timeout_s=timeout_s)

    # --- seed-parity session operations ------------------------------------------------------

    async def info(self) -> OperationResult[dict[str, object]]:
        """`POST /mcp/getMcpResource`: session id and resource URL (success = HTTP 200, §3.11)."""
        reply = await self.agb._attempt(wire.get_mcp_resource(self.session_id))
        if isinstance(reply, AGBError):
            return OperationResult(
                request_id=reply.request_id, error_message=reply.message, exception=reply
            )
        data = reply.data_object()
        if reply.status != 200 or not data:
            message = _resource_error(reply) if reply.status != 200 else ""
            message = message or "No resource data found in response"
            return OperationResult(
                request_id=reply.request_id,
                error_message=message,
                exception=wire.reply_error(reply, message),
            )
        result: dict[str, object] = {
            "session_id": data.get("sessionId", ""),
            "resource_url": data.get("resourceUrl", ""),
        }
        desktop = data.get("desktopInfo")
        if isinstance(desktop, dict):
            for key, name in (
                ("appId", "app_id"),
                ("authCode", "auth_code"),
                ("connectionProperties", "connection_properties"),
                ("resourceId", "resource_id"),
                ("resourceType", "resource_type"),
                ("ticket", "ticket"),
            ):
                result[name] = desktop.get(key, "")
        return OperationResult(request_id=reply.request_id, success=True, data=result)

    async def get_status(self) -> SessionStatusResult:
        reply = await self.agb._attempt(wire.get_session_status(self.session_id))
        if isinstance(reply, AGBError):
            return SessionStatusResult(
                request_id=reply.request_id, error_message=reply.message, exception=reply
            )
        data = reply.data_object()
        status = data.get("status") or data.get("Status") or ""
        ok = reply.success
        message = "" if ok else reply.error_text("Unknown error")
        return SessionStatusResult(
            request_id=reply.request_id,
            success=ok,
            error_message=message,
            http_status_code=reply.http_status_code,
            code=reply.code,
            status=str(status),
            exception=None if ok else wire.reply_error(reply, message),
        )

    async def keep_alive(self) -> OperationResult[None]:
        """Restart the idle-release timer (`POST /mcp/refreshSessionIdleTime`)."""
        request = wire.keep_alive(self.session_id)
        return await self.agb._operation(request, "HTTP {status} error", exactly_200=True)

    async def set_labels(self, labels: Mapping[str, str]) -> OperationResult[None]:
        """Replace the session's whole label set (`POST /sdk/SetLabel`, §3.5)."""
        checked = v.check_labels(labels, allow_empty=False)
        return await self.agb._operation(wire.set_labels(self.session_id, checked), "Unknown error")

    async def get_labels(self) -> OperationResult[dict[str, str]]:
        """The session's labels; the SDK's own `aioagb-*` bookkeeping labels are left out."""
        reply = await self.agb._attempt(wire.get_labels(self.session_id))
        if isinstance(reply, AGBError):
            return OperationResult(
                request_id=reply.request_id, error_message=reply.message, exception=reply
            )
        if not (reply.status == 200 and reply.success):  # exactly 200 (§3.6)
            message = reply.error_text(f"HTTP {reply.status} error")
            return OperationResult(
                request_id=reply.request_id,
                error_message=message,
                exception=wire.reply_error(reply, message),
            )
        labels = {
            k: val
            for k, val in wire.labels_from(reply).items()
            if not k.startswith(SDK_LABEL_PREFIX)
        }
        return OperationResult(request_id=reply.request_id, success=True, data=labels)

    async def delete(self) -> DeleteResult:
        """Release the session and wait until the server reports it gone (§3.7)."""
        result = await self.agb._delete_session(self.session_id)
        if result.success:
            self._deleted = True
        return result

    async def list_mcp_tools(self, image_id: str | None = None) -> McpToolsResult:
        image = image_id if image_id is not None else self.image_id
        image = v.check_text("image_id (this session was not created here, pass it)", image)
        reply = await self.agb._attempt(wire.list_tools(image))
        if isinstance(reply, AGBError):
            return McpToolsResult(
                request_id=reply.request_id, error_message=reply.message, exception=reply
            )
        if not (reply.status == 200 and reply.success):
            message = reply.error_text("API request failed")
            return McpToolsResult(
                request_id=reply.request_id,
                error_message=message,
                exception=wire.reply_error(reply, message),
            )
        tools = [
            McpTool(
                name=str(item.get("name", "")),
                description=str(item.get("description", "")),
                input_schema=dict(schema)
                if isinstance(schema := item.get("inputSchema"), dict)
                else {},
                server=str(item.get("server", "")),
                tool=str(item.get("tool", "")),
            )
            for item in wire.tool_list_from(reply)
        ]
        return McpToolsResult(request_id=reply.request_id, success=True, tools=tools)

    async def call_mcp_tool(
        self, tool_name: str, args: Mapping[str, object], *, timeout: float | None = None
    ) -> McpToolResult:
        """Call any tool by name; `data` is the raw payload text (§4.6).

        `timeout` is this request's timeout in seconds (default: the client's).
        """
        name = v.check_text("tool_name", tool_name)
        if not isinstance(args, Mapping):
            raise v.fail(f"args must be a dict, got {type(args).__name__}")
        try:
            json.dumps(dict(args), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise v.fail(f"args must be JSON-serialisable: {exc}") from None
        if timeout is not None:
            v.check_seconds("timeout", timeout)
        call = await self._call_tool(name, args, idempotent=False, timeout=timeout)
        return McpToolResult(
            request_id=call.request_id,
            success=call.ok,
            data=call.text,
            error_message=call.error_message,
            exception=call.exception,
        )

    # --- async-native ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Delete the session; raises `SessionDeleteError` if it could not be. Idempotent."""
        if self._deleted:
            return
        result = await self.delete()
        if not result.success:
            cause = result.exception
            raise SessionDeleteError(
                f"Could not delete session {self.session_id}: {result.error_message}",
                session_id=self.session_id,
                request_id=result.request_id,
                code=cause.code if cause else "",
                http_status=cause.http_status if cause else None,
            ) from cause

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.agb._close_session(self, exc)

    # --- the tool call every module uses -----------------------------------------------------

    async def _call_tool(
        self,
        name: str,
        args: Mapping[str, object],
        *,
        idempotent: bool,
        timeout: float | None = None,
    ) -> ToolCall:
        request = wire.call_tool(self.session_id, name, args, idempotent=idempotent)
        reply = await self.agb._attempt(request, request_timeout=timeout)
        if isinstance(reply, AGBError):
            return ToolCall(False, None, reply.message, reply.request_id, reply, False)
        outcome = wire.tool_reply(reply)
        exception: AGBError | None = None
        if not outcome.ok:
            exception = (
                ToolError(
                    outcome.error_message,
                    request_id=reply.request_id,
                    code=reply.code,
                    http_status=reply.status,
                )
                if outcome.is_tool_error
                else wire.reply_error(reply, outcome.error_message)
            )
        return ToolCall(
            outcome.ok,
            outcome.text,
            outcome.error_message,
            reply.request_id,
            exception,
            outcome.is_tool_error,
        )


def _resource_error(reply: wire.Reply) -> str:
    """getMcpResource's error text for a non-200 answer, in the official order (§3.11)."""
    if reply.field(p.KEY_SUCCESS) is not True:
        return reply.message or "API request failed"
    data = reply.data_object()
    if data.get("isError") is True:
        return str(data.get("errMsg") or "Resource retrieval failed")
    return "Failed to get MCP resource"
