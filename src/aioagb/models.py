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
from .errors import AGBError

if TYPE_CHECKING:
    from .session import AsyncSession

T = TypeVar("T")


def _labels(value: Mapping[str, str] | None) -> dict[str, str]:
    # Checked before converting: `dict()` would turn a list of pairs into labels silently,
    # and fail on other lists with a bare ValueError instead of InvalidArgumentError.
    return check_labels(value, allow_empty=True)


@attrs.frozen(slots=True, kw_only=True)
class CreateSessionParams:
    """What a new session is made from. Invalid values raise `InvalidArgumentError` here.

    `idle_release_timeout` is the **idle-release** timeout in seconds: the server deletes the
    session after that long without requests (cloud default 300 s). It is neither the request
    timeout (`AsyncAGB(timeout=...)`) nor an execution timeout (`code.run(timeout_s=...)`).
    """

    image_id: str
    labels: dict[str, str] = attrs.field(factory=dict, converter=_labels)
    idle_release_timeout: int | None = None
    policy_id: str | None = None

    def __attrs_post_init__(self) -> None:
        check_create_params(self.image_id, self.labels, self.idle_release_timeout, self.policy_id)


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
