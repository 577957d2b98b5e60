"""Parameters and result objects: frozen attrs classes with the official SDK's names.

Results of the seed-parity methods carry `success`, `error_message` and `request_id` like the
official ones; `result.exception` is the typed error behind a failure (or None), and
`result.raise_for_error()` raises it, for code that prefers exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from ._validate import check_create_params, check_labels
from .browser_options import BrowserContext
from .context_sync import ContextSync, check_context_syncs
from .errors import AGBError, InvalidArgumentError

if TYPE_CHECKING:
    from .session import AsyncSession

T = TypeVar("T")


def _labels(value: Mapping[str, str] | None) -> dict[str, str]:
    # Checked before converting: `dict()` would turn a list of pairs into labels silently,
    # and fail on other lists with a bare ValueError instead of InvalidArgumentError.
    return check_labels(value, allow_empty=True)


def _browser_context(value: object) -> BrowserContext | None:
    if value is not None and not isinstance(value, BrowserContext):
        raise InvalidArgumentError(
            f"browser_context must be a BrowserContext, got {type(value).__name__}"
        )
    return value


@attrs.frozen(slots=True, kw_only=True)
class CreateSessionParams:
    """What a new session is made from. Invalid values raise `InvalidArgumentError` here.

    `idle_release_timeout` is the **idle-release** timeout in seconds: the server deletes the
    session after that long without requests (cloud default 300 s). It is neither the request
    timeout (`AsyncAGB(timeout=...)`) nor an execution timeout (`code.run(timeout_s=...)`).

    `context_syncs` mounts contexts in the session (docs/guides/persistence.md): create waits
    until their files are downloaded, and leaving `agb.session(params)` uploads the mounts
    whose policy auto-uploads before the session is deleted. A `ContextSync` without a policy
    mounts nothing and is left out, as in the official SDK.

    `browser_context` keeps a browser's profile in a context (docs/guides/browser.md): it
    adds the official automatic mounts, which `all_context_syncs()` lists after
    `context_syncs`.
    """

    image_id: str
    labels: dict[str, str] = attrs.field(factory=dict, converter=_labels)
    idle_release_timeout: int | None = None
    policy_id: str | None = None
    context_syncs: list[ContextSync] = attrs.field(factory=list, converter=check_context_syncs)
    browser_context: BrowserContext | None = attrs.field(default=None, converter=_browser_context)

    def __attrs_post_init__(self) -> None:
        check_create_params(self.image_id, self.labels, self.idle_release_timeout, self.policy_id)

    def all_context_syncs(self) -> list[ContextSync]:
        """What create mounts: `context_syncs`, then the browser context's extension,
        fingerprint and profile mounts (§13.6 items 1-3, in the official order)."""
        extra = self.browser_context.context_syncs() if self.browser_context else []
        return [*self.context_syncs, *extra]


# --- results -------------------------------------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class ApiResponse:
    """What every result has."""

    request_id: str = ""
    success: bool = False
    error_message: str = ""
    exception: AGBError | None = attrs.field(default=None, repr=False, eq=False)

    def raise_for_error(self) -> None:
        """Raise the typed error behind a failed result; do nothing on success."""
        if not self.success:
            raise self.exception or AGBError(self.error_message, request_id=self.request_id)


@attrs.frozen(slots=True, kw_only=True)
class SessionResult(ApiResponse):
    """`create` / `get`: the session handle on success."""

    session: AsyncSession | None = None


@attrs.frozen(slots=True, kw_only=True)
class DeleteResult(ApiResponse):
    """`delete`: success once the server reports the session gone."""

    pass


@attrs.frozen(slots=True, kw_only=True)
class OperationResult(ApiResponse, Generic[T]):
    """A session operation's outcome; `data` is what it returned (labels, resource info)."""

    data: T | None = None


@attrs.frozen(slots=True, kw_only=True)
class BoolResult(ApiResponse):
    """A file operation that returns nothing but success (`data` mirrors `success`)."""

    data: bool | None = None


