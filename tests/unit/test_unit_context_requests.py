"""`agb.context` and `session.context`: the exact requests against agb-wire.md §13 (method,
path, raw query, body), what their replies become, and the official validation messages.

§13.1: every parameter goes in the query string (camelCase); GETs have no body and POSTs send
`{}`; success is HTTP 200 with `success` true, the error text `message` or `HTTP <n> error`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

from _support.mock_wire import API_KEY, SESSION_ID, Wire, envelope
from aioagb import (
    AsyncAGB,
    AsyncSession,
    ClearanceTimeoutError,
    Context,
    ContextFileEntry,
    ContextListParams,
    ContextStatusData,
    InvalidArgumentError,
    NotFoundError,
)

CTX = {"id": "SdkCtx-1", "name": "agent-state", "createTime": "t0", "lastUsedTime": "t1"}


def ok(data: Any = None, **extra: Any) -> dict[str, Any]:
    return {"payload": envelope(data, **extra)}


def status(*tasks: dict[str, Any]) -> dict[str, str]:
    """GetContextInfo `data` (§13.7): JSON text of [{type: data, data: <JSON text>}]."""
    return {"contextStatus": json.dumps([{"type": "data", "data": json.dumps(list(tasks))}])}


def task(status_: str, task_type: str = "upload", **kw: Any) -> dict[str, Any]:
    return {"contextId": "c1", "path": "/data", "status": status_, "taskType": task_type, **kw}


@attrs.frozen
class Case:
    call: Callable[[AsyncAGB, AsyncSession], Awaitable[Any]]
    answers: list[tuple[str, str, dict[str, Any]]]
    expected: list[tuple[str, str, str, bytes | None]]
    check: Callable[[Any], bool] = lambda result: result.success


CASES: dict[str, Case] = {
    # §13.1 ListContexts: maxResults always (default 10), nextToken when given
    "list_default": Case(
        lambda agb, s: agb.context.list(),
        [("GET", "/sdk/ListContexts", ok([CTX]))],
        [("GET", "/sdk/ListContexts", "maxResults=10", None)],
        lambda r: r.success and r.contexts == [Context("SdkCtx-1", "agent-state", "t0", "t1")],
    ),
    # §13.2: the array is read, the pagination keys from the top level
    "list_page_two": Case(
        lambda agb, s: agb.context.list(ContextListParams(max_results=2, next_token="t 2")),
        [
            (
                "GET",
                "/sdk/ListContexts",
                ok([CTX], nextToken="t3", maxResults=2, totalCount=5),
            )
        ],
        [("GET", "/sdk/ListContexts", "maxResults=2&nextToken=t+2", None)],
        lambda r: (r.next_token, r.max_results, r.total_count, len(r.contexts)) == ("t3", 2, 5, 1),
    ),
    # §13.2: ... or from `data` when it is an object (then it carries no contexts)
    "list_data_object": Case(
        lambda agb, s: agb.context.list(),
        [("GET", "/sdk/ListContexts", ok({"nextToken": "n", "totalCount": 7}))],
        [("GET", "/sdk/ListContexts", "maxResults=10", None)],
        lambda r: (r.contexts, r.next_token, r.total_count, r.max_results) == ([], "n", 7, 10),
    ),
    # §13.3 GetContext: id/name/loginRegionId when given, allowCreate always
    "get_by_name": Case(
        lambda agb, s: agb.context.get(" ctx-a ", login_region_id="us-west-1"),
        [("GET", "/sdk/GetContext", ok(CTX))],
        [("GET", "/sdk/GetContext", "name=ctx-a&loginRegionId=us-west-1&allowCreate=false", None)],
        lambda r: r.success and r.context_id == "SdkCtx-1" and r.context.name == "agent-state",
    ),
    "get_by_id": Case(
        lambda agb, s: agb.context.get(context_id="SdkCtx-1", name="also"),
        [("GET", "/sdk/GetContext", ok({"id": "SdkCtx-1"}))],
        [("GET", "/sdk/GetContext", "id=SdkCtx-1&name=also&allowCreate=false", None)],
        lambda r: r.context == Context("SdkCtx-1", "also"),
    ),
    # §13.3: without data.id the requested id stands in, and success stays true
    "get_without_id_in_reply": Case(
        lambda agb, s: agb.context.get(context_id="SdkCtx-9"),
        [("GET", "/sdk/GetContext", ok({}))],
        [("GET", "/sdk/GetContext", "id=SdkCtx-9&allowCreate=false", None)],
        lambda r: r.success and r.context_id == "SdkCtx-9",
    ),
    "create": Case(
        lambda agb, s: agb.context.create("  agent-state "),
        [("GET", "/sdk/GetContext", ok(CTX))],
        [("GET", "/sdk/GetContext", "name=agent-state&allowCreate=true", None)],
    ),
    "get_not_found": Case(
        lambda agb, s: agb.context.get("nope"),
        [
            (
                "GET",
                "/sdk/GetContext",
                {"status": 404, "payload": envelope(success=False, message="Context not found")},
            )
        ],
        [("GET", "/sdk/GetContext", "name=nope&allowCreate=false", None)],
        lambda r: (
            not r.success
            and r.error_message == "Context not found"
            and isinstance(r.exception, NotFoundError)
        ),
    ),
    # §13.3 ModifyContext / DeleteContext: values trimmed
    "update": Case(
        lambda agb, s: agb.context.update(Context(" SdkCtx-1 ", " renamed ")),
        [("POST", "/sdk/ModifyContext", ok())],
        [("POST", "/sdk/ModifyContext", "id=SdkCtx-1&name=renamed", b"{}")],
        lambda r: r.success and r.data == {"context_id": "SdkCtx-1"},
    ),
    "delete": Case(
        lambda agb, s: agb.context.delete(Context("SdkCtx-1", "")),
        [("POST", "/sdk/DeleteContext", ok())],
        [("POST", "/sdk/DeleteContext", "id=SdkCtx-1", b"{}")],
        lambda r: r.success and r.data == {"context_id": "SdkCtx-1"},
    ),
    "delete_failed_uses_the_fallback_text": Case(
        lambda agb, s: agb.context.delete(Context("SdkCtx-1", "")),
        [("POST", "/sdk/DeleteContext", {"status": 500, "body": "oops"})],
        [("POST", "/sdk/DeleteContext", "id=SdkCtx-1", b"{}")],
        lambda r: not r.success and r.error_message == "HTTP 500 error",
    ),
    # §13.4 ClearContext and the clear status (GetContext?id&allowCreate=false)
    "clear_async": Case(
        lambda agb, s: agb.context.clear_async("SdkCtx-1"),
        [("POST", "/sdk/ClearContext", ok())],
        [("POST", "/sdk/ClearContext", "id=SdkCtx-1", b"{}")],
        lambda r: (r.success, r.status, r.context_id) == (True, "clearing", "SdkCtx-1"),
    ),
    "clear_status_missing_state_is_clearing": Case(
        lambda agb, s: agb.context.get_clear_status("SdkCtx-1"),
        [("GET", "/sdk/GetContext", ok({"id": "SdkCtx-1"}))],
        [("GET", "/sdk/GetContext", "id=SdkCtx-1&allowCreate=false", None)],
        lambda r: r.success and r.status == "clearing",
    ),
    "clear_polls_until_available": Case(
        lambda agb, s: agb.context.clear("SdkCtx-1", timeout=10, poll_interval=1),
        [
            ("POST", "/sdk/ClearContext", ok(rid="r-clear")),
            ("GET", "/sdk/GetContext", ok({"id": "SdkCtx-1", "state": "clearing"})),
            ("GET", "/sdk/GetContext", ok({"id": "SdkCtx-1", "state": "pre-available"})),
            ("GET", "/sdk/GetContext", ok({"id": "SdkCtx-1", "state": "available"})),
        ],
        [("POST", "/sdk/ClearContext", "id=SdkCtx-1", b"{}")]
        + [("GET", "/sdk/GetContext", "id=SdkCtx-1&allowCreate=false", None)] * 3,
        lambda r: (r.success, r.status, r.request_id) == (True, "available", "r-clear"),
    ),
    "clear_status_failure_is_returned": Case(
        lambda agb, s: agb.context.clear("SdkCtx-1"),
        [
            ("POST", "/sdk/ClearContext", ok()),
            ("GET", "/sdk/GetContext", {"status": 400, "payload": envelope(success=False)}),
        ],
        [
            ("POST", "/sdk/ClearContext", "id=SdkCtx-1", b"{}"),
            ("GET", "/sdk/GetContext", "id=SdkCtx-1&allowCreate=false", None),
        ],
        lambda r: not r.success and r.error_message == "HTTP 400 error",
    ),
    # §13.5 DescribeContextFiles: pageNumber and pageSize always; count at the top level
    "list_files": Case(
        lambda agb, s: agb.context.list_files("SdkCtx-1", "/home/data/"),
        [
            (
                "POST",
                "/sdk/DescribeContextFiles",
                ok(
                    [
                        {
                            "fileId": "f1",
                            "fileName": "a.txt",
                            "filePath": "/home/data/a.txt",
                            "fileType": "file",
                            "gmtCreate": "c",
                            "gmtModified": "m",
                            "size": 3,
                            "status": "ok",
                        },
                        "not an object",
                    ],
                    count=1,
                ),
            )
        ],
        [
            (
                "POST",
                "/sdk/DescribeContextFiles",
                "contextId=SdkCtx-1&parentFolderPath=%2Fhome%2Fdata%2F&pageNumber=1&pageSize=50",
                b"{}",
            )
        ],
        lambda r: (
            r.count == 1
            and r.entries
            == [ContextFileEntry("f1", "a.txt", "/home/data/a.txt", "file", "c", "m", 3, "ok")]
        ),
    ),
    "list_files_root": Case(
        lambda agb, s: agb.context.list_files("SdkCtx-1", page_number=2, page_size=100),
        [("POST", "/sdk/DescribeContextFiles", ok([]))],
        [
            (
                "POST",
                "/sdk/DescribeContextFiles",
                "contextId=SdkCtx-1&pageNumber=2&pageSize=100",
                b"{}",
            )
        ],
        lambda r: r.success and r.entries == [] and r.count is None,
    ),
    "upload_url": Case(
        lambda agb, s: agb.context.get_file_upload_url("SdkCtx-1", "/home/data/a b.txt"),
        [
            (
                "POST",
                "/sdk/GetContextFileUploadUrl",
                ok({"url": "http://oss/k?sig=1", "expireTime": 3600}),
            )
        ],
        [
            (
                "POST",
                "/sdk/GetContextFileUploadUrl",
                "contextId=SdkCtx-1&filePath=%2Fhome%2Fdata%2Fa+b.txt",
                b"{}",
            )
        ],
        lambda r: (r.url, r.expire_time) == ("http://oss/k?sig=1", 3600),
    ),
    "download_url_without_url_still_succeeds": Case(
        lambda agb, s: agb.context.get_file_download_url("SdkCtx-1", "/a"),
        [("POST", "/sdk/GetContextFileDownloadUrl", ok({}))],
        [("POST", "/sdk/GetContextFileDownloadUrl", "contextId=SdkCtx-1&filePath=%2Fa", b"{}")],
        lambda r: r.success and r.url == "" and r.expire_time is None,
    ),
    "delete_file": Case(
        lambda agb, s: agb.context.delete_file("SdkCtx-1", "/a"),
        [("POST", "/sdk/DeleteContextFile", ok())],
        [("POST", "/sdk/DeleteContextFile", "contextId=SdkCtx-1&filePath=%2Fa", b"{}")],
        lambda r: r.success and r.data is True,
    ),
    # §13.7 GetContextInfo: each filter only when given
    "info_all": Case(
        lambda agb, s: s.context.info(),
        [("GET", "/sdk/GetContextInfo", ok({"contextStatus": ""}))],
        [("GET", "/sdk/GetContextInfo", "sessionId=s-1", None)],
        lambda r: r.success and r.context_status_data == [],
    ),
    "info_filtered": Case(
        lambda agb, s: s.context.info("c1", "/data", "upload"),
        [
            (
                "GET",
                "/sdk/GetContextInfo",
                ok(
                    {
                        "contextStatus": json.dumps(
                            [
                                {"type": "other", "data": "[]"},
                                {
                                    "type": "data",
                                    "data": json.dumps(
                                        [task("Success", startTime=1, finishTime=2)]
                                    ),
                                },
                            ]
                        )
                    }
                ),
            )
        ],
        [
            (
                "GET",
                "/sdk/GetContextInfo",
                "sessionId=s-1&contextId=c1&path=%2Fdata&taskType=upload",
                None,
            )
        ],
        lambda r: (
            r.context_status_data
            == [ContextStatusData("c1", "/data", "", "Success", 1, 2, "upload")]
        ),
    ),
    "info_unparsable": Case(
        lambda agb, s: s.context.info(),
        [("GET", "/sdk/GetContextInfo", ok({"contextStatus": "[{not json"}))],
        [("GET", "/sdk/GetContextInfo", "sessionId=s-1", None)],
        lambda r: (
            not r.success and r.error_message.startswith("Unexpected error parsing context status:")
        ),
    ),
    # §13.8 SyncContext, then GetContextInfo (same filters, no taskType) until terminal
    "sync_all": Case(
        lambda agb, s: s.context.sync(),
        [
            ("POST", "/sdk/SyncContext", ok(rid="r-sync")),
            ("GET", "/sdk/GetContextInfo", ok(status(task("Running")))),
            ("GET", "/sdk/GetContextInfo", ok(status(task("Success"), task("Pending", "x")))),
        ],
        [
            ("POST", "/sdk/SyncContext", "sessionId=s-1", b"{}"),
            ("GET", "/sdk/GetContextInfo", "sessionId=s-1", None),
            ("GET", "/sdk/GetContextInfo", "sessionId=s-1", None),
        ],
        lambda r: r.success and r.request_id == "r-sync",
    ),
    "sync_one_mount_download": Case(
        lambda agb, s: s.context.sync("c1", "/data", mode="download"),
        [
            ("POST", "/sdk/SyncContext", ok()),
            ("GET", "/sdk/GetContextInfo", ok({"contextStatus": ""})),
        ],
        [
            (
                "POST",
                "/sdk/SyncContext",
                "sessionId=s-1&contextId=c1&path=%2Fdata&mode=download",
                b"{}",
            ),
            ("GET", "/sdk/GetContextInfo", "sessionId=s-1&contextId=c1&path=%2Fdata", None),
        ],
    ),
    "sync_failed_task": Case(
        lambda agb, s: s.context.sync(),
        [
            ("POST", "/sdk/SyncContext", ok(rid="r-sync")),
            ("GET", "/sdk/GetContextInfo", ok(status(task("Failed", errorMessage="disk full")))),
        ],
        [
            ("POST", "/sdk/SyncContext", "sessionId=s-1", b"{}"),
            ("GET", "/sdk/GetContextInfo", "sessionId=s-1", None),
        ],
        lambda r: (
            not r.success
            and r.request_id == "r-sync"
            and r.error_message == "Context sync failed (upload of c1 at /data): disk full"
        ),
    ),
    "sync_refused": Case(
        lambda agb, s: s.context.sync(),
        [
            (
                "POST",
                "/sdk/SyncContext",
                {"status": 400, "payload": envelope(success=False, message="no")},
            )
        ],
        [("POST", "/sdk/SyncContext", "sessionId=s-1", b"{}")],
        lambda r: not r.success and r.error_message == "no",
    ),
    # §13.8: stricter than the official client, a failing GetContextInfo fails the sync
    "sync_info_fails": Case(
        lambda agb, s: s.context.sync(),
        [
            ("POST", "/sdk/SyncContext", ok()),
            ("GET", "/sdk/GetContextInfo", {"status": 404, "payload": envelope(success=False)}),
        ],
        [
            ("POST", "/sdk/SyncContext", "sessionId=s-1", b"{}"),
            ("GET", "/sdk/GetContextInfo", "sessionId=s-1", None),
        ],
        lambda r: not r.success and r.error_message == "HTTP 404 error",
    ),
}


def register(wire: Wire, answers: list[tuple[str, str, dict[str, Any]]]) -> None:
    for method, path, kw in answers:
        wire.route(method, path, **kw)


@pytest.mark.parametrize("name", list(CASES))
async def test_each_context_call_sends_exactly_the_documented_requests(
    wire: Wire, agb: AsyncAGB, name: str
) -> None:
    case = CASES[name]
    register(wire, case.answers)
    session = AsyncSession(agb, SESSION_ID)

    result = await case.call(agb, session)

    assert [(s.method, s.path, s.query, s.body) for s in wire.sent] == case.expected
    assert case.check(result), result
    for sent in wire.sent:  # §0/§1.4, as for every other request
        assert sent.headers["authorization"] == f"Bearer {API_KEY}"
        assert sent.headers["Content-Type"] == "application/json"


async def test_sync_runs_out_of_polls(wire: Wire, agb: AsyncAGB) -> None:
    """§13.8: max_retries polls every retry_interval ms, then a failure."""
    wire.ok("POST", "/sdk/SyncContext", {})
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Running")), repeat=True)
    result = await AsyncSession(agb, SESSION_ID).context.sync(max_retries=3, retry_interval=10)
    assert not result.success
    assert "did not finish after 3 polls" in result.error_message
    assert wire.paths().count("GET /sdk/GetContextInfo") == 3


@pytest.mark.parametrize("is_coroutine", [False, True])
async def test_sync_callback_gets_the_outcome(wire: Wire, agb: AsyncAGB, is_coroutine: bool):
    """The official callback form: the call reports success (the sync started), the
    callback receives the outcome of the wait (False here: a task failed)."""
    wire.ok("POST", "/sdk/SyncContext", {}, rid="r-sync")
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Failed")))
    outcomes: list[bool] = []

    async def async_cb(ok_: bool) -> None:
        outcomes.append(ok_)

    callback = async_cb if is_coroutine else outcomes.append
    result = await AsyncSession(agb, SESSION_ID).context.sync(callback=callback)

    assert (result.success, result.request_id) == (True, "r-sync")
    assert outcomes == [False]


async def test_sync_callback_not_called_when_the_sync_is_refused(wire: Wire, agb: AsyncAGB):
    wire.route("POST", "/sdk/SyncContext", status=400, payload=envelope(success=False))
    called: list[bool] = []
    result = await AsyncSession(agb, SESSION_ID).context.sync(callback=called.append)
    assert not result.success and called == []


async def test_clear_times_out_with_the_official_error(wire: Wire, agb: AsyncAGB) -> None:
    """§13.4: int(timeout/poll_interval) waits, then ClearanceTimeoutError is *raised*."""
    wire.ok("POST", "/sdk/ClearContext")
    wire.ok("GET", "/sdk/GetContext", {"id": "c", "state": "clearing"}, repeat=True)
    with pytest.raises(ClearanceTimeoutError, match=r"Context clearing timed out after 4\.00"):
        await agb.context.clear("c", timeout=4, poll_interval=2)
    assert wire.paths().count("GET /sdk/GetContext") == 3  # at once, then 2 waits


async def test_iter_contexts_walks_every_page(wire: Wire, agb: AsyncAGB) -> None:
    """§13.2: one request per page, following the top-level nextToken to the end."""
    wire.ok("GET", "/sdk/ListContexts", [CTX], env={"nextToken": "p2"})
    wire.ok("GET", "/sdk/ListContexts", [{**CTX, "id": "SdkCtx-2"}], env={"nextToken": ""})
    ids = [c.id async for c in agb.context.iter_contexts(page_size=1)]
    assert ids == ["SdkCtx-1", "SdkCtx-2"]
    assert [s.query for s in wire.sent] == ["maxResults=1", "maxResults=1&nextToken=p2"]


async def test_iter_contexts_raises_a_failed_page(wire: Wire, agb: AsyncAGB) -> None:
    wire.route("GET", "/sdk/ListContexts", status=403, payload=envelope(success=False))
    with pytest.raises(Exception, match="HTTP 403 error"):
        [c async for c in agb.context.iter_contexts()]


async def test_iter_contexts_stops_on_a_repeated_token(wire: Wire, agb: AsyncAGB) -> None:
    wire.ok("GET", "/sdk/ListContexts", [CTX], env={"nextToken": "same"}, repeat=True)
    assert len([c async for c in agb.context.iter_contexts()]) == 2


# --- the official validation, raised before anything is sent ----------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda agb, s: agb.context.get(),
            "Either context_id or name must be provided (cannot both be empty)",
        ),
        (
            lambda agb, s: agb.context.get("  ", context_id=" "),
            "Either context_id or name must be provided (cannot both be empty)",
        ),
        (
            lambda agb, s: agb.context.get("n", create=True, context_id="c"),
            "context_id cannot be provided when create=True (only name is allowed when creating)",
        ),
        (lambda agb, s: agb.context.create(" "), "name cannot be empty or None"),
        (lambda agb, s: agb.context.create(None), "name cannot be empty or None"),
        (lambda agb, s: agb.context.update(None), "context cannot be None"),
        (lambda agb, s: agb.context.update(Context("", "n")), "context.id cannot be empty or None"),
        (
            lambda agb, s: agb.context.update(Context("c", " ")),
            "context.name cannot be empty or None",
        ),
        (lambda agb, s: agb.context.delete(Context(" ", "")), "context.id cannot be empty"),
        (lambda agb, s: agb.context.list_files(""), "context_id cannot be empty or None"),
        (lambda agb, s: agb.context.get_file_upload_url("c", " "), "file_path cannot be empty"),
        (lambda agb, s: agb.context.get_file_download_url(None, "/a"), "context_id cannot be"),
        (lambda agb, s: agb.context.delete_file("c", ""), "file_path cannot be empty or None"),
        (lambda agb, s: agb.context.clear_async(""), "context_id cannot be empty or None"),
        (lambda agb, s: agb.context.clear("c", timeout=0), "timeout must be positive"),
        (lambda agb, s: agb.context.list(ContextListParams(max_results=0)), "max_results must"),
        (lambda agb, s: agb.context.list({"max_results": 5}), "params must be ContextListParams"),
        (lambda agb, s: agb.context.list_files("c", page_size=0), "page_size must be >= 1"),
        (
            lambda agb, s: s.context.sync(context_id="c1"),
            "context_id and path must be provided together or both omitted. If you want to "
            "sync a specific context, both context_id and path are required. If you want to "
            "sync all contexts, omit both parameters.",
        ),
        (lambda agb, s: s.context.sync(path="/d"), "context_id and path must be provided"),
        (lambda agb, s: s.context.sync(mode="both"), "mode must be 'upload' or 'download'"),
        (lambda agb, s: s.context.sync(max_retries=0), "max_retries must be >= 1"),
        (lambda agb, s: s.context.sync(callback="cb"), "callback must be callable"),
        (lambda agb, s: s.delete(sync_context="yes"), "sync_context must be a bool"),
    ],
)
async def test_invalid_arguments_send_nothing(
    wire: Wire, agb: AsyncAGB, call: Callable[..., Awaitable[Any]], message: str
) -> None:
    with pytest.raises(InvalidArgumentError) as error:
        await call(agb, AsyncSession(agb, SESSION_ID))
    assert message in str(error.value)
    assert wire.sent == []


def test_context_is_mutable_for_the_official_update_example() -> None:
    context = Context("SdkCtx-1", "old")
    context.name = "new"
    assert context == Context("SdkCtx-1", "new")
