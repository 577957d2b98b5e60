"""Decoding the envelope (agb-wire.md §1.5, §2) and every per-endpoint quirk of §3 and §4."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from _support.mock_wire import SESSION_ID, Wire, envelope, not_found, tool_data
from aioagb import (
    AGBError,
    AsyncAGB,
    AsyncSession,
    AuthenticationError,
    CreateSessionParams,
    NotFoundError,
    RateLimitedError,
    ServerError,
    SessionCreateError,
    ToolError,
)
from aioagb.errors import APIError

Call = Callable[[AsyncSession], Awaitable[Any]]


@pytest.fixture
def session(agb: AsyncAGB) -> AsyncSession:
    return AsyncSession(agb, SESSION_ID, image_id="agb-code-space-2")


# The seed-parity calls, each with the route it uses (one request each).
CALLS: dict[str, tuple[str, str, Call]] = {
    "get_session": ("POST", "/mcp/getSession", lambda s: s.agb.get_session(SESSION_ID)),
    "get_status": ("POST", "/mcp/getSessionInfo", lambda s: s.get_status()),
    "list": ("GET", "/sdk/ListSession", lambda s: s.agb.list()),
    "set_labels": ("POST", "/sdk/SetLabel", lambda s: s.set_labels({"a": "b"})),
    "get_labels": ("GET", "/sdk/GetLabel", lambda s: s.get_labels()),
    "keep_alive": ("POST", "/mcp/refreshSessionIdleTime", lambda s: s.keep_alive()),
    "info": ("POST", "/mcp/getMcpResource", lambda s: s.info()),
    "list_mcp_tools": ("POST", "/mcp/listTools", lambda s: s.list_mcp_tools()),
    "run_code": ("POST", "/mcp", lambda s: s.code.run("1", "python")),
    "shell": ("POST", "/mcp", lambda s: s.command.execute("true")),
    "file_info": ("POST", "/mcp", lambda s: s.file.info("/x")),
    "file_write": ("POST", "/mcp", lambda s: s.file.write("/x", "y")),
    "create": ("POST", "/mcp/createSession", lambda s: s.agb.create(_params())),
}


def _params() -> CreateSessionParams:
    return CreateSessionParams(image_id="agb-code-space-2")


def failure(status: int, code: str, message: str, rid: str = "r-err") -> dict[str, Any]:
    body = envelope(None, rid=rid, success=False, code=code, message=message)
    body["httpStatusCode"] = status
    return {"status": status, "payload": body}


ERRORS: dict[str, tuple[dict[str, Any], type[AGBError]]] = {
    "401": (failure(401, "InvalidApiKey", "bad key"), AuthenticationError),
    "403": (failure(403, "Forbidden", "no access"), AuthenticationError),
    "404": (failure(404, "NotFound", "no such route"), NotFoundError),
    "400 session not found": (
        {"status": 400, "payload": not_found("r-err")},
        NotFoundError,
    ),
    "400 other": (failure(400, "InvalidParameter", "bad parameter"), APIError),
    "429": (failure(429, "Throttling", "slow down"), RateLimitedError),
    "500": (failure(500, "InternalError", "boom"), ServerError),
}


@pytest.mark.parametrize("error", list(ERRORS))
@pytest.mark.parametrize("call", list(CALLS))
async def test_error_envelope_maps_to_a_typed_error_with_the_request_id(
    wire: Wire, session: AsyncSession, call: str, error: str
) -> None:
    """§2 recommended error reply -> `success` False, `error_message` carrying the server's
    message, `request_id` from the body, and `result.exception` of the mapped type with the
    same request id, code and HTTP status.

    Retries are tested elsewhere: here one attempt (429/5xx answers repeat)."""
    method, path, run = CALLS[call]
    answer, kind = ERRORS[error]
    wire.route(method, path, repeat=True, **answer)
    wire.ok("GET", "/sdk/ListSession", [], repeat=True)  # create's recovery lookup
    wire.route("POST", "/mcp/releaseSessionAsync", repeat=True, payload=envelope())

    session.agb.retry = type(session.agb.retry)(attempts=1)
    result = await run(session)

    assert result.success is False
    message = answer["payload"]["message"]
    assert message in result.error_message
    assert result.request_id == "r-err"
    exc = result.exception
    assert type(exc) is kind, type(exc)
    assert exc.request_id == "r-err"
    assert exc.http_status == answer["status"]
    assert exc.code == answer["payload"]["code"]
    with pytest.raises(kind):
        result.raise_for_error()


@pytest.mark.parametrize(
    "call", [c for c in CALLS if c not in ("info", "create")]
)  # info and create: their own quirks, below
async def test_success_false_with_http_200_is_a_failure(
    wire: Wire, session: AsyncSession, call: str
) -> None:
    """§2/§7: failure when `success is not True`, even with HTTP 200."""
    method, path, run = CALLS[call]
    data = tool_data("{}") if path == "/mcp" else {}
    wire.ok(method, path, data, rid="r-200", env={"success": False, "message": "refused"})
    result = await run(session)
    assert (result.success, result.request_id) == (False, "r-200")
    assert "refused" in result.error_message
    assert result.exception is not None and result.exception.request_id == "r-200"


# §0 "Client success test": these need HTTP status exactly 200, the others < 400.
EXACTLY_200 = {"list", "get_labels", "keep_alive", "info", "list_mcp_tools"}
EXACTLY_200 |= {"run_code", "shell", "file_info", "file_write"}


@pytest.mark.parametrize("call", [c for c in CALLS if c != "create"])
async def test_which_calls_need_exactly_http_200(wire: Wire, session: AsyncSession, call: str):
    """HTTP 202 with `success: true`: a failure where §0 says "HTTP == 200", a success where
    it says "HTTP < 400"."""
    method, path, run = CALLS[call]
    data: Any = {"sessionId": SESSION_ID, "labels": "{}"}
    if path == "/mcp":
        data = tool_data('{"stdout": "", "stderr": "", "exit_code": 0, "result": []}')
    elif call == "list":
        data = []
    elif call == "list_mcp_tools":
        data = "[]"
    wire.route(method, path, status=202, payload=envelope(data, rid="r-202"))
    result = await run(session)
    assert result.success is (call not in EXACTLY_200)
    assert result.request_id == "r-202"


@pytest.mark.parametrize("call", [c for c in CALLS if c != "create"])
async def test_request_id_falls_back_to_the_header(
    wire: Wire, session: AsyncSession, call: str
) -> None:
    """§1.5: `requestId`, else the `x-request-id` header; PascalCase `RequestId` is not read
    (except by release, §3.7)."""
    method, path, run = CALLS[call]
    body = failure(400, "Bad", "nope")["payload"]
    del body["requestId"]
    body["RequestId"] = "r-pascal"
    wire.route(method, path, status=400, payload=body, headers={"x-request-id": "r-header"})
    result = await run(session)
    assert result.request_id == "r-header"
    assert result.exception.request_id == "r-header"


@pytest.mark.parametrize("call", [c for c in CALLS if c != "create"])
async def test_non_json_body_is_never_success(wire: Wire, session: AsyncSession, call: str):
    """§1.5: a body that is not JSON is a failure, even with HTTP 200."""
    method, path, run = CALLS[call]
    wire.route(method, path, status=200, body="<html>proxy</html>")
    result = await run(session)
    assert result.success is False
    assert isinstance(result.exception, AGBError)


# --- create (§3.1) -----------------------------------------------------------------------


async def test_create_accepts_a_session_id_whatever_the_status(wire: Wire, agb: AsyncAGB):
    """§3.1 [verified]: HTTP 500 with success:false but a data.sessionId is a created session
    (refusing it would leak it)."""
    body = envelope(
        {"sessionId": "s-9", "appInstanceId": "ai", "resourceId": "r"},
        rid="r-c",
        success=False,
        message="partial",
    )
    wire.route("POST", "/mcp/createSession", status=500, payload=body)
    result = await agb.create(_params())
    assert result.success and result.request_id == "r-c"
    assert result.session.session_id == "s-9"
    assert (result.session.app_instance_id, result.session.resource_id) == ("ai", "r")


@pytest.mark.parametrize(
    ("data", "message", "expected"),
    [
        ({"sessionId": "s-9", "success": False, "errMsg": "image busy"}, "", "image busy"),
        ({"success": False}, "Image not found", "Image not found"),
        (None, "Image not found", "Image not found"),
        ({"sessionId": ""}, "", "Unknown error"),
    ],
    ids=["data.success false", "no sessionId", "data null", "nothing"],
)
async def test_refused_create_fails_with_the_servers_message_and_no_recovery_lookup(
    wire: Wire, agb: AsyncAGB, data: Any, message: str, expected: str
) -> None:
    """§3.1: failure when data.success is false or data.sessionId missing/empty; the message
    is data.errMsg, else the top-level message. (The official client's last fallback is the
    literal "Unknow error"; the SDK says "Unknown error".) A 4xx refusal sends nothing more:
    no recovery lookup."""
    body = envelope(data, rid="r-refused", success=False, message=message)
    wire.route("POST", "/mcp/createSession", status=400, payload=body)
    result = await agb.create(_params())
    assert (result.success, result.error_message, result.request_id) == (
        False,
        expected,
        "r-refused",
    )
    assert wire.paths() == ["POST /mcp/createSession"]


async def test_open_session_raises_session_create_error(wire: Wire, agb: AsyncAGB):
    """The async-native API raises SessionCreateError for a refused create, with the id."""
    wire.route(
        "POST",
        "/mcp/createSession",
        status=400,
        payload=envelope(None, rid="r-no", success=False, code="InvalidImage", message="bad"),
    )
    with pytest.raises(SessionCreateError) as caught:
        await agb.open_session(_params())
    assert caught.value.request_id == "r-no" and caught.value.code == "InvalidImage"
    assert isinstance(caught.value.__cause__, APIError)


# --- get / status / list / labels / info / tools -----------------------------------------


async def test_get_session_reports_the_real_http_status_and_code(wire: Wire, agb: AsyncAGB):
    """§3.2: http_status_code is the real HTTP status, `code` the top-level code."""
    wire.ok(
        "POST",
        "/mcp/getSession",
        {"sessionId": SESSION_ID, "appInstanceId": "ai", "resourceId": "ri", "resourceUrl": "u"},
        rid="r-g",
        env={"httpStatusCode": 0},
    )
    result = await agb.get_session(SESSION_ID)
    assert (result.success, result.http_status_code, result.code, result.request_id) == (
        True,
        200,
        "ok",
        "r-g",
    )
    assert (result.data.app_instance_id, result.data.resource_id) == ("ai", "ri")


async def test_get_failure_reads_failed_to_get_session_with_its_id(wire: Wire, agb: AsyncAGB):
    """§3.2 and §9: "Failed to get session <id>: <message>"."""
    wire.route("POST", "/mcp/getSession", status=400, payload=not_found("r-nf"))
    result = await agb.get("s-404")
    assert result.error_message == "Failed to get session s-404: Session not found"
    assert result.request_id == "r-nf" and isinstance(result.exception, NotFoundError)


async def test_status_reads_pascal_status_and_the_json_http_status(
    wire: Wire, session: AsyncSession
):
    """§3.3: `data.status`, else `data.Status`; http_status_code is the JSON field."""
    wire.ok("POST", "/mcp/getSessionInfo", {"Status": "RUNNING"}, env={"httpStatusCode": 299})
    result = await session.get_status()
    assert (result.status, result.http_status_code, result.code) == ("RUNNING", 299, "ok")


async def test_list_reads_top_level_pagination_keys(wire: Wire, agb: AsyncAGB):
    """§3.4: nextToken, maxResults and count are siblings of `data`; entries without a
    sessionId are skipped."""
    data = [{"sessionId": "a", "sessionStatus": "RUNNING"}, {"sessionStatus": "RUNNING"}]
    wire.ok(
        "GET",
        "/sdk/ListSession",
        data,
        rid="r-l",
        env={"nextToken": "n2", "maxResults": 7, "count": 12},
    )
    result = await agb.list(limit=7)
    assert (
        result.session_ids,
        result.next_token,
        result.max_results,
        result.total_count,
        result.request_id,
    ) == (["a"], "n2", 7, 12, "r-l")


async def test_list_defaults_when_keys_are_absent(wire: Wire, agb: AsyncAGB):
    """§3.4 step 4: next_token "" when absent, max_results = limit, total_count 0."""
    wire.ok("GET", "/sdk/ListSession", [])
    result = await agb.list(limit=3)
    assert (result.next_token, result.max_results, result.total_count) == ("", 3, 0)


async def test_list_page_beyond_the_end(wire: Wire, agb: AsyncAGB):
    """§3.4 step 3: an empty nextToken on a preliminary page -> "Cannot reach page N: No more
    pages available", total_count from that response."""
    wire.ok("GET", "/sdk/ListSession", [{"sessionId": "a"}], rid="r-p", env={"count": 1})
    result = await agb.list(page=2)
    assert not result.success
    assert result.error_message == "Cannot reach page 2: No more pages available"
    assert (result.total_count, result.request_id) == (1, "r-p")
    assert len(wire.sent) == 1