@attrs.frozen(slots=True)
class GetSessionData:
    """What `getSession` says about a session (§3.2). `link_url`, `ws_url`, `token` and
    `tool_list` (raw JSON text) are its second channels, empty when the server has none."""

    session_id: str = ""
    app_instance_id: str = ""
    resource_id: str = ""
    resource_url: str = ""
    status: str = ""
    success: bool = False
    link_url: str = ""
    ws_url: str = ""
    token: str = ""
    tool_list: str = ""


@attrs.frozen(slots=True, kw_only=True)
class GetSessionResult(ApiResponse):
    """`get_session`: the session's details, the real HTTP status and the envelope's code."""

    http_status_code: int = 0  # the real HTTP status (§3.2)
    code: str = ""
    data: GetSessionData | None = None


@attrs.frozen(slots=True, kw_only=True)
class SessionStatusResult(ApiResponse):
    """`get_status`: `status` (RUNNING, FINISH, ...) and the envelope's code and status."""

    http_status_code: int = 0  # the envelope's `httpStatusCode` (§3.3)
    code: str = ""
    status: str = ""


@attrs.frozen(slots=True, kw_only=True)
class SessionListResult(ApiResponse):
    """One page of `list`: the session ids, the token of the next page, the total count."""

    session_ids: list[str] = attrs.field(factory=list)
    next_token: str = ""
    max_results: int = 0
    total_count: int = 0


@attrs.frozen(slots=True)
class McpTool:
    """A tool an image offers (`list_mcp_tools`), or a `toolList` entry (name, server)."""

    name: str = ""
    description: str = ""
    input_schema: dict[str, object] = attrs.field(factory=dict)
    server: str = ""
    tool: str = ""


@attrs.frozen(slots=True, kw_only=True)
class McpToolsResult(ApiResponse):
    """`list_mcp_tools`: the tools of the image."""

    tools: list[McpTool] = attrs.field(factory=list)


@attrs.frozen(slots=True, kw_only=True)
class McpToolResult(ApiResponse):
    """`call_mcp_tool`: `data` is the tool's raw payload text."""

    data: str | None = None  # the raw payload text (§4.6)


# --- code ----------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class ExecutionResult:
    """One rich result: a mime bundle (§4.3). Image fields hold base64 text."""

    text: str | None = None
    html: str | None = None
    markdown: str | None = None
    png: str | None = None
    jpeg: str | None = None
    svg: str | None = None
    json: object = None
    latex: str | None = None
    chart: object = None
    is_main_result: bool = False


@attrs.frozen(slots=True)
class ExecutionLogs:
    """What a run printed: stdout and stderr, as lists of chunks."""

    stdout: list[str] = attrs.field(factory=list)
    stderr: list[str] = attrs.field(factory=list)


@attrs.frozen(slots=True)
class ExecutionError:
    """Why a run failed: the error's name (`NameError`), its value, and a traceback."""

    name: str = ""
    value: str = ""
    traceback: str = ""


@attrs.frozen(slots=True, kw_only=True)
class EnhancedCodeExecutionResult(ApiResponse):
    """`code.run`: logs, rich results, the error of a failed run, count and time."""

    success: bool = True
    execution_count: int | None = None
    execution_time: float = 0.0
    logs: ExecutionLogs = attrs.field(factory=ExecutionLogs)
    results: list[ExecutionResult] = attrs.field(factory=list)
    error: ExecutionError | None = None

    @property
    def result(self) -> str:
        """The main result's text, else the first result's, else stdout (as the seed does)."""
        for item in self.results:
            if item.is_main_result and item.text:
                return item.text
        if self.results and self.results[0].text:
            return self.results[0].text
        return "".join(self.logs.stdout)


CodeExecutionResult = EnhancedCodeExecutionResult


# --- command -------------------------------------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class CommandResult(ApiResponse):
    """`command.execute`: stdout, stderr, the exit code (124: timed out) and `output`."""

    output: str = ""  # stdout + stderr, as the seed gives it
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    trace_id: str = ""


# --- files ---------------------------------------------------------------------------------


@attrs.frozen(slots=True, kw_only=True)
class FileContentResult(ApiResponse):
    """`file.read`: the file's text."""

    content: str = ""


