"""AsyncSession: one AGB session, its seed-parity operations and its code/command/file modules.

Seed-parity methods (`info`, `get_status`, `keep_alive`, `set_labels`, `get_labels`,
`delete`, `list_mcp_tools`, `call_mcp_tool`, and the modules' methods) return result objects
and do not raise for failures the server reports. `aclose()` and `async with session:` are the
async-native way out: they raise `SessionDeleteError` when the session could not be deleted.
Invalid arguments raise `InvalidArgumentError` everywhere, before anything is sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import anyio

from . import _protocol as p
from . import _validate as v
from ._protocol import requests as rq
from ._protocol.payloads import parse_metrics
from ._protocol.replies import Reply, labels_from, reply_error, tool_list_entries, tool_list_from
from ._results import seed
from ._sync import SYNC_POLL_ATTEMPTS, SYNC_POLL_INTERVAL_S
from .context_sync import ContextSync, mounted
from .errors import AGBError, ContextSyncError, ServerError, SessionDeleteError, add_note
from .models import (
    DeleteResult,
    EnhancedCodeExecutionResult,
    McpTool,
    McpToolResult,
    McpToolsResult,
    OperationResult,
    SessionMetricsResult,
    SessionStatusResult,
)
from .modules import Code, Command, FileSystem
from .modules._channel import SessionChannel
from .modules.browser import Browser
from .modules.context import ContextManager
from .modules.stream import StreamEndpoint, StreamSocket

if TYPE_CHECKING:
    from ._lifecycle import Lifecycle
    from .client import AsyncAGB

logger = logging.getLogger("aioagb")

# Label keys the SDK puts on sessions it creates (see _many.orphans); hidden from get_labels().
SDK_LABEL_PREFIX = "aioagb-"


class AsyncSession:
    """A handle on one session. Cheap: holds ids and a reference to its client.

    `AsyncSession(agb, session_id)` makes a handle on an existing session, as the official
    `Session(agb, session_id)` does; `agb.get(session_id)` also fetches its details.
    """

    def __init__(
        self,
        agb: AsyncAGB,
        session_id: str,
        *,
        image_id: str = "",
        resource_url: str = "",
        app_instance_id: str = "",
        resource_id: str = "",
        link_url: str = "",
        ws_url: str = "",
        token: str = "",
        tool_list: str = "",
        context_syncs: Sequence[ContextSync] = (),
    ) -> None:
        self.agb = agb
        self.session_id = v.check_session_id(session_id)
        self.image_id = image_id
        self.resource_url = resource_url
        self.app_instance_id = app_instance_id
        self.resource_id = resource_id
        self.link_url = link_url
        tools = [McpTool(name=name, server=server) for name, server in tool_list_entries(tool_list)]
        self._endpoint = StreamEndpoint(ws_url=ws_url, token=token, tool_list=tools)
        self._lifecycle: Lifecycle = agb.lifecycle
        self._channel = SessionChannel(self._lifecycle.engine, self.session_id)
        self._socket = StreamSocket(self._channel, self._endpoint)
        self.code = Code(self._channel, self._socket)
        self.command = Command(self._channel)
        self.file = FileSystem(self._channel)
        self.browser = Browser(self._channel)
        self._deleted = False
        # Persistence (docs/guides/persistence.md): the contexts this session mounted, which
        # leaving `async with` uploads when their policy says so.
        self.context = ContextManager(self._channel)
        self.context_syncs: tuple[ContextSync, ...] = tuple(mounted(context_syncs))
        self._upload_attempted = False

    def __repr__(self) -> str:
        return f"AsyncSession(session_id={self.session_id!r}, image_id={self.image_id!r})"

    @property
    def ws_url(self) -> str:
        """The session's WebSocket URL for streaming runs (§5.2); empty when it has none."""
        return self._endpoint.ws_url

    @ws_url.setter
    def ws_url(self, value: str) -> None:
        self._endpoint.ws_url = value

    @property
    def token(self) -> str:
        """The session's access token for its second channels (WebSocket, LinkUrl)."""
        return self._endpoint.token

    @token.setter
    def token(self, value: str) -> None:
        self._endpoint.token = value

    @property
    def tool_list(self) -> list[McpTool]:
        """The tools (name, server) the server listed for this session (`toolList`)."""
        return self._endpoint.tool_list

    @tool_list.setter
    def tool_list(self, value: list[McpTool]) -> None:
        self._endpoint.tool_list = list(value)

    @property
    def gone(self) -> bool:
        """Whether a call found the session gone: answered "session not found", or its
        connection could not be made or was lost. A pool retires such a session at once."""
        return self._channel.gone_reason is not None

    def get_session_id(self) -> str:
        """The session id (the official accessor)."""
        return self.session_id

    def get_link_url(self) -> str:
        """The session's LinkUrl, when the server gave one (the official accessor)."""
        return self.link_url

    def get_token(self) -> str:
        """The session's access token for its second channels (the official accessor)."""
        return self.token

    async def run_code(
        self, code: str, language: str, timeout_s: int = p.DEFAULT_CODE_TIMEOUT_S
    ) -> EnhancedCodeExecutionResult:
        """The same as `session.code.run`."""
        return await self.code.run(code, language, timeout_s=timeout_s)

    # --- seed-parity session operations ------------------------------------------------------

    async def info(self) -> OperationResult[dict[str, object]]:
        """`POST /mcp/getMcpResource`: session id and resource URL (success = HTTP 200, §3.11)."""
        return await seed(OperationResult, self._info())

    async def _info(self) -> OperationResult[dict[str, object]]:
        reply = await self._channel.send(rq.get_mcp_resource(self.session_id))
        data = reply.data_object()
        if reply.status != 200 or not data:
            message = _resource_error(reply) if reply.status != 200 else ""
            raise reply_error(reply, message or "No resource data found in response")
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
        """`POST /mcp/getSessionInfo`: the session's status (`RUNNING`, `FINISH`, ...); a
        released session fails with a not-found error (§3.3)."""
        return await seed(SessionStatusResult, self._get_status())

    async def _get_status(self) -> SessionStatusResult:
        reply = await self._channel.send(rq.get_session_status(self.session_id))
        if not reply.success:
            error = reply_error(reply, reply.error_text("Unknown error"))
            error.details = {"http_status_code": reply.http_status_code, "code": reply.code}
            raise error
        data = reply.data_object()
        status = data.get("status") or data.get("Status") or ""
        return SessionStatusResult(
            request_id=reply.request_id,
            success=True,
            status=str(status),
            http_status_code=reply.http_status_code,
            code=reply.code,
        )

    async def keep_alive(self) -> OperationResult[None]:
        """Restart the idle-release timer (`POST /mcp/refreshSessionIdleTime`)."""
        request = rq.keep_alive(self.session_id)
        return await seed(OperationResult, self._ok(request, "HTTP {status} error", True))

    async def set_labels(self, labels: Mapping[str, str]) -> OperationResult[None]:
        """Replace the session's whole label set (`POST /sdk/SetLabel`, §3.5)."""
        checked = v.check_labels(labels, allow_empty=False)
        request = rq.set_labels(self.session_id, checked)
        return await seed(OperationResult, self._ok(request, "Unknown error", False))

    async def _ok(
        self, request: rq.ApiRequest, fallback: str, exactly_200: bool
    ) -> OperationResult[None]:
        reply = await self._channel.expect(request, fallback, exactly_200=exactly_200)
        return OperationResult(request_id=reply.request_id, success=True)

    async def get_labels(self) -> OperationResult[dict[str, str]]:
        """The session's labels; the SDK's own `aioagb-*` bookkeeping labels are left out."""
        return await seed(OperationResult, self._get_labels())

    async def _get_labels(self) -> OperationResult[dict[str, str]]:
        request = rq.get_labels(self.session_id)
        reply = await self._channel.expect(request, "HTTP {status} error", exactly_200=True)
        labels = {
            k: val for k, val in labels_from(reply).items() if not k.startswith(SDK_LABEL_PREFIX)
        }
        return OperationResult(request_id=reply.request_id, success=True, data=labels)

    async def get_link(
        self, protocol_type: str | None = None, port: int | None = None
    ) -> OperationResult[str]:
        """The URL of `port` in the session (`GET /internet/getLink`, §16.1): a server that a
        session's process runs there, reachable from outside. `protocol_type` is `http`,
        `https`, `ws` or `wss`. The cloud's ports are 30100-30199; AGB Local takes any and
        serves plain http and ws (docs/guides/browser.md). A failure reads "Failed to get
        link", as in the official SDK (the server's own message is in `result.exception`)."""
        if protocol_type is not None:
            protocol_type = v.check_text("protocol_type", protocol_type)
        if port is not None:
            port = v.check_positive_int("port", port, maximum=65535)
        return await seed(OperationResult, self._get_link(protocol_type, port))

    async def _get_link(self, protocol_type: str | None, port: int | None) -> OperationResult[str]:
        reply = await self._channel.send(rq.get_link(self.session_id, protocol_type, port))
        if reply.status != 200 or reply.field(p.KEY_SUCCESS) is not True:
            error = reply_error(reply, "Failed to get link")
            error.details = {"server_message": reply.message}
            raise error
        if not isinstance(reply.data, dict):
            raise reply_error(reply, "Failed to get link: data is not an object")
        url = reply.data.get(p.KEY_URL)
        if not isinstance(url, str) or not url:
            raise reply_error(reply, "No URL found in response")
        return OperationResult(request_id=reply.request_id, success=True, data=url)

    async def delete(self, sync_context: bool = False) -> DeleteResult:
        """Release the session and wait until the server reports it gone (§3.7).

        `sync_context=True` first uploads every mounted context (SyncContext, then its
        polling, §13.8), as the official client does; whatever its outcome (a failure is
        logged), the session is then deleted."""
        v.check_flag("sync_context", sync_context)
        if sync_context:
            synced = await self.context.sync()
            if not synced.success:
                logger.warning(
                    "session %s: context sync before delete failed: %s",
                    self.session_id,
                    synced.error_message,
                )
        return await seed(DeleteResult, self._delete())

    async def _delete(self) -> DeleteResult:
        request_id = await self._lifecycle.delete(self.session_id)
        self._deleted = True
        await self._socket.aclose()
        return DeleteResult(request_id=request_id, success=True)

    async def list_mcp_tools(self, image_id: str | None = None) -> McpToolsResult:
        """The tools the session's image offers (`POST /mcp/listTools`, §3.12). Sessions made
        by `create` know their image; for others, pass `image_id`."""
        image = image_id if image_id is not None else self.image_id
        image = v.check_text("image_id (this session was not created here, pass it)", image)
        return await seed(McpToolsResult, self._list_mcp_tools(image))

    async def _list_mcp_tools(self, image: str) -> McpToolsResult:
        request = rq.list_tools(image)
        reply = await self._channel.expect(request, "API request failed", exactly_200=True)
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
            for item in tool_list_from(reply)
        ]
        return McpToolsResult(request_id=reply.request_id, success=True, tools=tools)

    async def call_mcp_tool(
        self,
        tool_name: str,
        args: Mapping[str, object],
        read_timeout: int | None = None,
        connect_timeout: int | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a request timeout, sent nowhere
    ) -> McpToolResult:
        """Call any tool by name; `data` is the raw payload text (§4.6).

        `read_timeout` and `connect_timeout` are the official per-call timeouts in
        milliseconds (each at least 1 s); this request waits for their sum. `timeout` is the
        same bound in seconds. Without them, the client's request timeout applies.
        """
        name = v.check_text("tool_name", tool_name)
        if not isinstance(args, Mapping):
            raise v.fail(f"args must be a dict, got {type(args).__name__}")
        try:
            json.dumps(dict(args), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise v.fail(f"args must be JSON-serialisable: {exc}") from None
        bound = _call_timeout(read_timeout, connect_timeout, timeout)
        return await seed(McpToolResult, self._call_mcp_tool(name, args, bound))

    async def _call_mcp_tool(
        self, name: str, args: Mapping[str, object], request_timeout: float | None
    ) -> McpToolResult:
        answer = await self._channel.call(name, args, idempotent=False, timeout=request_timeout)
        return McpToolResult(request_id=answer.request_id, success=True, data=answer.text)

    async def get_metrics(
        self, read_timeout: int | None = None, connect_timeout: int | None = None
    ) -> SessionMetricsResult:
        """The session's CPU, memory, disk and network use (the `get_metrics` tool, §16.2).

        `read_timeout` and `connect_timeout` are the official per-call timeouts in
        milliseconds; they apply when both are given."""
        bound = _call_timeout(read_timeout, connect_timeout, None)
        return await seed(SessionMetricsResult, self._get_metrics(bound))

    async def _get_metrics(self, request_timeout: float | None) -> SessionMetricsResult:
        answer = await self._channel.call(p.TOOL_GET_METRICS, {}, timeout=request_timeout)
        try:
            raw, metrics = parse_metrics(answer.text)
        except ValueError as exc:
            raise ServerError(str(exc), request_id=answer.request_id) from None
        return SessionMetricsResult(
            request_id=answer.request_id, success=True, metrics=metrics, raw=raw
        )

    # --- async-native ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Delete the session; raises `SessionDeleteError` if it could not be. Idempotent."""
        if self._deleted:
            return
        try:
            await self._delete()
        except AGBError as cause:
            message = f"Could not delete session {self.session_id}: {cause.message}"
            raise SessionDeleteError.caused_by(
                message, cause, session_id=self.session_id
            ) from cause

    async def __aenter__(self) -> AsyncSession:
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        """Delete the session on every way out: shielded from cancellation and bounded by
        the client's `cleanup_timeout`. The body's exception propagates unchanged, a failed
        delete attached to it as a note; without one, a failed delete raises
        `SessionDeleteError`.

        A session created with `context_syncs` first uploads the mounts whose policy
        auto-uploads (see `agb.session()` for what happens to the data on each way out)."""
        await self._close_after(exc)

    async def _close_after(self, body_error: BaseException | None) -> None:
        """`__aexit__`'s work: upload the mounts that auto-upload, then delete the session,
        after a body that raised `body_error`."""
        try:
            upload_failure = await self._upload_before_release(body_error)
        except BaseException as interrupted:  # cancelled while uploading after a clean body
            await self._close_after(interrupted)
            raise
        if upload_failure is not None:
            if body_error is None:
                try:
                    await self._close_after(None)
                except AGBError as delete_failure:
                    add_note(upload_failure, f"aioagb: {delete_failure}")
                raise upload_failure
            logger.warning("session %s: %s", self.session_id, upload_failure)
            add_note(body_error, f"aioagb: {upload_failure}")
        failure: AGBError | None = None
        bound = self._lifecycle.timeouts.cleanup
        with anyio.move_on_after(bound, shield=True) as scope:
            try:
                await self.aclose()
            except AGBError as exc:
                failure = exc
        if scope.cancelled_caught:
            failure = SessionDeleteError(
                f"Deleting session {self.session_id} took longer than {bound:g} s; "
                "it may still exist",
                session_id=self.session_id,
            )
        if failure is None:
            return
        if body_error is None:
            raise failure
        logger.warning("could not delete session %s: %s", self.session_id, failure)
        add_note(body_error, f"aioagb: deleting session {self.session_id} failed: {failure}")

    async def _upload_before_release(self, body_error: BaseException | None) -> AGBError | None:
        """Upload the mounts whose policy auto-uploads (SyncContext `mode=upload` for each,
        then its polling), once; the failure, if any. After a clean body the upload may take
        its polling's time (150 x 1.5 s) and is cancellable; after a body that raised or was
        cancelled it is shielded and bounded by `cleanup_timeout`."""
        mounts = [m for m in self.context_syncs if _auto_uploads(m)]
        if not mounts or self._upload_attempted or self._deleted:
            return None
        self._upload_attempted = True
        if body_error is None:
            return await self._upload_mounts(mounts)
        bound = self._lifecycle.timeouts.cleanup
        with anyio.move_on_after(bound, shield=True) as scope:
            failure = await self._upload_mounts(mounts)
        if scope.cancelled_caught:
            return ContextSyncError(
                f"Uploading the contexts of session {self.session_id} took longer than "
                f"{bound:g} s; the last changes may not be saved"
            )
        return failure

    async def _upload_mounts(self, mounts: Sequence[ContextSync]) -> AGBError | None:
        for mount in mounts:
            try:
                await self.context._sync(
                    mount.context_id,
                    mount.path,
                    p.SYNC_UPLOAD,
                    SYNC_POLL_ATTEMPTS,
                    SYNC_POLL_INTERVAL_S,
                )
            except AGBError as exc:
                return exc.prefixed(f"uploading context {mount.context_id} from {mount.path}: ")
        return None


def _auto_uploads(sync: ContextSync) -> bool:
    return sync.policy is not None and sync.policy.upload_policy.auto_upload


def _call_timeout(
    read_timeout: int | None, connect_timeout: int | None, timeout: float | None
) -> float | None:
    """The request timeout of `call_mcp_tool` and `get_metrics`, in seconds (None: the
    client's). The official per-call timeouts apply only when both are given (§16.2), each
    at least 1 s; this request then waits for their sum."""
    if timeout is not None:
        return v.check_seconds("timeout", timeout)
    given = {"read_timeout": read_timeout, "connect_timeout": connect_timeout}
    checked = {
        name: v.check_positive_int(name, value)
        for name, value in given.items()
        if value is not None
    }
    if len(checked) < 2:
        return None
    return sum(max(1000, ms) for ms in checked.values()) / 1000


def _resource_error(reply: Reply) -> str:
    """getMcpResource's error text for a non-200 answer, in the official order (§3.11)."""
    if reply.field(p.KEY_SUCCESS) is not True:
        return reply.message or "API request failed"
    data = reply.data_object()
    if data.get("isError") is True:
        return str(data.get("errMsg") or "Resource retrieval failed")
    return "Failed to get MCP resource"