async def test_list_with_a_failing_preliminary_page_reports_cannot_reach_page(
    wire: Wire, agb: AsyncAGB
):
    """§3.4 step 3: a failing preliminary page -> "Cannot reach page N: <message>"."""
    wire.ok("GET", "/sdk/ListSession", None, rid="r-x", env={"success": False, "message": "m"})
    result = await agb.list(page=3)
    assert (result.error_message, result.request_id) == ("Cannot reach page 3: m", "r-x")


async def test_list_preliminary_page_needs_http_200(wire: Wire, agb: AsyncAGB):
    """§3.4: the preliminary pages of the walk use the same success test (HTTP == 200)."""
    wire.route("GET", "/sdk/ListSession", status=202, payload=envelope([], nextToken="t"))
    result = await agb.list(page=2)
    assert (result.success, result.error_message) == (False, "Cannot reach page 2: HTTP 202 error")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ('{"a": "b", "aioagb-client": "c1", "aioagb-create": "t1"}', {"a": "b"}),
        ("", {}),
        (None, {}),
        # The official client raises SessionError for an object here (§3.6); the SDK is
        # lenient and reports no labels.
        ({"a": "b"}, {}),
    ],
    ids=["json string", "empty", "missing", "object"],
)
async def test_get_labels_decodes_the_json_string(
    wire: Wire, session: AsyncSession, labels: Any, expected: dict
):
    """§3.6: data.labels is a JSON *string*; missing or empty means {}; the SDK's own
    `aioagb-*` bookkeeping labels are left out."""
    wire.ok("GET", "/sdk/GetLabel", {"labels": labels} if labels is not None else {})
    result = await session.get_labels()
    assert result.success and result.data == expected