@attrs.frozen(slots=True, kw_only=True)
class BinaryFileContentResult(ApiResponse):
    """`file.read(format="bytes")`: the file's exact bytes and their size."""

    content: bytes = b""
    size: int | None = None


@attrs.frozen(slots=True, kw_only=True)
class FileInfoResult(ApiResponse):
    """`file.info`: size, type, times and permissions as `file_info`."""

    file_info: dict[str, object] = attrs.field(factory=dict)


@attrs.frozen(slots=True, kw_only=True)
class DirectoryListResult(ApiResponse):
    """`file.list`: `entries`, each `{"name", "isDirectory"}`."""

    entries: list[dict[str, object]] = attrs.field(factory=list)


@attrs.frozen(slots=True, kw_only=True)
class MultipleFileContentResult(ApiResponse):
    """`file.read_batch`: path -> text (stripped: a protocol limitation)."""

    contents: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen(slots=True, kw_only=True)
class FileSearchResult(ApiResponse):
    """`file.search`: the matching paths."""

    matches: list[str] = attrs.field(factory=list)


# --- contexts (§13), their sync (§13.7, §13.8), file transfer (§14), file changes (§16.3) ---


@attrs.define(slots=True)
class Context:
    """A context: a named file store of the API key that sessions mount (§13). Mutable,
    unlike the results: the official `update()` example renames one in place
    (`context.name = "new"; await agb.context.update(context)`)."""

    id: str
    name: str
    created_at: str | None = None
    last_used_at: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class ContextResult(ApiResponse):
    """`agb.context.get()` / `create()`: the context and its id."""

    context_id: str = ""
    context: Context | None = None


@attrs.frozen(slots=True, kw_only=True)
class ContextListResult(ApiResponse):
    """One page of `agb.context.list()`; `next_token` is None on the last page."""

    contexts: list[Context] = attrs.field(factory=list)
    next_token: str | None = None
    max_results: int | None = None
    total_count: int | None = None


@attrs.frozen(slots=True)
class ContextListParams:
    """A page of `agb.context.list()`: `max_results` per page (default 10) and the
    `next_token` of the previous page."""

    max_results: int | None = None
    next_token: str | None = None


@attrs.frozen(slots=True)
class ContextFileEntry:
    """A file stored in a context (`agb.context.list_files()`)."""

    file_id: str = ""
    file_name: str = ""
    file_path: str = ""
    file_type: str | None = None
    gmt_create: str | None = None
    gmt_modified: str | None = None
    size: int | None = None
    status: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class ContextFileListResult(ApiResponse):
    """The files directly under a folder of a context; `count` is the total."""

    entries: list[ContextFileEntry] = attrs.field(factory=list)
    count: int | None = None


@attrs.frozen(slots=True, kw_only=True)
class FileUrlResult(ApiResponse):
    """A pre-signed URL for one file of a context (PUT to upload, GET to download), and when
    it expires (`expire_time`, as the server gives it)."""

    url: str = ""
    expire_time: int | None = None


@attrs.frozen(slots=True, kw_only=True)
class ClearContextResult(ApiResponse):
    """`agb.context.clear*()`: `status` is `"clearing"` while files are deleted and
    `"available"` when the context is empty and usable again."""

    status: str | None = None
    context_id: str | None = None


@attrs.frozen(slots=True)
class ContextStatusData:
    """One sync task of a session (§13.7): a mount's download or upload and its status
    (`Success` and `Failed` are the terminal ones)."""

    context_id: str = ""
    path: str = ""
    error_message: str = ""
    status: str = ""
    start_time: int = 0
    finish_time: int = 0
    task_type: str = ""


@attrs.frozen(slots=True, kw_only=True)
class ContextInfoResult(ApiResponse):
    """`session.context.info()`: the session's sync tasks."""

    context_status_data: list[ContextStatusData] = attrs.field(factory=list)


@attrs.frozen(slots=True, kw_only=True)
class ContextSyncResult(ApiResponse):
    """`session.context.sync()`: whether the sync was started and (without a callback)
    finished without a failed task."""


