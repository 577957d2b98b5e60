"""The AGB wire format, as pure functions: parameters -> HTTP requests, HTTP answers -> facts.

Nothing here does I/O, so every byte the client sends and every quirk it decodes is tested
without a network. The contract is `shared/protocol/agb-wire.md` (§ numbers below); field
names come from `aioagb._protocol`, which AGB Local shares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlencode

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from . import _protocol as p
from .errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)

JSON = object  # a decoded JSON value; narrowed with isinstance where it is used
Method = Literal["GET", "POST"]
EMPTY_BODY = b"{}"  # POST endpoints without body fields still send `{}` (§1.4)


@attrs.frozen(slots=True)
class Request:
    """One HTTP request of the protocol. `operation` names it in logs, hooks and errors."""

    method: Method
    path: str
    operation: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    # Whether sending it twice is harmless (retries; §"Transport" in docs/concepts.md).
    idempotent: bool = True

    def url(self, base_url: str) -> str:
        # Form encoding like python-requests: space -> '+', JSON punctuation escaped (§1.4).
        return base_url + self.path + ("?" + urlencode(self.query) if self.query else "")


def _json_body(fields: Mapping[str, object]) -> bytes:
    # python-requests' `json=`: default separators, non-ASCII escaped (§1.4).
    return json.dumps(dict(fields)).encode("ascii") if fields else EMPTY_BODY


def _post(path: str, operation: str, body: Mapping[str, object], **kw: object) -> Request:
    return Request("POST", path, operation, body=_json_body(body), **kw)  # type: ignore[arg-type]


# --- §3 session requests -------------------------------------------------------------------


def labels_json(labels: Mapping[str, str]) -> str:
    """Label objects travel as JSON text with the default separators (§3.1, §3.4, §3.5)."""
    return json.dumps(dict(labels))


def create_session(
    image_id: str,
    labels: Mapping[str, str],
    idle_release_timeout: int | None,
    policy_id: str | None,
) -> Request:
    body: dict[str, object] = {}
    if labels:
        body[p.B_LABELS] = labels_json(labels)
    if policy_id:
        body[p.B_POLICY_ID] = policy_id
    if idle_release_timeout:  # the official client drops 0 too (§3.1)
        body[p.B_IDLE_TIMEOUT] = idle_release_timeout
    stats = json.dumps(p.SDK_STATS, ensure_ascii=False, separators=(",", ":"))
    query = ((p.Q_IMAGE_ID, image_id), (p.Q_SDK_STATS, stats))
    return _post(p.PATH_CREATE_SESSION, "createSession", body, query=query, idempotent=False)


def get_session(session_id: str) -> Request:
    return _post(p.PATH_GET_SESSION, "getSession", {p.B_SESSION_ID: session_id})


def get_session_status(session_id: str) -> Request:
    return _post(p.PATH_GET_SESSION_INFO, "getSessionInfo", {p.B_SESSION_ID: session_id})


def list_sessions(labels: Mapping[str, str], max_results: int, next_token: str) -> Request:
    query = [(p.Q_MAX_RESULTS, str(max_results)), (p.Q_LABELS, labels_json(labels))]
    if next_token:
        query.append((p.Q_NEXT_TOKEN, next_token))
    return Request("GET", p.PATH_LIST_SESSIONS, "ListSession", query=tuple(query))


def set_labels(session_id: str, labels: Mapping[str, str]) -> Request:
    query = ((p.Q_SESSION_ID, session_id), (p.Q_SET_LABELS, labels_json(labels)))
    return _post(p.PATH_SET_LABELS, "SetLabel", {}, query=query)


def get_labels(session_id: str) -> Request:
    return Request("GET", p.PATH_GET_LABELS, "GetLabel", query=((p.Q_SESSION_ID, session_id),))


def release_session(session_id: str) -> Request:
    # Releasing twice is harmless: the second answer is "not found", which delete accepts.
    return _post(p.PATH_RELEASE_ASYNC, "releaseSessionAsync", {p.B_SESSION_ID: session_id})


def keep_alive(session_id: str) -> Request:
    query = ((p.Q_SESSION_ID, session_id),)
    return _post(p.PATH_KEEP_ALIVE, "refreshSessionIdleTime", {}, query=query)


def get_mcp_resource(session_id: str) -> Request:
    return _post(p.PATH_GET_MCP_RESOURCE, "getMcpResource", {p.B_SESSION_ID: session_id})


def list_tools(image_id: str) -> Request:
    return _post(p.PATH_LIST_TOOLS, "listTools", {}, query=((p.Q_IMAGE_ID, image_id),))


def call_tool(
    session_id: str, name: str, args: Mapping[str, object], *, idempotent: bool
) -> Request:
    """`POST /mcp` (§4.1): `args` is a JSON *string*, built with non-ASCII kept as is."""
    body = {
        p.B_TOOL_ARGS: json.dumps(dict(args), ensure_ascii=False),
        p.B_SESSION_ID: session_id,
        p.B_TOOL_NAME: name,
    }
    query = ((p.Q_AUTO_GEN_SESSION, "false"),)
    return _post(p.PATH_CALL_TOOL, name, body, query=query, idempotent=idempotent)


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
class ToolReply:
    """What a `POST /mcp` answer says: whether the call worked, its payload and its error."""

    ok: bool
    text: str | None
    error_message: str
    is_tool_error: bool  # the tool ran and failed (isError), as opposed to an API failure


def tool_reply(reply: Reply) -> ToolReply:
    data = reply.data
    if data is not None and not isinstance(data, dict):
        return ToolReply(False, None, "Malformed tool response: data is not an object", False)
    content = data.get("content") if isinstance(data, dict) else None
    text = tool_payload(content)
    is_error = isinstance(data, dict) and data.get("isError") is True
    api_ok = reply.status == 200 and reply.field(p.KEY_SUCCESS) is True
    if api_ok and not is_error:
        return ToolReply(True, text, "", False)
    # Priority: the top-level message, then the tool's own text (§4.2).
    message = reply.message or (text if is_error and text else "") or "Tool execution failed"
    return ToolReply(False, text, message, api_ok and is_error)


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