async def test_info_looks_at_the_http_status_only(wire: Wire, session: AsyncSession):
    """§3.11: success = HTTP 200 with a non-empty data object; the top-level `success` is
    ignored; desktopInfo fields are mapped."""
    data = {
        "sessionId": SESSION_ID,
        "resourceUrl": "u",
        "desktopInfo": {"appId": "app", "authCode": "ac", "ticket": "t"},
    }
    wire.ok("POST", "/mcp/getMcpResource", data, rid="r-i", env={"success": False})
    result = await session.info()
    assert result.success and result.request_id == "r-i"
    assert result.data["app_id"] == "app" and result.data["auth_code"] == "ac"
    assert result.data["ticket"] == "t" and result.data["resource_type"] == ""


async def test_info_with_empty_data_reports_no_resource_data_found(
    wire: Wire, session: AsyncSession
):
    """§3.11: HTTP 200 with empty data -> "No resource data found in response"."""
    wire.ok("POST", "/mcp/getMcpResource", {})
    result = await session.info()
    assert result.error_message == "No resource data found in response"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, {"success": False, "message": "db down"}, "db down"),
        (500, {"success": False, "message": ""}, "API request failed"),
        (502, None, "API request failed"),  # not JSON: no `success` either
        (400, {"success": True, "data": {"isError": True, "errMsg": "no desk"}}, "no desk"),
        (400, {"success": True, "data": {"isError": True}}, "Resource retrieval failed"),
        (400, {"success": True, "data": {"x": 1}}, "Failed to get MCP resource"),
    ],
    ids=["message", "no message", "not json", "errMsg", "isError", "else"],
)
async def test_info_error_text_priority(
    wire: Wire, session: AsyncSession, status: int, body: Any, expected: str
):
    """§3.11: for a non-200 status, the top-level message (or "API request failed") when
    success is false; data.errMsg (or "Resource retrieval failed") when data.isError; else
    "Failed to get MCP resource"."""
    if body is None:
        wire.route("POST", "/mcp/getMcpResource", status=status, body="Bad Gateway", repeat=True)
    else:
        wire.route("POST", "/mcp/getMcpResource", status=status, payload=body, repeat=True)
    session.agb.retry = type(session.agb.retry)(attempts=1)
    result = await session.info()
    assert (result.success, result.error_message) == (False, expected)


