"""Issue 6 point 3: every public method of the SDK refuses bad arguments before sending.

One table, one row per (method, bad argument): the call must raise `InvalidArgumentError`
(also a `ValueError`; `ConfigurationError` for the client's own settings) whose message names
what is wrong, and the transport must have been asked to send nothing at all. The transport
here counts requests and would answer each with a success, so a missing check shows up as a
request sent (and usually no exception).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import attrs
import pytest

from aioagb import (
    AsyncAGB,
    AsyncSession,
    Code,
    Command,
    ConfigurationError,
    ContextListParams,
    ContextManager,
    ContextService,
    CreateSessionParams,
    FileSystem,
    InvalidArgumentError,
    SessionPool,
    TransportRequest,
    TransportResponse,
)
from aioagb.errors import AGBError

OK_BODY = b'{"success": true, "code": "ok", "message": "", "requestId": "r", "data": {}}'


class CountingTransport:
    """Counts what it is asked to send; answers a bare success."""

    def __init__(self) -> None:
        self.sent: list[TransportRequest] = []

    async def send(self, request: TransportRequest) -> TransportResponse:
        self.sent.append(request)
        return TransportResponse(200, OK_BODY)

    async def aclose(self) -> None:
        pass


@attrs.frozen
class Ctx:
    agb: AsyncAGB
    session: AsyncSession
    params: CreateSessionParams


Call = Callable[[Ctx], object]
P = CreateSessionParams(image_id="agb-code-space-2")


async def _enter(manager: AbstractAsyncContextManager[object]) -> None:
    async with manager:
        pass


async def _drain(iterator: AsyncIterator[object]) -> None:
    async for _ in iterator:
        pass


def _new_client(**options: Any) -> Callable[[Ctx], object]:
    return lambda c: AsyncAGB("k", endpoint="http://127.0.0.1:9", **options)


# (case id, call, exception type, words the message must contain)
CASES: list[tuple[str, Call, type[Exception], str]] = [
    # --- AsyncAGB(...) ---------------------------------------------------------------------
    ("client-timeout-negative", _new_client(timeout=-1), ConfigurationError, "timeout"),
    ("client-timeout-nan", _new_client(timeout=math.nan), ConfigurationError, "timeout"),
    ("client-timeout-text", _new_client(timeout="5"), ConfigurationError, "timeout"),
    (
        "client-connection-limit-0",
        _new_client(connection_limit=0),
        InvalidArgumentError,
        "connection_limit",
    ),
    (
        "client-connection-limit-bool",
        _new_client(connection_limit=True),
        InvalidArgumentError,
        "connection_limit",
    ),
    (
        "client-cleanup-timeout-0",
        _new_client(cleanup_timeout=0),
        InvalidArgumentError,
        "cleanup_timeout",
    ),
    (
        "client-delete-timeout-inf",
        _new_client(delete_timeout=math.inf),
        InvalidArgumentError,
        "delete_timeout",
    ),
    ("client-orphan-grace-neg", _new_client(orphan_grace=-1), InvalidArgumentError, "orphan_grace"),
    # --- CreateSessionParams -----------------------------------------------------------------
    (
        "params-image-none",
        lambda c: CreateSessionParams(image_id=None),
        InvalidArgumentError,
        "image_id",
    ),
    (
        "params-image-blank",
        lambda c: CreateSessionParams(image_id="  "),
        InvalidArgumentError,
        "image_id",
    ),
    (
        "params-image-int",
        lambda c: CreateSessionParams(image_id=5),
        InvalidArgumentError,
        "image_id",
    ),
    (
        "params-image-nul",
        lambda c: CreateSessionParams(image_id="a\x00"),
        InvalidArgumentError,
        "image_id",
    ),
    (
        "params-labels-str",
        lambda c: CreateSessionParams(image_id="i", labels="ab"),
        InvalidArgumentError,
        "labels",
    ),
    (
        "params-labels-int",
        lambda c: CreateSessionParams(image_id="i", labels=5),
        InvalidArgumentError,
        "labels",
    ),
    (
        "params-labels-pairs",
        lambda c: CreateSessionParams(image_id="i", labels=[("a", "b")]),
        InvalidArgumentError,
        "labels",
    ),
    (
        "params-labels-empty-key",
        lambda c: CreateSessionParams(image_id="i", labels={"": "v"}),
        InvalidArgumentError,
        "Label keys",
    ),
    (
        "params-labels-empty-value",
        lambda c: CreateSessionParams(image_id="i", labels={"k": " "}),
        InvalidArgumentError,
        "Label values",
    ),
    (
        "params-labels-int-value",
        lambda c: CreateSessionParams(image_id="i", labels={"k": 1}),
        InvalidArgumentError,
        "Label values",
    ),
    (
        "params-labels-long",
        lambda c: CreateSessionParams(image_id="i", labels={"k" * 200: "v"}),
        InvalidArgumentError,
        "longer than",
    ),
    (
        "params-idle-0",
        lambda c: CreateSessionParams(image_id="i", idle_release_timeout=0),
        InvalidArgumentError,
        "idle_release_timeout",
    ),
    (
        "params-idle-float",
        lambda c: CreateSessionParams(image_id="i", idle_release_timeout=1.5),
        InvalidArgumentError,
        "idle_release_timeout",
    ),
    (
        "params-idle-text",
        lambda c: CreateSessionParams(image_id="i", idle_release_timeout="60"),
        InvalidArgumentError,
        "idle_release_timeout",
    ),
    (
        "params-policy-int",
        lambda c: CreateSessionParams(image_id="i", policy_id=5),
        InvalidArgumentError,
        "policy_id",
    ),
    # --- AsyncAGB methods --------------------------------------------------------------------
    (
        "create-not-params",
        lambda c: c.agb.create("agb-code-space-2"),
        InvalidArgumentError,
        "params",
    ),
    ("create-none", lambda c: c.agb.create(None), InvalidArgumentError, "params"),
    (
        "open-session-dict",
        lambda c: c.agb.open_session({"image_id": "x"}),
        InvalidArgumentError,
        "params",
    ),
    ("session-ctx-str", lambda c: _enter(c.agb.session("x")), InvalidArgumentError, "params"),
    ("get-empty", lambda c: c.agb.get(""), InvalidArgumentError, "session_id"),
    ("get-blank", lambda c: c.agb.get("   "), InvalidArgumentError, "session_id"),
    ("get-none", lambda c: c.agb.get(None), InvalidArgumentError, "session_id"),
    ("get-int", lambda c: c.agb.get(5), InvalidArgumentError, "session_id"),
    ("get-nul", lambda c: c.agb.get("s\x00"), InvalidArgumentError, "session_id"),
    ("get-session-empty", lambda c: c.agb.get_session(""), InvalidArgumentError, "session_id"),
    ("list-labels-str", lambda c: c.agb.list(labels="a=b"), InvalidArgumentError, "labels"),
    ("list-labels-bad", lambda c: c.agb.list(labels={"a": ""}), InvalidArgumentError, "Label"),
    ("list-page-0", lambda c: c.agb.list(page=0), InvalidArgumentError, "page"),
    ("list-page-text", lambda c: c.agb.list(page="2"), InvalidArgumentError, "page"),
    ("list-limit-0", lambda c: c.agb.list(limit=0), InvalidArgumentError, "limit"),
    ("list-limit-huge", lambda c: c.agb.list(limit=10_000), InvalidArgumentError, "limit"),
    ("list-limit-bool", lambda c: c.agb.list(limit=True), InvalidArgumentError, "limit"),
    ("delete-id-str", lambda c: c.agb.delete("session-1"), InvalidArgumentError, "session"),
    (
        "create-many-count-neg",
        lambda c: c.agb.create_many(c.params, -1),
        InvalidArgumentError,
        "count",
    ),
    (
        "create-many-count-text",
        lambda c: c.agb.create_many(c.params, "3"),
        InvalidArgumentError,
        "count",
    ),
    (
        "create-many-concurrency-0",
        lambda c: c.agb.create_many(c.params, 2, concurrency=0),
        InvalidArgumentError,
        "concurrency",
    ),
    (
        "create-many-concurrency-float",
        lambda c: c.agb.create_many(c.params, 2, concurrency=2.5),
        InvalidArgumentError,
        "concurrency",
    ),
    (
        "create-many-params-str",
        lambda c: c.agb.create_many("agb-code-space-2", 2),
        InvalidArgumentError,
        "params",
    ),
    (
        "sessions-count-neg",
        lambda c: _enter(c.agb.sessions(c.params, count=-2)),
        InvalidArgumentError,
        "count",
    ),
    (
        "sessions-concurrency-0",
        lambda c: _enter(c.agb.sessions(c.params, count=2, concurrency=0)),
        InvalidArgumentError,
        "concurrency",
    ),
    (
        "delete-sessions-concurrency-0",
        lambda c: c.agb.delete_sessions([c.session], concurrency=0),
        InvalidArgumentError,
        "concurrency",
    ),
    (
        "map-sessions-concurrency-0",
        lambda c: c.agb.map_sessions(_noop_item, [1], c.params, concurrency=0),
        InvalidArgumentError,
        "concurrency",
    ),
    (
        "map-sessions-fn-not-callable",
        lambda c: c.agb.map_sessions("fn", [1], c.params),
        InvalidArgumentError,
        "fn",
    ),
    (
        "delete-sessions-not-sessions",
        lambda c: c.agb.delete_sessions(["session-1"]),
        InvalidArgumentError,
        "sessions",
    ),
    (
        "iter-labels-list",
        lambda c: _drain(c.agb.iter_sessions(["a"])),
        InvalidArgumentError,
        "labels",
    ),
    (
        "iter-page-size-0",
        lambda c: _drain(c.agb.iter_sessions(page_size=0)),
        InvalidArgumentError,
        "page_size",
    ),
    (
        "iter-page-size-huge",
        lambda c: _drain(c.agb.iter_sessions(page_size=1000)),
        InvalidArgumentError,
        "page_size",
    ),
    ("delete-all-labels-int", lambda c: c.agb.delete_all(5), InvalidArgumentError, "labels"),
    (
        "delete-all-concurrency-0",
        lambda c: c.agb.delete_all(concurrency=0),
        InvalidArgumentError,
        "concurrency",
    ),
    (
        "delete-all-page-size-0",
        lambda c: c.agb.delete_all(page_size=0),
        InvalidArgumentError,
        "page_size",
    ),
    # --- AsyncSession ------------------------------------------------------------------------
    ("session-id-empty", lambda c: AsyncSession(c.agb, ""), InvalidArgumentError, "session_id"),
    ("session-id-int", lambda c: AsyncSession(c.agb, 7), InvalidArgumentError, "session_id"),
    (
        "set-labels-empty",
        lambda c: c.session.set_labels({}),
        InvalidArgumentError,
        "Labels cannot be empty",
    ),
    ("set-labels-none", lambda c: c.session.set_labels(None), InvalidArgumentError, "labels"),
    ("set-labels-str", lambda c: c.session.set_labels("a=b"), InvalidArgumentError, "labels"),
    (
        "set-labels-blank-value",
        lambda c: c.session.set_labels({"a": ""}),
        InvalidArgumentError,
        "Label values",
    ),
    ("list-tools-blank", lambda c: c.session.list_mcp_tools(" "), InvalidArgumentError, "image_id"),
    ("list-tools-int", lambda c: c.session.list_mcp_tools(5), InvalidArgumentError, "image_id"),
    (
        "call-tool-name-empty",
        lambda c: c.session.call_mcp_tool("", {}),
        InvalidArgumentError,
        "tool_name",
    ),
    (
        "call-tool-args-str",
        lambda c: c.session.call_mcp_tool("shell", "ls"),
        InvalidArgumentError,
        "args",
    ),
    (
        "call-tool-args-unjsonable",
        lambda c: c.session.call_mcp_tool("shell", {"a": object()}),
        InvalidArgumentError,
        "JSON",
    ),
    (
        "call-tool-timeout-neg",
        lambda c: c.session.call_mcp_tool("shell", {}, timeout=-1),
        InvalidArgumentError,
        "timeout",
    ),
    (
        "call-tool-timeout-nan",
        lambda c: c.session.call_mcp_tool("shell", {}, timeout=math.nan),
        InvalidArgumentError,
        "timeout",
    ),
    (
        "call-tool-read-timeout-neg",
        lambda c: c.session.call_mcp_tool("shell", {}, read_timeout=-1),
        InvalidArgumentError,
        "read_timeout",
    ),
    (
        "call-tool-connect-timeout-text",
        lambda c: c.session.call_mcp_tool("shell", {}, connect_timeout="5"),
        InvalidArgumentError,
        "connect_timeout",
    ),
    (
        "run-code-language",
        lambda c: c.session.run_code("1", "ruby"),
        InvalidArgumentError,
        "Unsupported language: ruby",
    ),
    (
        "get-metrics-read-timeout-0",
        lambda c: c.session.get_metrics(read_timeout=0, connect_timeout=1000),
        InvalidArgumentError,
        "read_timeout",
    ),
    (
        "get-link-port-0",
        lambda c: c.session.get_link(port=0),
        InvalidArgumentError,
        "port",
    ),
    (
        "get-link-port-text",
        lambda c: c.session.get_link(port="8080"),
        InvalidArgumentError,
        "port",
    ),
    (
        "get-link-protocol-type",
        lambda c: c.session.get_link(protocol_type=443),
        InvalidArgumentError,
        "protocol_type",
    ),
    (
        "browser-initialize-not-an-option",
        lambda c: c.session.browser.initialize({}),
        InvalidArgumentError,
        "BrowserOption",
    ),
    (
        "code-stream-language",
        lambda c: c.session.code.stream("1", "cobol"),
        InvalidArgumentError,
        "Unsupported language: cobol",
    ),
    (
        "code-stream-timeout-0",
        lambda c: c.session.code.stream("1", "python", timeout_s=0),
        InvalidArgumentError,
        "timeout_s",
    ),
    (
        "code-stream-beta-language",
        lambda c: c.session.code.run("1", "ruby", stream_beta=True),
        InvalidArgumentError,
        "Unsupported language: ruby",
    ),
    (
        "code-run-code-language",
        lambda c: c.session.code.run_code("1", "RUBY"),
        InvalidArgumentError,
        "Unsupported language: RUBY. Supported languages are java, javascript, python, r",
    ),
    # --- session.code ------------------------------------------------------------------------
    (
        "code-not-text",
        lambda c: c.session.code.run(b"print(1)", "python"),
        InvalidArgumentError,
        "code",
    ),
    (
        "code-nul",
        lambda c: c.session.code.run("print(1)\x00", "python"),
        InvalidArgumentError,
        "code",
    ),
    (
        "code-language-empty",
        lambda c: c.session.code.run("1", ""),
        InvalidArgumentError,
        "language",
    ),
    (
        "code-language-none",
        lambda c: c.session.code.run("1", None),
        InvalidArgumentError,
        "language",
    ),
    (
        "code-language-unknown",
        lambda c: c.session.code.run("1", "cobol"),
        InvalidArgumentError,
        "Unsupported language",
    ),
    (
        "code-timeout-0",
        lambda c: c.session.code.run("1", "python", timeout_s=0),
        InvalidArgumentError,
        "timeout_s",
    ),
    (
        "code-timeout-neg",
        lambda c: c.session.code.run("1", "python", timeout_s=-5),
        InvalidArgumentError,
        "timeout_s",
    ),
    (
        "code-timeout-float",
        lambda c: c.session.code.run("1", "python", timeout_s=1.5),
        InvalidArgumentError,
        "timeout_s",
    ),
    (
        "code-timeout-text",
        lambda c: c.session.code.run("1", "python", timeout_s="10"),
        InvalidArgumentError,
        "timeout_s",
    ),
    # --- session.command ---------------------------------------------------------------------
    ("command-empty", lambda c: c.session.command.execute(""), InvalidArgumentError, "command"),
    ("command-list", lambda c: c.session.command.execute(["ls"]), InvalidArgumentError, "command"),
    (
        "command-timeout-0",
        lambda c: c.session.command.execute("ls", timeout_ms=0),
        InvalidArgumentError,
        "timeout_ms",
    ),
    (
        "command-timeout-bool",
        lambda c: c.session.command.execute("ls", timeout_ms=True),
        InvalidArgumentError,
        "timeout_ms",
    ),
    (
        "command-timeout-float",
        lambda c: c.session.command.execute("ls", timeout_ms=0.5),
        InvalidArgumentError,
        "timeout_ms",
    ),
    (
        "command-cwd-empty",
        lambda c: c.session.command.execute("ls", cwd=""),
        InvalidArgumentError,
        "cwd",
    ),
    (
        "command-cwd-int",
        lambda c: c.session.command.execute("ls", cwd=1),
        InvalidArgumentError,
        "cwd",
    ),
    (
        "command-envs-str",
        lambda c: c.session.command.execute("ls", envs="A=1"),
        InvalidArgumentError,
        "envs",
    ),
    (
        "command-envs-int-value",
        lambda c: c.session.command.execute("ls", envs={"A": 1}),
        InvalidArgumentError,
        "envs",
    ),
    (
        "command-envs-bad-name",
        lambda c: c.session.command.execute("ls", envs={"A=B": "1"}),
        InvalidArgumentError,
        "envs",
    ),
    # --- session.file ------------------------------------------------------------------------
    ("mkdir-empty", lambda c: c.session.file.mkdir(""), InvalidArgumentError, "path"),
    ("mkdir-none", lambda c: c.session.file.mkdir(None), InvalidArgumentError, "path"),
    (
        "mkdir-nul",
        lambda c: c.session.file.mkdir("/workspace/a\x00b"),
        InvalidArgumentError,
        "path",
    ),
    ("write-path-blank", lambda c: c.session.file.write(" ", "x"), InvalidArgumentError, "path"),
    (
        "write-content-int",
        lambda c: c.session.file.write("/workspace/a", 5),
        InvalidArgumentError,
        "content",
    ),
    (
        "write-content-nul",
        lambda c: c.session.file.write("/workspace/a", "a\x00"),
        InvalidArgumentError,
        "content",
    ),
    (
        "write-mode",
        lambda c: c.session.file.write("/workspace/a", "x", mode="prepend"),
        InvalidArgumentError,
        "Invalid write mode",
    ),
    ("read-path-int", lambda c: c.session.file.read(3), InvalidArgumentError, "path"),
    (
        "read-format",
        lambda c: c.session.file.read("/workspace/a", format="json"),
        InvalidArgumentError,
        "format",
    ),
    ("info-empty", lambda c: c.session.file.info(""), InvalidArgumentError, "path"),
    ("list-dir-none", lambda c: c.session.file.list(None), InvalidArgumentError, "path"),
    (
        "move-source-empty",
        lambda c: c.session.file.move("", "/workspace/b"),
        InvalidArgumentError,
        "source",
    ),
    (
        "move-destination-int",
        lambda c: c.session.file.move("/workspace/a", 2),
        InvalidArgumentError,
        "destination",
    ),
    ("remove-empty", lambda c: c.session.file.remove(""), InvalidArgumentError, "path"),
    (
        "edit-no-edits",
        lambda c: c.session.file.edit("/workspace/a", []),
        InvalidArgumentError,
        "edits",
    ),
    (
        "edit-edits-str",
        lambda c: c.session.file.edit("/workspace/a", "abc"),
        InvalidArgumentError,
        "edits",
    ),
    (
        "edit-edit-not-dict",
        lambda c: c.session.file.edit("/workspace/a", [5]),
        InvalidArgumentError,
        "edit",
    ),
    (
        "edit-empty-old",
        lambda c: c.session.file.edit("/workspace/a", [{"oldText": "", "newText": "x"}]),
        InvalidArgumentError,
        "oldText",
    ),
    (
        "edit-path-empty",
        lambda c: c.session.file.edit("", [{"oldText": "a", "newText": "b"}]),
        InvalidArgumentError,
        "path",
    ),
    (
        "search-pattern-empty",
        lambda c: c.session.file.search("/workspace", ""),
        InvalidArgumentError,
        "pattern",
    ),
    (
        "search-path-empty",
        lambda c: c.session.file.search("", "*.py"),
        InvalidArgumentError,
        "path",
    ),
    (
        "search-exclude-int",
        lambda c: c.session.file.search("/workspace", "*", [5]),
        InvalidArgumentError,
        "exclude_patterns",
    ),
    (
        "search-exclude-str",
        lambda c: c.session.file.search("/workspace", "*", "*.pyc"),
        InvalidArgumentError,
        "exclude_patterns",
    ),
    ("read-batch-empty", lambda c: c.session.file.read_batch([]), InvalidArgumentError, "paths"),
    (
        "read-batch-str",
        lambda c: c.session.file.read_batch("/workspace/a"),
        InvalidArgumentError,
        "paths",
    ),
    (
        "read-batch-int-item",
        lambda c: c.session.file.read_batch(["/workspace/a", 3]),
        InvalidArgumentError,
        "paths",
    ),
    # --- persistence: session.delete, file transfer and watching, agb.context, session.context
    (
        "delete-sync-context-str",
        lambda c: c.session.delete(sync_context="yes"),
        InvalidArgumentError,
        "sync_context",
    ),
    (
        "delete-id-sync-context-int",
        lambda c: c.agb.delete(c.session, sync_context=1),
        InvalidArgumentError,
        "sync_context",
    ),
    (
        "upload-remote-bare-name",
        lambda c: c.session.file.upload(__file__, "a.txt"),
        InvalidArgumentError,
        "remote_path",
    ),
    (
        "upload-remote-blank",
        lambda c: c.session.file.upload(__file__, " "),
        InvalidArgumentError,
        "remote_path",
    ),
    (
        "upload-wait-timeout-0",
        lambda c: c.session.file.upload(__file__, "/tmp/a", wait_timeout=0),
        InvalidArgumentError,
        "wait_timeout",
    ),
    (
        "upload-content-type-int",
        lambda c: c.session.file.upload(__file__, "/tmp/a", content_type=3),
        InvalidArgumentError,
        "content_type",
    ),
    (
        "download-overwrite-str",
        lambda c: c.session.file.download("/tmp/a", "a", overwrite="no"),
        InvalidArgumentError,
        "overwrite",
    ),
    (
        "download-poll-interval-nan",
        lambda c: c.session.file.download("/tmp/a", "a", poll_interval=math.nan),
        InvalidArgumentError,
        "poll_interval",
    ),
    ("watch-path-blank", lambda c: c.session.file.watch(""), InvalidArgumentError, "path"),
    (
        "watch-interval-0",
        lambda c: c.session.file.watch("/tmp", interval=0),
        InvalidArgumentError,
        "interval",
    ),
    (
        "watch-dir-callback-str",
        lambda c: c.session.file.watch_dir("/tmp", "print"),
        InvalidArgumentError,
        "callback",
    ),
    (
        "watch-dir-interval-neg",
        lambda c: c.session.file.watch_dir("/tmp", print, interval=-1),
        InvalidArgumentError,
        "interval",
    ),
    (
        "context-list-params-dict",
        lambda c: c.agb.context.list({"max_results": 5}),
        InvalidArgumentError,
        "params",
    ),
    (
        "context-list-max-results-0",
        lambda c: c.agb.context.list(ContextListParams(max_results=0)),
        InvalidArgumentError,
        "max_results",
    ),
    (
        "context-iter-page-size-0",
        lambda c: _drain(c.agb.context.iter_contexts(page_size=0)),
        InvalidArgumentError,
        "page_size",
    ),
    ("context-get-nothing", lambda c: c.agb.context.get(), InvalidArgumentError, "context_id"),
    (
        "context-get-create-id",
        lambda c: c.agb.context.get("n", create=True, context_id="i"),
        InvalidArgumentError,
        "create=True",
    ),
    ("context-create-blank", lambda c: c.agb.context.create(" "), InvalidArgumentError, "name"),
    ("context-update-none", lambda c: c.agb.context.update(None), InvalidArgumentError, "context"),
    (
        "context-delete-str",
        lambda c: c.agb.context.delete("SdkCtx-1"),
        InvalidArgumentError,
        "context",
    ),
    (
        "context-clear-async-blank",
        lambda c: c.agb.context.clear_async(""),
        InvalidArgumentError,
        "context_id",
    ),
    (
        "context-get-clear-status-none",
        lambda c: c.agb.context.get_clear_status(None),
        InvalidArgumentError,
        "context_id",
    ),
    (
        "context-clear-interval-0",
        lambda c: c.agb.context.clear("c", poll_interval=0),
        InvalidArgumentError,
        "poll_interval",
    ),
    (
        "context-list-files-page-0",
        lambda c: c.agb.context.list_files("c", page_number=0),
        InvalidArgumentError,
        "page_number",
    ),
    (
        "context-upload-url-blank",
        lambda c: c.agb.context.get_file_upload_url("c", ""),
        InvalidArgumentError,
        "file_path",
    ),
    (
        "context-download-url-blank",
        lambda c: c.agb.context.get_file_download_url("", "/a"),
        InvalidArgumentError,
        "context_id",
    ),
    (
        "context-delete-file-blank",
        lambda c: c.agb.context.delete_file("c", " "),
        InvalidArgumentError,
        "file_path",
    ),
    (
        "context-upload-file-blank",
        lambda c: c.agb.context.upload_file("c", " ", __file__),
        InvalidArgumentError,
        "file_path",
    ),
    (
        "context-download-file-overwrite-int",
        lambda c: c.agb.context.download_file("c", "/a", "a", overwrite=0),
        InvalidArgumentError,
        "overwrite",
    ),
    (
        "session-context-info-int",
        lambda c: c.session.context.info(context_id=5),
        InvalidArgumentError,
        "context_id",
    ),
    (
        "session-context-sync-alone",
        lambda c: c.session.context.sync(context_id="c"),
        InvalidArgumentError,
        "provided together",
    ),
    (
        "session-context-sync-interval-0",
        lambda c: c.session.context.sync(retry_interval=0),
        InvalidArgumentError,
        "retry_interval",
    ),
    # --- SessionPool(...) --------------------------------------------------------------------
    (
        "pool-max-size-0",
        lambda c: SessionPool(c.agb, c.params, max_size=0),
        InvalidArgumentError,
        "max_size",
    ),
    (
        "pool-max-size-text",
        lambda c: SessionPool(c.agb, c.params, max_size="3"),
        InvalidArgumentError,
        "max_size",
    ),
    (
        "pool-max-size-float",
        lambda c: SessionPool(c.agb, c.params, max_size=2.5),
        InvalidArgumentError,
        "max_size",
    ),
    (
        "pool-min-size-neg",
        lambda c: SessionPool(c.agb, c.params, min_size=-1),
        InvalidArgumentError,
        "min_size",
    ),
    (
        "pool-min-over-max",
        lambda c: SessionPool(c.agb, c.params, min_size=5, max_size=2),
        InvalidArgumentError,
        "min_size",
    ),
    (
        "pool-max-uses-0",
        lambda c: SessionPool(c.agb, c.params, max_uses=0),
        InvalidArgumentError,
        "max_uses",
    ),
    (
        "pool-max-age-0",
        lambda c: SessionPool(c.agb, c.params, max_age=0),
        InvalidArgumentError,
        "max_age",
    ),
    (
        "pool-max-idle-nan",
        lambda c: SessionPool(c.agb, c.params, max_idle=math.nan),
        InvalidArgumentError,
        "max_idle",
    ),
    (
        "pool-acquire-timeout-0",
        lambda c: SessionPool(c.agb, c.params, acquire_timeout=0),
        InvalidArgumentError,
        "acquire_timeout",
    ),
    (
        "pool-acquire-timeout-nan",
        lambda c: SessionPool(c.agb, c.params, acquire_timeout=math.nan),
        InvalidArgumentError,
        "acquire_timeout",
    ),
    (
        "pool-close-timeout-neg",
        lambda c: SessionPool(c.agb, c.params, close_timeout=-1),
        InvalidArgumentError,
        "close_timeout",
    ),
    (
        "pool-keep-alive-neg",
        lambda c: SessionPool(c.agb, c.params, keep_alive_interval=-1),
        InvalidArgumentError,
        "keep_alive_interval",
    ),
    (
        "pool-health-check-str",
        lambda c: SessionPool(c.agb, c.params, health_check="ping"),
        InvalidArgumentError,
        "health_check",
    ),
    (
        "pool-params-str",
        lambda c: SessionPool(c.agb, "agb-code-space-2"),
        InvalidArgumentError,
        "params",
    ),
    ("pool-agb-none", lambda c: SessionPool(None, c.params), InvalidArgumentError, "agb"),
]


@pytest.fixture
async def ctx() -> AsyncIterator[tuple[Ctx, CountingTransport]]:
    transport = CountingTransport()
    agb = AsyncAGB("k", endpoint="http://127.0.0.1:9", transport=transport)
    async with agb:
        yield Ctx(agb, AsyncSession(agb, "session-1"), P), transport


@pytest.mark.parametrize(
    ("call", "error", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_a_bad_argument_raises_a_typed_error_and_sends_nothing(
    ctx: tuple[Ctx, CountingTransport], call: Call, error: type[Exception], words: str
) -> None:
    context, transport = ctx
    with pytest.raises(error) as raised:
        outcome = call(context)
        if inspect.isawaitable(outcome):
            await outcome
    assert isinstance(raised.value, AGBError)
    assert isinstance(raised.value, ValueError) or error is ConfigurationError
    assert words in str(raised.value), str(raised.value)
    assert transport.sent == [], [r.operation for r in transport.sent]


# Public methods that take arguments, and the CASES prefix that covers each one.
COVERED_BY = {
    (AsyncAGB, "create"): "create-",
    (AsyncAGB, "open_session"): "open-session-",
    (AsyncAGB, "session"): "session-ctx-",
    (AsyncAGB, "get"): "get-",
    (AsyncAGB, "get_session"): "get-session-",
    (AsyncAGB, "list"): "list-",
    (AsyncAGB, "delete"): "delete-id-",
    (AsyncAGB, "create_many"): "create-many-",
    (AsyncAGB, "sessions"): "sessions-",
    (AsyncAGB, "delete_sessions"): "delete-sessions-",
    (AsyncAGB, "map_sessions"): "map-sessions-",
    (AsyncAGB, "iter_sessions"): "iter-",
    (AsyncAGB, "delete_all"): "delete-all-",
    (AsyncAGB, "local"): None,  # takes a ServerConfig (validated by attrs) and client options
    (AsyncSession, "run_code"): "run-code-",
    (AsyncSession, "set_labels"): "set-labels-",
    (AsyncSession, "list_mcp_tools"): "list-tools-",
    (AsyncSession, "call_mcp_tool"): "call-tool-",
    (Code, "run"): "code-",
    (Code, "run_code"): "code-run-code-",
    (Code, "stream"): "code-stream-",
    (AsyncSession, "get_metrics"): "get-metrics-",
    (AsyncSession, "get_link"): "get-link-",
    (Command, "execute"): "command-",
    (FileSystem, "mkdir"): "mkdir-",
    (FileSystem, "write"): "write-",
    (FileSystem, "read"): "read-",
    (FileSystem, "info"): "info-",
    (FileSystem, "list"): "list-dir-",
    (FileSystem, "move"): "move-",
    (FileSystem, "remove"): "remove-",
    (FileSystem, "edit"): "edit-",
    (FileSystem, "search"): "search-",
    (FileSystem, "read_batch"): "read-batch-",
    (AsyncSession, "delete"): "delete-sync-context-",
    (FileSystem, "upload"): "upload-",
    (FileSystem, "download"): "download-",
    (FileSystem, "watch"): "watch-",
    (FileSystem, "watch_dir"): "watch-dir-",
    (ContextService, "list"): "context-list-",
    (ContextService, "iter_contexts"): "context-iter-",
    (ContextService, "get"): "context-get-",
    (ContextService, "create"): "context-create-",
    (ContextService, "update"): "context-update-",
    (ContextService, "delete"): "context-delete-",
    (ContextService, "clear_async"): "context-clear-async-",
    (ContextService, "get_clear_status"): "context-get-clear-status-",
    (ContextService, "clear"): "context-clear-",
    (ContextService, "list_files"): "context-list-files-",
    (ContextService, "get_file_upload_url"): "context-upload-url-",
    (ContextService, "get_file_download_url"): "context-download-url-",
    (ContextService, "delete_file"): "context-delete-file-",
    (ContextService, "upload_file"): "context-upload-file-",
    (ContextService, "download_file"): "context-download-file-",
    (ContextManager, "info"): "session-context-info-",
    (ContextManager, "sync"): "session-context-sync-",
}


def test_the_table_covers_every_public_method_that_takes_arguments() -> None:
    """A new public method with parameters fails this until it gets rows in CASES."""
    found = set()
    classes = (AsyncAGB, AsyncSession, Code, Command, FileSystem, SessionPool)
    for cls in (*classes, ContextService, ContextManager):
        for name, member in inspect.getmembers(cls, callable):
            if name.startswith("_") or isinstance(member, type):
                continue
            parameters = list(inspect.signature(member).parameters)
            if [x for x in parameters if x not in ("self", "cls")]:
                found.add((cls, member.__name__))
    assert found <= set(COVERED_BY), found - set(COVERED_BY)
    ids = [c[0] for c in CASES]
    for prefix in filter(None, COVERED_BY.values()):
        assert any(i.startswith(prefix) for i in ids), prefix
    assert any(i.startswith("pool-") for i in ids)  # SessionPool(...) itself


async def _noop_item(session: object, item: object) -> None:
    """A `map_sessions` function that is never reached (the arguments are refused first)."""
