"""The protocol's requests, as pure functions: parameters -> `ApiRequest` (no I/O).

Every byte the client sends is decided here, so each quirk of docs/protocol.md (§ numbers
below) is tested without a network. Field names come from the constants in `aioagb._protocol`,
which AGB Local shares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlencode

import attrs

from .. import _protocol as p

Method = Literal["GET", "POST"]
EMPTY_BODY = b"{}"  # POST endpoints without body fields still send `{}` (§1.4)


@attrs.frozen(slots=True)
class ApiRequest:
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


def _post(path: str, operation: str, body: Mapping[str, object], **kw: object) -> ApiRequest:
    return ApiRequest("POST", path, operation, body=_json_body(body), **kw)  # type: ignore[arg-type]


# --- §3 session requests -------------------------------------------------------------------


def labels_json(labels: Mapping[str, str]) -> str:
    """Label objects travel as JSON text with the default separators (§3.1, §3.4, §3.5)."""
    return json.dumps(dict(labels))


def create_session(
    image_id: str,
    labels: Mapping[str, str],
    idle_release_timeout: int | None,
    policy_id: str | None,
) -> ApiRequest:
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


def get_session(session_id: str) -> ApiRequest:
    return _post(p.PATH_GET_SESSION, "getSession", {p.B_SESSION_ID: session_id})


def get_session_status(session_id: str) -> ApiRequest:
    return _post(p.PATH_GET_SESSION_INFO, "getSessionInfo", {p.B_SESSION_ID: session_id})


def list_sessions(labels: Mapping[str, str], max_results: int, next_token: str) -> ApiRequest:
    query = [(p.Q_MAX_RESULTS, str(max_results)), (p.Q_LABELS, labels_json(labels))]
    if next_token:
        query.append((p.Q_NEXT_TOKEN, next_token))
    return ApiRequest("GET", p.PATH_LIST_SESSIONS, "ListSession", query=tuple(query))


def set_labels(session_id: str, labels: Mapping[str, str]) -> ApiRequest:
    query = ((p.Q_SESSION_ID, session_id), (p.Q_SET_LABELS, labels_json(labels)))
    return _post(p.PATH_SET_LABELS, "SetLabel", {}, query=query)


def get_labels(session_id: str) -> ApiRequest:
    return ApiRequest("GET", p.PATH_GET_LABELS, "GetLabel", query=((p.Q_SESSION_ID, session_id),))


def release_session(session_id: str) -> ApiRequest:
    # Releasing twice is harmless: the second answer is "not found", which delete accepts.
    return _post(p.PATH_RELEASE_ASYNC, "releaseSessionAsync", {p.B_SESSION_ID: session_id})


def keep_alive(session_id: str) -> ApiRequest:
    query = ((p.Q_SESSION_ID, session_id),)
    return _post(p.PATH_KEEP_ALIVE, "refreshSessionIdleTime", {}, query=query)


def get_mcp_resource(session_id: str) -> ApiRequest:
    return _post(p.PATH_GET_MCP_RESOURCE, "getMcpResource", {p.B_SESSION_ID: session_id})


def list_tools(image_id: str) -> ApiRequest:
    return _post(p.PATH_LIST_TOOLS, "listTools", {}, query=((p.Q_IMAGE_ID, image_id),))


def call_tool(
    session_id: str, name: str, args: Mapping[str, object], *, idempotent: bool
) -> ApiRequest:
    """`POST /mcp` (§4.1): `args` is a JSON *string*, built with non-ASCII kept as is."""
    body = {
        p.B_TOOL_ARGS: json.dumps(dict(args), ensure_ascii=False),
        p.B_SESSION_ID: session_id,
        p.B_TOOL_NAME: name,
    }
    query = ((p.Q_AUTO_GEN_SESSION, "false"),)
    return _post(p.PATH_CALL_TOOL, name, body, query=query, idempotent=idempotent)