async def test_list_tools_data_must_be_a_json_string(wire: Wire, session: AsyncSession):
    """§3.12 [verified]: data is a JSON string of an array; an actual array gives zero tools
    (with success), as in the official client."""
    tools = [{"name": "shell", "description": "d", "inputSchema": {"required": []}, "server": "x"}]
    wire.ok("POST", "/mcp/listTools", json.dumps(tools))
    wire.ok("POST", "/mcp/listTools", tools)
    as_string = await session.list_mcp_tools()
    as_array = await session.list_mcp_tools()
    assert [(t.name, t.server, t.input_schema) for t in as_string.tools] == [
        ("shell", "x", {"required": []})
    ]
    assert as_array.success and as_array.tools == []


# --- delete (§3.7) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "release",
    [
        {"Success": True, "RequestId": "r-rel", "Code": "ok"},
        {"body": {"success": True, "request_id": "r-rel"}, "requestId": "r-outer"},
        {"success": True, "requestId": "r-rel"},
    ],
    ids=["pascal", "nested body", "camel"],
)
async def test_release_reply_is_read_tolerantly(wire: Wire, session: AsyncSession, release: dict):
    """§3.7: a nested `body` or the top level, each field in either case; the delete result's
    request id is the body's RequestId/requestId/request_id."""
    wire.route("POST", "/mcp/releaseSessionAsync", payload=release)
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())
    result = await session.delete()
    assert result.success and result.request_id == "r-rel"


