"""The protocol's replies, as pure functions: HTTP answers -> facts and typed errors (no I/O).

How the official client reads each envelope and payload (docs/protocol.md, § numbers below):
success tests, request ids, PascalCase fallbacks, JSON-text fields, and which typed error a
failed reply becomes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from .. import _protocol as p
from ..errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from ..models import Context, ContextFileEntry, ContextStatusData, FileChangeEvent

JSON = object  # a decoded JSON value; narrowed with isinstance where it is used


# --- §2 the envelope -----------------------------------------------------------------------


@attrs.frozen(slots=True)
class Reply:
    """An HTTP answer, decoded. `body` is the parsed JSON object, or None when it was not one."""

    status: int
    body: Mapping[str, object] | None
    header_request_id: str = ""
    retry_after: float | None = None

    @classmethod
    def decode(cls, status: int, raw: bytes, headers: Mapping[str, str] | None = None) -> Reply:
        headers = headers or {}
        try:
            parsed = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            parsed = None  # non-JSON bodies are never success (§1.5)
        return cls(
            status=status,
            body=parsed if isinstance(parsed, dict) else None,
            header_request_id=_header(headers, p.HEADER_REQUEST_ID),
            retry_after=parse_retry_after(_header(headers, "retry-after")),
        )

    def field(self, *names: str) -> object:
        """The first present top-level field of `names` (PascalCase fallbacks, §3.7)."""
        for name in names:
            if self.body is not None and name in self.body:
                return self.body[name]
        return None

    @property
    def request_id(self) -> str:
        # Top-level `requestId`, else the `x-request-id` header, else "" (§1.5).
        value = self.field(p.KEY_REQUEST_ID)
        return value if isinstance(value, str) and value else self.header_request_id

    @property
    def success(self) -> bool:
        """The strict reading of §7: an HTTP status below 400 and `success` exactly true."""
        return self.status < 400 and self.field(p.KEY_SUCCESS) is True

    @property
    def code(self) -> str:
        return _text(self.field(p.KEY_CODE))

    @property
    def message(self) -> str:
        return _text(self.field(p.KEY_MESSAGE))

    @property
    def http_status_code(self) -> int:
        value = self.field(p.KEY_HTTP_STATUS)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def data(self) -> JSON:
        return self.field(p.KEY_DATA)

    def data_object(self) -> Mapping[str, object]:
        data = self.data
        return data if isinstance(data, dict) else {}

    def error_text(self, fallback: str) -> str:
        return self.message or fallback


def _header(headers: Mapping[str, str], name: str) -> str:
    if isinstance(headers, CIMultiDictProxy | CIMultiDict):
        return headers.get(name, "")  # aiohttp's headers: case-insensitive already
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_retry_after(raw: str) -> float | None:
    """`Retry-After` in seconds; HTTP dates are not used by AGB servers and read as absent."""
    if not raw:
        return None  # the common case, without the cost of a ValueError
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def decode_json_text(value: object) -> JSON:
    """Fields that carry JSON *text* (labels, listTools data): parsed, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        decoded: JSON = json.loads(value)
    except ValueError:
        return None
    return decoded


def labels_from(reply: Reply) -> dict[str, str]:
    """GetLabel `data.labels` is a JSON string; missing or empty means no labels (§3.6)."""
    parsed = decode_json_text(reply.data_object().get("labels"))
    if not isinstance(parsed, dict):
        return {}
    return {str(k): str(v) for k, v in parsed.items()}


def session_ids_from(reply: Reply) -> list[str]:
    """ListSession `data` is an array of `{sessionId, sessionStatus}` (§3.4)."""
    data = reply.data
    items = data if isinstance(data, list) else []
    ids = (item.get(p.B_SESSION_ID) for item in items if isinstance(item, dict))
    return [i for i in ids if isinstance(i, str) and i]


