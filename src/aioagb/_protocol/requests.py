"""The protocol's requests, as pure functions: parameters -> `ApiRequest` (no I/O).

Every byte the client sends is decided here, so each quirk of docs/protocol.md (§ numbers
below) is tested without a network. Field names come from the constants in `aioagb._protocol`,
which AGB Local shares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlencode

import attrs

from .. import _protocol as p

Method = Literal["GET", "POST"]
# A mounted context of createSession: (context id, path, the policy's JSON object).
Mount = tuple[str, str, Mapping[str, object]]
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
    persistence: Sequence[Mount] = (),
) -> ApiRequest:
    body: dict[str, object] = {}
    if persistence:  # first, as the official request model writes its body (§3.1, §13.6)
        body[p.B_PERSISTENCE_LIST] = [persistence_item(*mount) for mount in persistence]
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


# --- §13 contexts: every parameter in the query string, POSTs send `{}` (§13.1) ------------


def persistence_item(context_id: str, path: str, policy: Mapping[str, object]) -> dict[str, str]:
    """One `persistenceDataList` item: the policy travels as JSON *text*, built like
    `json.dumps(SyncPolicy.to_dict(), ensure_ascii=False)` (§13.6)."""
    return {
        p.B_PERSISTENCE_CONTEXT_ID: context_id,
        p.B_PERSISTENCE_PATH: path,
        p.B_PERSISTENCE_POLICY: json.dumps(dict(policy), ensure_ascii=False),
    }


def _query(*pairs: tuple[str, str | None]) -> tuple[tuple[str, str], ...]:
    """The pairs whose value is non-empty, in order (the official models skip the others)."""
    return tuple((name, value) for name, value in pairs if value)


def list_contexts(max_results: int, next_token: str | None) -> ApiRequest:
    query = _query((p.Q_MAX_RESULTS, str(max_results)), (p.Q_NEXT_TOKEN, next_token))
    return ApiRequest("GET", p.PATH_LIST_CONTEXTS, "ListContexts", query=query)


def get_context(
    context_id: str | None, name: str | None, login_region_id: str | None, allow_create: bool
) -> ApiRequest:
    """GetContext (§13.3): `id`, `name`, `loginRegionId` when given; `allowCreate` always.
    Get-or-create by name returns the same context when repeated, so it is retried too."""
    query = (
        *_query((p.Q_ID, context_id), (p.Q_NAME, name), (p.Q_LOGIN_REGION_ID, login_region_id)),
        (p.Q_ALLOW_CREATE, "true" if allow_create else "false"),
    )
    return ApiRequest("GET", p.PATH_GET_CONTEXT, "GetContext", query=query)


def modify_context(context_id: str, name: str) -> ApiRequest:
    query = _query((p.Q_ID, context_id), (p.Q_NAME, name))
    return _post(p.PATH_MODIFY_CONTEXT, "ModifyContext", {}, query=query)


def delete_context(context_id: str) -> ApiRequest:
    # Not repeated on a 5xx: a second delete would answer "not found" for a deleted context.
    query = _query((p.Q_ID, context_id))
    return _post(p.PATH_DELETE_CONTEXT, "DeleteContext", {}, query=query, idempotent=False)


def clear_context(context_id: str) -> ApiRequest:
    query = _query((p.Q_ID, context_id))
    return _post(p.PATH_CLEAR_CONTEXT, "ClearContext", {}, query=query)


def describe_context_files(
    context_id: str, parent_folder_path: str | None, page_number: int, page_size: int
) -> ApiRequest:
    query = (
        *_query((p.Q_CONTEXT_ID, context_id), (p.Q_PARENT_FOLDER_PATH, parent_folder_path)),
        (p.Q_PAGE_NUMBER, str(page_number)),  # both always sent (§13.1)
        (p.Q_PAGE_SIZE, str(page_size)),
    )
    return _post(p.PATH_DESCRIBE_CONTEXT_FILES, "DescribeContextFiles", {}, query=query)


def context_file_url(context_id: str, file_path: str, *, upload: bool) -> ApiRequest:
    """GetContextFileUploadUrl / GetContextFileDownloadUrl (§13.5)."""
    query = _query((p.Q_CONTEXT_ID, context_id), (p.Q_FILE_PATH, file_path))
    if upload:
        path, operation = p.PATH_GET_CONTEXT_FILE_UPLOAD_URL, "GetContextFileUploadUrl"
    else:
        path, operation = p.PATH_GET_CONTEXT_FILE_DOWNLOAD_URL, "GetContextFileDownloadUrl"
    return _post(path, operation, {}, query=query)


def delete_context_file(context_id: str, file_path: str) -> ApiRequest:
    query = _query((p.Q_CONTEXT_ID, context_id), (p.Q_FILE_PATH, file_path))
    return _post(p.PATH_DELETE_CONTEXT_FILE, "DeleteContextFile", {}, query=query)


def get_context_info(
    session_id: str, context_id: str | None, path: str | None, task_type: str | None
) -> ApiRequest:
    """GetContextInfo (§13.7): each filter only when given."""
    query = _query(
        (p.Q_SESSION_ID, session_id),
        (p.Q_CONTEXT_ID, context_id),
        (p.Q_PATH, path),
        (p.Q_TASK_TYPE, task_type),
    )
    return ApiRequest("GET", p.PATH_GET_CONTEXT_INFO, "GetContextInfo", query=query)


def sync_context(
    session_id: str, context_id: str | None, path: str | None, mode: str | None
) -> ApiRequest:
    """SyncContext (§13.8): a sync started twice copies the same files twice, harmlessly."""
    query = _query(
        (p.Q_SESSION_ID, session_id),
        (p.Q_CONTEXT_ID, context_id),
        (p.Q_PATH, path),
        (p.Q_MODE, mode),
    )
    return _post(p.PATH_SYNC_CONTEXT, "SyncContext", {}, query=query)


def get_and_load_internal_context(session_id: str) -> ApiRequest:
    """GetAndLoadInternalContext (§14.1): `contextTypes` is `json.dumps(["file_transfer"])`."""
    query = (
        (p.Q_SESSION_ID, session_id),
        (p.Q_CONTEXT_TYPES, json.dumps([p.CONTEXT_TYPE_FILE_TRANSFER])),
    )
    return _post(p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT, "GetAndLoadInternalContext", {}, query=query)


# --- §15 the browser, §16.1 links ----------------------------------------------------------


def init_browser(session_id: str, persistent_path: str, option: Mapping[str, object]) -> ApiRequest:
    """`/browser/init` (§15.1): everything in the query, `browserOption` as JSON text with
    the default separators (form encoding turns their spaces into `+`); body `{}`. Not
    repeated: a second init restarts the browser."""
    query = (
        (p.Q_SESSION_ID, session_id),
        (p.Q_PERSISTENT_PATH, persistent_path),
        (p.Q_BROWSER_OPTION, json.dumps(dict(option))),
    )
    return _post(p.PATH_INIT_BROWSER, "InitBrowser", {}, query=query, idempotent=False)


def get_cdp_link(session_id: str) -> ApiRequest:
    """`/internet/getCdpLink` (§15.3): query `sessionId`, body `{}`."""
    return _post(p.PATH_GET_CDP_LINK, "GetCdpLink", {}, query=((p.Q_SESSION_ID, session_id),))


def get_link(session_id: str, protocol_type: str | None, port: int | None) -> ApiRequest:
    """`GET /internet/getLink` (§3.10): `protocolType` when given, `port` when truthy."""
    query = _query(
        (p.Q_SESSION_ID, session_id),
        (p.Q_PROTOCOL_TYPE, protocol_type),
        (p.Q_PORT, str(port) if port else None),
    )
    return ApiRequest("GET", p.PATH_GET_LINK, "GetLink", query=query)