async def test_release_failure_is_code_and_message_without_polling(
    wire: Wire, session: AsyncSession
):
    """§3.7/§9: `[<code>] <message>`, and no polling."""
    wire.route(
        "POST",
        "/mcp/releaseSessionAsync",
        status=403,
        payload={"Success": False, "Code": "Forbidden", "Message": "not yours", "RequestId": "r"},
    )
    result = await session.delete()
    assert (result.success, result.error_message, result.request_id) == (
        False,
        "[Forbidden] not yours",
        "r",
    )
    assert isinstance(result.exception, AuthenticationError)
    assert wire.paths() == ["POST /mcp/releaseSessionAsync"]


async def test_release_of_a_session_already_gone_counts_as_deleted(
    wire: Wire, session: AsyncSession
):
    """Deliberately kinder than the official client (docs/sdk.md): a release answered
    "not found" means the session is gone already; no polling."""
    wire.route("POST", "/mcp/releaseSessionAsync", status=400, payload=not_found("r-gone"))
    result = await session.delete()
    assert result.success and result.request_id == "r-gone"
    assert wire.paths() == ["POST /mcp/releaseSessionAsync"]


@pytest.mark.parametrize(
    "gone",
    [
        {"code": "InvalidMcpSession.NotFound", "message": ""},
        {"code": "X", "message": "Resource NotFound", "httpStatusCode": 400},
        {"code": "session not found", "message": "", "httpStatusCode": 400},
        {"code": "X", "message": "Session NOT FOUND", "httpStatusCode": 500},
    ],
    ids=["code", "400 + NotFound message", "400 + code text", "message"],
)
async def test_polling_ends_on_each_not_found_form(wire: Wire, session: AsyncSession, gone: dict):
    """§3.7: the status call fails and one of the not-found tests holds."""
    wire.ok("POST", "/mcp/releaseSessionAsync")
    wire.route(
        "POST",
        "/mcp/getSessionInfo",
        status=400,
        payload={"success": False, "requestId": "r", **gone},
    )
    assert (await session.delete()).success
    assert len(wire.sent) == 2