def int_field(reply: Reply, name: str, default: int = 0) -> int:
    value = reply.field(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def is_not_found(reply: Reply) -> bool:
    """The delete poller's "gone" test (§3.7), also used to map errors to NotFoundError."""
    code, message = reply.code, reply.message.lower()
    return (
        code == p.CODE_SESSION_NOT_FOUND
        or code == p.CODE_TOOL_SESSION_NOT_FOUND
        or "not found" in message
        or "notfound" in message
        or (reply.http_status_code == 400 and "not found" in code.lower())
    )


# --- §4.2 tool replies ---------------------------------------------------------------------


@attrs.frozen(slots=True)
class ToolAnswer:
    """What a `POST /mcp` answer says: whether the call worked, its payload and its error."""

    ok: bool
    text: str | None
    error_message: str
    is_tool_error: bool  # the tool ran and failed (isError), as opposed to an API failure


def tool_reply(reply: Reply) -> ToolAnswer:
    data = reply.data
    if data is not None and not isinstance(data, dict):
        return ToolAnswer(False, None, "Malformed tool response: data is not an object", False)
    content = data.get("content") if isinstance(data, dict) else None
    text = tool_payload(content)
    is_error = isinstance(data, dict) and data.get("isError") is True
    api_ok = reply.status == 200 and reply.field(p.KEY_SUCCESS) is True
    if api_ok and not is_error:
        return ToolAnswer(True, text, "", False)
    # Priority: the top-level message, then the tool's own text (§4.2).
    message = reply.message or (text if is_error and text else "") or "Tool execution failed"
    return ToolAnswer(False, text, message, api_ok and is_error)


def tool_payload(content: object) -> str | None:
    """Join the `text` of every `type: text` item; else the first image's `data` (§4.2)."""
    if not isinstance(content, list):
        return None
    items = [item for item in content if isinstance(item, dict)]
    texts = [str(item.get("text", "")) for item in items if item.get("type") == "text"]
    if texts:
        return "\n".join(texts)
    for item in items:
        if item.get("type") == "image":
            data = item.get("data")
            return data if isinstance(data, str) else None
    return None


def tool_list_from(reply: Reply) -> list[dict[str, object]]:
    """listTools `data` is a JSON *string* of an array; an actual array counts as none (§3.12)."""
    parsed = decode_json_text(reply.data)
    items = parsed if isinstance(parsed, list) else []
    return [item for item in items if isinstance(item, dict)]


def strings(value: object) -> list[str]:
    items = value if isinstance(value, list) else []
    return [item if isinstance(item, str) else str(item) for item in items]


def mapping_items(value: Sequence[object]) -> list[Mapping[str, object]]:
    return [item for item in value if isinstance(item, dict)]


# --- failures -> typed errors --------------------------------------------------------------


def reply_error(reply: Reply, message: str) -> APIError:
    """The typed error for a failed reply; `message` already says what failed."""
    rid, code, status = reply.request_id, reply.code, reply.status
    if status == 429:
        return RateLimitedError(
            message, request_id=rid, code=code, http_status=status, retry_after=reply.retry_after
        )
    kind: type[APIError] = APIError
    if status in (401, 403):
        kind = AuthenticationError
    elif status == 404 or is_not_found(reply):
        kind = NotFoundError
    elif status >= 500 or reply.body is None:
        kind = ServerError
    return kind(message, request_id=rid, code=code, http_status=status)


@attrs.frozen(slots=True)
class ReleaseOutcome:
    """releaseSessionAsync's answer, read as tolerantly as the official client does (§3.7):
    a nested `body` object or the top level, each field in either letter case."""

    ok: bool
    code: str
    message: str
    request_id: str
    http_status_code: int

    def as_reply(self, status: int) -> Reply:
        body = {
            p.KEY_SUCCESS: self.ok,
            p.KEY_CODE: self.code,
            p.KEY_MESSAGE: self.message,
            p.KEY_REQUEST_ID: self.request_id,
            p.KEY_HTTP_STATUS: self.http_status_code,
        }
        return Reply(status=status, body=body)


def release_outcome(reply: Reply) -> ReleaseOutcome:
    nested = reply.body.get("body") if reply.body is not None else None
    source: Mapping[str, object] = nested if isinstance(nested, dict) else (reply.body or {})

    def pick(*names: str) -> object:
        return next((source[n] for n in names if n in source), None)

    status_code = pick("HttpStatusCode", "httpStatusCode")
    return ReleaseOutcome(
        ok=reply.status == 200 and pick("Success", "success") is True,
        code=_text(pick("Code", "code")),
        message=_text(pick("Message", "message")),
        request_id=_text(pick("RequestId", "requestId", "request_id")) or reply.request_id,
        http_status_code=status_code if isinstance(status_code, int) else 0,
    )


# --- §3.1/§3.2 session data ------------------------------------------------------------------


@attrs.frozen(slots=True)
class SessionData:
    """What createSession and getSession say about a session (`data`)."""

    session_id: str
    resource_url: str = ""
    app_instance_id: str = ""
    resource_id: str = ""
    status: str = ""
    link_url: str = ""
    ws_url: str = ""
    token: str = ""
    tool_list: str = ""  # raw `toolList` (JSON text; an array is re-serialised)


def session_data_from(data: Mapping[str, object]) -> SessionData:
    """`data` of createSession/getSession; the second-channel fields also in PascalCase
    (§3.2)."""

    def text(*names: str) -> str:
        for name in names:
            value = data.get(name)
            if value:
                return value if isinstance(value, str) else json.dumps(value)
        return ""

    return SessionData(
        session_id=text(p.B_SESSION_ID),
        resource_url=text("resourceUrl"),
        app_instance_id=text("appInstanceId"),
        resource_id=text("resourceId"),
        status=text("status"),
        link_url=text("linkUrl", "LinkUrl"),
        ws_url=text("wsUrl", "WsUrl"),
        token=text("token", "Token"),
        tool_list=text("toolList", "ToolList"),
    )


def tool_list_entries(raw: str) -> list[tuple[str, str]]:
    """(name, server) of each `toolList` entry: JSON text of an array of objects with
    `name`/`Name` and `server`/`serverName`/`Server` (§5.1). Anything else: none."""
    parsed = decode_json_text(raw)
    entries = []
    for item in parsed if isinstance(parsed, list) else []:
        if isinstance(item, dict):
            name = item.get("name") or item.get("Name") or ""
            server = item.get("server") or item.get("serverName") or item.get("Server") or ""
            entries.append((str(name), str(server)))
    return entries


# --- §13 contexts, §14 the file-transfer context, §16.3 file changes --------------------------


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def context_from(
    item: Mapping[str, object], default_id: str = "", default_name: str = ""
) -> Context:
    """A context object `{id, name, createTime, lastUsedTime}` (§13.1)."""
    return Context(
        id=str(item.get("id") or default_id),
        name=str(item.get("name") or default_name),
        created_at=_optional_text(item.get("createTime")),
        last_used_at=_optional_text(item.get("lastUsedTime")),
    )


@attrs.frozen(slots=True)
class ContextPage:
    """One page of ListContexts."""

    contexts: list[Context]
    next_token: str | None
    max_results: int | None
    total_count: int | None


def contexts_page(reply: Reply) -> ContextPage:
    """ListContexts (§13.2): contexts from the `data` array; `nextToken`, `maxResults` and
    `totalCount` from the top level, or from `data` when it is an object (the official
    client reads only the latter, and then no contexts: it cannot paginate)."""
    data = reply.data
    items = data if isinstance(data, list) else []
    meta: Mapping[str, object] = data if isinstance(data, dict) else (reply.body or {})
    token = meta.get(p.KEY_NEXT_TOKEN)
    return ContextPage(
        contexts=[context_from(item) for item in mapping_items(items)],
        next_token=str(token) if token else None,
        max_results=_optional_int(meta.get(p.KEY_MAX_RESULTS)),
        total_count=_optional_int(meta.get(p.KEY_TOTAL_COUNT)),
    )


def context_files_from(reply: Reply) -> tuple[list[ContextFileEntry], int | None]:
    """DescribeContextFiles (§13.5): entries from the `data` array (non-objects skipped);
    `count` at the top level, or in `data` when it is an object."""
    data = reply.data
    items = data if isinstance(data, list) else []
    meta: Mapping[str, object] = data if isinstance(data, dict) else (reply.body or {})
    entries = [
        ContextFileEntry(
            file_id=str(item.get("fileId") or ""),
            file_name=str(item.get("fileName") or ""),
            file_path=str(item.get("filePath") or ""),
            file_type=_optional_text(item.get("fileType")),
            gmt_create=_optional_text(item.get("gmtCreate")),
            gmt_modified=_optional_text(item.get("gmtModified")),
            size=_optional_int(item.get("size")),
            status=_optional_text(item.get("status")),
        )
        for item in mapping_items(items)
    ]
    return entries, _optional_int(meta.get(p.KEY_COUNT))


def _json_list(value: object) -> list[object]:
    """A JSON array given as text (the protocol's form) or as an array; "" or None is
    empty; anything else raises ValueError."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON array, got {type(value).__name__}")
    return value


def context_status_from(reply: Reply) -> list[ContextStatusData]:
    """GetContextInfo's `data.contextStatus` (§13.7): JSON text of an array of
    `{"type": "data", "data": <JSON text of an array of tasks>}`; other types are skipped.

    Raises ValueError for text that is not such JSON. More tolerant than the official client,
    which fails on a null `contextStatus` and on real arrays at either level."""
    items = _json_list(reply.data_object().get("contextStatus"))
    tasks: list[ContextStatusData] = []
    for item in mapping_items(items):
        if item.get("type") != "data":
            continue
        for task in mapping_items(_json_list(item.get("data"))):
            tasks.append(
                ContextStatusData(
                    context_id=str(task.get("contextId") or ""),
                    path=str(task.get("path") or ""),
                    error_message=str(task.get("errorMessage") or ""),
                    status=str(task.get("status") or ""),
                    start_time=_optional_int(task.get("startTime")) or 0,
                    finish_time=_optional_int(task.get("finishTime")) or 0,
                    task_type=str(task.get("taskType") or ""),
                )
            )
    return tasks


def internal_context_from(reply: Reply) -> tuple[str, str] | None:
    """GetAndLoadInternalContext (§14.1): (contextId, contextPath) of the first item that has
    both, whatever its `contextType`; None when there is none."""
    data = reply.data
    for item in mapping_items(data if isinstance(data, list) else []):
        context_id, path = item.get("contextId"), item.get("contextPath")
        if isinstance(context_id, str) and context_id and isinstance(path, str) and path:
            return context_id, path
    return None


def file_changes_from(text: str | None) -> list[FileChangeEvent]:
    """get_file_change's payload (§4.5): a JSON array of change events; anything else (not
    JSON, not an array) reads as no change, as the official client reads it."""
    parsed = decode_json_text(text)
    items = parsed if isinstance(parsed, list) else []
    return [FileChangeEvent.from_dict(item) for item in mapping_items(items)]