@attrs.frozen(slots=True, kw_only=True)
class UploadResult(ApiResponse):
    """`session.file.upload()`: the two request ids (upload URL, sync), the PUT's HTTP
    status and ETag, and the bytes sent. `request_id` is the last request's id."""

    request_id_upload_url: str | None = None
    request_id_sync: str | None = None
    http_status: int | None = None
    etag: str | None = None
    bytes_sent: int = 0
    path: str = ""


@attrs.frozen(slots=True, kw_only=True)
class DownloadResult(ApiResponse):
    """`session.file.download()`: the two request ids (sync, download URL), the GET's HTTP
    status, the bytes received and where they were written."""

    request_id_download_url: str | None = None
    request_id_sync: str | None = None
    http_status: int | None = None
    bytes_received: int = 0
    path: str = ""
    local_path: str = ""


@attrs.frozen(slots=True)
class FileChangeEvent:
    """One change in a watched directory: `event_type` is `create`, `modify` or `delete`,
    `path_type` is `file` or `directory`."""

    event_type: str = ""
    path: str = ""
    path_type: str = ""

    def to_dict(self) -> dict[str, str]:
        """The event as the wire has it (§4.5)."""
        return {"eventType": self.event_type, "path": self.path, "pathType": self.path_type}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FileChangeEvent:
        """An event from its wire form; missing keys are empty."""
        return cls(
            event_type=str(data.get("eventType", "")),
            path=str(data.get("path", "")),
            path_type=str(data.get("pathType", "")),
        )


@attrs.frozen(slots=True, kw_only=True)
class FileChangeResult(ApiResponse):
    """The changes in a directory since the previous poll (`get_file_change`)."""

    events: list[FileChangeEvent] = attrs.field(factory=list)
    raw_data: str = ""

    def has_changes(self) -> bool:
        """Whether any change was reported."""
        return bool(self.events)

    def get_modified_files(self) -> list[str]:
        """Paths of the files modified."""
        return self._files("modify")

    def get_created_files(self) -> list[str]:
        """Paths of the files created."""
        return self._files("create")

    def get_deleted_files(self) -> list[str]:
        """Paths of the files deleted."""
        return self._files("delete")

    def _files(self, event_type: str) -> list[str]:
        return [e.path for e in self.events if e.event_type == event_type and e.path_type == "file"]


# --- streaming (§5.2) ----------------------------------------------------------------------


@attrs.frozen(slots=True)
class StdoutEvent:
    """A chunk the code wrote to stdout, as it was produced."""

    text: str


@attrs.frozen(slots=True)
class StderrEvent:
    """A chunk the code wrote to stderr, as it was produced."""

    text: str


@attrs.frozen(slots=True)
class ResultEvent:
    """A rich result: `display()` output, a figure, or the cell's final value."""

    result: ExecutionResult


@attrs.frozen(slots=True)
class ErrorEvent:
    """An error the sandbox reported during the run (`error.name`, `error.value`)."""

    error: ExecutionError


@attrs.frozen(slots=True)
class EndEvent:
    """The run is over: `status` is "finished" or "failed"; always the last event."""

    status: str
    execution_count: int | None = None
    execution_time: float = 0.0
    execution_error: str = ""

    @property
    def success(self) -> bool:
        """Finished without an execution error."""
        return self.status != "failed" and not self.execution_error


CodeEvent = StdoutEvent | StderrEvent | ResultEvent | ErrorEvent | EndEvent


# --- metrics (§16.2) -----------------------------------------------------------------------


@attrs.frozen(slots=True)
class SessionMetrics:
    """The session's resource use: CPUs and load, memory and disk (bytes), network (KB)."""

    cpu_count: int = 0
    cpu_used_pct: float = 0.0
    disk_total: int = 0
    disk_used: int = 0
    mem_total: int = 0
    mem_used: int = 0
    rx_rate_kbyte_per_s: float = 0.0
    tx_rate_kbyte_per_s: float = 0.0
    rx_used_kbyte: float = 0.0
    tx_used_kbyte: float = 0.0
    timestamp: str = ""


@attrs.frozen(slots=True, kw_only=True)
class SessionMetricsResult(ApiResponse):
    """`session.get_metrics()`: `metrics` on success, and the payload as `raw`."""

    metrics: SessionMetrics | None = None
    raw: dict[str, object] = attrs.field(factory=dict)