async def test_polling_continues_through_deleting_and_deleted(wire: Wire, session: AsyncSession):
    """§3.7: success with RUNNING, DELETING or even DELETED keeps polling; only FINISH (or
    not-found) ends it."""
    wire.ok("POST", "/mcp/releaseSessionAsync")
    for status in ("RUNNING", "DELETED", "FINISH"):
        wire.ok("POST", "/mcp/getSessionInfo", {"status": status})
    assert (await session.delete()).success
    assert wire.paths().count("POST /mcp/getSessionInfo") == 3


async def test_polling_gives_up_after_delete_timeout(wire: Wire):
    """§3.7/§9: "Timeout waiting for session deletion after <t>s" (300 s by default)."""
    from _support.mock_wire import client

    wire.ok("POST", "/mcp/releaseSessionAsync", rid="r-rel")
    wire.ok("POST", "/mcp/getSessionInfo", {"status": "RUNNING"}, repeat=True)
    async with client(delete_timeout=0.2) as agb:
        result = await AsyncSession(agb, SESSION_ID).delete()
    assert result.error_message == "Timeout waiting for session deletion after 0.2s"
    assert result.request_id == "r-rel" and not result.success


# --- tool calls (§4.2) -------------------------------------------------------------------


def tool_reply(data: Any, *, message: str = "", success: Any = True, rid: str = "r-t") -> dict:
    body = envelope(data, rid=rid, message=message)
    if success is None:
        del body["success"]
    else:
        body["success"] = success
    return {"payload": body}


@pytest.mark.parametrize(
    ("answer", "ok", "error"),
    [
        (tool_reply(tool_data("boom", is_error=True)), False, "boom"),
        # a non-empty top-level message hides the tool's own error text
        (tool_reply(tool_data("boom", is_error=True), message="OK"), False, "OK"),
        # a missing top-level `success` is a failure
        (tool_reply(tool_data("x"), success=None), False, "Tool execution failed"),
        (tool_reply("a string"), False, "Malformed tool response: data is not an object"),
        # data null or missing: the tool is OK
        (tool_reply(None), True, ""),
    ],
    ids=["isError", "message wins", "no success", "data string", "data null"],
)
async def test_tool_success_rule_and_error_priority(
    wire: Wire, session: AsyncSession, answer: dict, ok: bool, error: str
):
    wire.route("POST", "/mcp", **answer)
    result = await session.call_mcp_tool("any", {})
    assert (result.success, result.error_message, result.request_id) == (ok, error, "r-t")


async def test_tool_error_is_a_tool_error(wire: Wire, session: AsyncSession):
    """A tool that ran and failed (isError) is a ToolError; a dead session is NotFoundError."""
    wire.tool("no such file", is_error=True, rid="r-te")
    wire.route(
        "POST",
        "/mcp",
        payload=envelope(
            None,
            rid="r-dead",
            success=False,
            code="InvalidSession.NotFound",
            message="Resource [Session] is not found",
        ),
    )
    failed = await session.file.remove("/x")
    dead = await session.file.remove("/x")
    assert isinstance(failed.exception, ToolError) and failed.exception.request_id == "r-te"
    assert isinstance(dead.exception, NotFoundError) and dead.exception.request_id == "r-dead"
    assert dead.error_message == "Resource [Session] is not found"


async def test_tool_data_joins_the_text_items_else_takes_the_first_image(
    wire: Wire, session: AsyncSession
):
    """§4.2 [verified]: join the text of every `type: text` item with a newline; ignore other
    items; without text, the first image's data."""
    content = [
        {"type": "text", "text": "a"},
        {"type": "resource", "text": "ignored"},
        {"text": "no type"},
        {"type": "text", "text": "b"},
    ]
    wire.ok("POST", "/mcp", {"isError": False, "content": content})
    wire.ok("POST", "/mcp", {"isError": False, "content": [{"type": "image", "data": "iVBO"}]})
    assert (await session.call_mcp_tool("t", {})).data == "a\nb"
    assert (await session.call_mcp_tool("t", {})).data == "iVBO"


# --- payloads: run_code (§4.3) and shell (§4.4) --------------------------------------------


async def run_with(wire: Wire, session: AsyncSession, payload: Any, **kw: Any):
    text = payload if isinstance(payload, str) else json.dumps(payload)
    wire.tool(text, **kw)
    return await session.code.run("x", "python")


async def test_code_run_reads_every_mime_type_and_the_logs_of_the_new_format(
    wire: Wire, session: AsyncSession
):
    """§4.3 new format, every mime key, chart as an object, strings as results."""
    payload = {
        "result": [
            {"text/plain": "3", "isMainResult": True},
            {
                "text/html": "<b>",
                "image/png": "iVBO",
                "image/svg+xml": "<svg/>",
                "text/latex": "$x$",
                "text/markdown": "# m",
                "application/json": {"k": 1},
                "application/vnd.vegalite.v5+json": {"mark": "bar"},
            },
            json.dumps(json.dumps({"text": "double"})),
            "plain",
        ],
        "stdout": ["hi\n"],
        "stderr": ["warn\n"],
        "execution_count": 4,
        "execution_time": 0.25,
    }
    result = await run_with(wire, session, payload, rid="r-code")
    assert result.success and result.request_id == "r-code"
    assert (result.logs.stdout, result.logs.stderr) == (["hi\n"], ["warn\n"])
    assert (result.execution_count, result.execution_time, result.result) == (4, 0.25, "3")
    main, rich, double, plain = result.results
    assert main.is_main_result and main.text == "3"
    assert (rich.html, rich.png, rich.svg, rich.latex, rich.markdown) == (
        "<b>",
        "iVBO",
        "<svg/>",
        "$x$",
        "# m",
    )
    assert rich.json == {"k": 1} and rich.chart == {"mark": "bar"}
    assert not rich.is_main_result
    assert double.text == "double" and plain.text == "plain"


async def test_code_execution_error_fails_with_its_message_and_an_execution_error(
    wire: Wire, session: AsyncSession
):
    """§4.3: executionError -> failure, error_message and error(name ExecutionError)."""
    payload = {"result": [], "stdout": [], "stderr": ["Traceback..."], "executionError": "E: x"}
    result = await run_with(wire, session, payload, rid="r-e")
    assert (result.success, result.error_message) == (False, "E: x")
    assert (result.error.name, result.error.value) == ("ExecutionError", "E: x")
    assert result.logs.stderr == ["Traceback..."]
    assert result.exception.request_id == "r-e"


@pytest.mark.parametrize(
    ("payload", "success", "stdout", "error_message"),
    [
        # unwrapping: content[0].text holding the real object
        (
            {"content": [{"text": json.dumps({"result": [], "stdout": ["in"], "stderr": []})}]},
            True,
            ["in"],
            "",
        ),
        (
            {"isError": True, "content": [{"text": "a"}, {"text": "b"}]},
            False,
            [],
            "Error in response: a; b",
        ),
        (
            {"logs": {"stdout": ["r"], "stderr": []}, "results": [], "error": {"name": "N"}},
            True,  # an `error` object alone is not a failure in the rich format
            ["r"],
            "N",
        ),
        ({"content": [{"type": "text", "text": "legacy"}]}, True, ["legacy"], ""),
        ("not json at all", True, ["not json at all"], ""),
    ],
    ids=["unwrap", "isError", "rich", "legacy", "plain text"],
)
async def test_code_other_payload_shapes(
    wire: Wire,
    session: AsyncSession,
    payload: Any,
    success: bool,
    stdout: list,
    error_message: str,
):
    """§4.3 "Other payload shapes", in the client's order."""
    result = await run_with(wire, session, payload)
    assert (result.success, result.logs.stdout, result.error_message) == (
        success,
        stdout,
        error_message,
    )


async def test_code_run_with_an_empty_payload_fails_with_no_data_returned(
    wire: Wire, session: AsyncSession
):
    """§4.3: an empty payload is a failure, "No data returned"."""
    result = await run_with(wire, session, "")
    assert (result.success, result.error_message) == (False, "No data returned")


async def test_code_tool_failure_has_empty_logs(wire: Wire, session: AsyncSession):
    """§4.3: if the tool call fails, success False, the §4.2 message, empty logs/results."""
    result = await run_with(wire, session, "Unsupported language", is_error=True, rid="r-f")
    assert (result.success, result.error_message, result.request_id) == (
        False,
        "Unsupported language",
        "r-f",
    )
    assert result.logs.stdout == [] and result.results == []


@pytest.mark.parametrize(
    ("text", "is_error", "expected"),
    [
        (
            '{"stdout": "hi\\n", "stderr": "", "exit_code": 0, "traceId": "t1"}',
            False,
            (True, "hi\n", "", 0, "t1"),
        ),
        # non-zero exit: isError with errorCode; error_message = stderr
        (
            '{"stdout": "", "stderr": "ls: nope", "errorCode": 2, "traceId": "t-9"}',
            True,
            (False, "ls: nope", "ls: nope", 2, "t-9"),
        ),
        # exit_code wins over errorCode; without stderr, a sentence instead of the raw JSON
        # the official client shows
        (
            '{"stdout": "o", "stderr": "", "exit_code": 3, "errorCode": 9}',
            True,
            (False, "o", "command exited with code 3", 3, ""),
        ),
        # a timeout (124) without stderr: says what to do (the default timeout_ms is 1000)
        (
            '{"stdout": "", "stderr": "", "errorCode": 124, "traceId": "t-7"}',
            True,
            (False, "", "command timed out after 1000 ms; raise timeout_ms", 124, "t-7"),
        ),
        # isError:false with a non-zero exit_code: failure (the official text is empty)
        (
            '{"stdout": "o", "stderr": "", "exit_code": 1}',
            False,
            (False, "o", "command exited with code 1", 1, ""),
        ),
        # missing exit_code defaults to 0
        ('{"stdout": "o", "stderr": "e"}', False, (True, "oe", "", 0, "")),
        # non-JSON text: raw output, exit code None, success
        ("raw output", False, (True, "raw output", "", None, "")),
        # non-JSON error text is the error message as is
        ("killed", True, (False, "", "killed", None, "")),
    ],
    ids=[
        "ok",
        "errorCode",
        "exit_code wins",
        "timeout",
        "non-zero ok",
        "default 0",
        "raw",
        "raw error",
    ],
)
async def test_command_execute_reads_output_and_exit_code_from_the_shell_payload(
    wire: Wire, session: AsyncSession, text: str, is_error: bool, expected: tuple
):
    """§4.4 payload contract (§10's shell example is the errorCode row)."""
    wire.tool(text, is_error=is_error, rid="r-sh")
    r = await session.command.execute("ls /nope")
    got = (r.success, r.output, r.error_message, r.exit_code, r.trace_id)
    assert got == expected
    assert r.request_id == "r-sh"
    if not r.success:
        assert r.exception is not None and r.exception.request_id == "r-sh"


async def test_file_info_values_are_converted(wire: Wire, session: AsyncSession):
    """§4.5 get_file_info: split at the first ':', booleans in any case, ints, floats;
    date values keep their colons."""
    wire.tool(
        "size: 42\nisDirectory: FALSE\nisFile: True\npermissions: 644\n"
        "modified: 2024-01-02T03:04:05Z\nratio: 0.5\n\nno colon line"
    )
    info = (await session.file.info("/x")).file_info
    assert info == {
        "size": 42,
        "isDirectory": False,
        "isFile": True,
        "permissions": 644,
        "modified": "2024-01-02T03:04:05Z",
        "ratio": 0.5,
    }


async def test_read_multiple_files_blocks(wire: Wire, session: AsyncSession):
    """§4.5 read_multiple_files: `<path>:` starts a file, `---` ends it, content stripped;
    an error block keeps its text."""
    wire.tool("/a:\n  line 1\nline 2\n\n---\n/b: Error - ENOENT\n---\n/c:\nc")
    contents = (await session.file.read_batch(["/a", "/b", "/c"])).contents
    assert contents == {"/a": "line 1\nline 2", "/b": "Error - ENOENT", "/c": "c"}
