"""The tools AGB Local serves through `POST /mcp` (agb-wire.md §4): one table entry per tool,
with its listTools description and the handler that checks `args`, calls the sandbox and
formats the result.

Malformed `args` (a missing or wrong-typed field) raise a 400 `ApiError`. A failure the
caller caused inside the sandbox (missing file, non-zero exit, runtime not installed) is a
tool result with `isError: true`, as the cloud answers it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs

from ... import _protocol as p
from ..envelope import bad_request
from ..params import optional, optional_int, required, required_text, string_list
from ..sandbox import FileEdit, Sandbox, SandboxError, SandboxLimits
from . import format as fmt

# The largest slice one `read_file` call returns, and the largest file `read_multiple_files`
# inlines: replies stay well under any client's body limit.
MAX_READ_BYTES = 8 * 1024 * 1024

SERVER_NAME = "agb_local"


@attrs.frozen
class ToolOutput:
    """What one tool call answers: the text item of §4.2, and whether it is an error."""

    text: str
    is_error: bool = False


@attrs.frozen
class ToolInvocation:
    """One call of a tool: the session's sandbox, the decoded `args` and the server's limits."""

    sandbox: Sandbox
    args: Mapping[str, object]
    limits: SandboxLimits


# A tool's implementation: checks `args`, calls the sandbox, formats the result.
ToolHandler = Callable[[ToolInvocation], Awaitable[ToolOutput]]


@attrs.frozen
class Tool:
    """One row of the table: the name and schema listTools reports, and its handler."""

    name: str
    description: str
    properties: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...]
    handler: ToolHandler

    def describe(self) -> dict[str, object]:
        """The listTools entry (§3.12)."""
        schema = {"type": "object", "properties": dict(self.properties)}
        schema["required"] = list(self.required)
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": schema,
            "server": SERVER_NAME,
            "tool": self.name,
        }


async def call_tool(tool: Tool, call: ToolInvocation) -> ToolOutput:
    """Runs `tool`'s handler; a `SandboxError` becomes an `isError` result, as the cloud's."""
    try:
        output = await tool.handler(call)
    except SandboxError as exc:
        return ToolOutput(str(exc) or type(exc).__name__, is_error=True)
    # §4.2: always at least one text item; the handlers never return None, and "" is fine.
    return output


def _clamp_timeout(seconds: float, limits: SandboxLimits) -> float:
    if seconds <= 0:
        raise bad_request("args timeout must be positive")
    return min(seconds, limits.max_timeout_s)


# --- code and shell ---------------------------------------------------------------------


async def _run_code(call: ToolInvocation) -> ToolOutput:
    code = required(call.args, "code", str, "args")
    raw_language = optional(call.args, "language", str, "args") or "python"
    language = p.canonical_language(raw_language)
    if language is None:
        supported = ", ".join(p.LANGUAGES)
        return ToolOutput(
            f"Unsupported language: {raw_language}. Supported languages are {supported}",
            is_error=True,
        )
    timeout_s = optional_int(call.args, "timeout_s", "args") or p.DEFAULT_CODE_TIMEOUT_S
    run = await call.sandbox.run_code(code, language, _clamp_timeout(timeout_s, call.limits))
    return ToolOutput(fmt.code_payload(run))


async def _shell(call: ToolInvocation) -> ToolOutput:
    command = required(call.args, "command", str, "args")
    timeout_ms = optional_int(call.args, "timeout_ms", "args") or p.DEFAULT_SHELL_TIMEOUT_MS
    cwd = optional(call.args, "cwd", str, "args")
    envs = optional(call.args, "envs", dict, "args")
    if envs is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in envs.items()
    ):
        raise bad_request("args.envs must map strings to strings")
    timeout_s = _clamp_timeout(timeout_ms / 1000, call.limits)
    outcome = await call.sandbox.shell(command, timeout_s, cwd=cwd or None, envs=envs)
    text, failed = fmt.shell_payload(outcome)
    return ToolOutput(text, is_error=failed)


# --- files ------------------------------------------------------------------------------


def _path(call: ToolInvocation, key: str = "path") -> str:
    return required_text(call.args, key, "args")


async def _read_file(call: ToolInvocation) -> ToolOutput:
    path = _path(call)
    offset = optional_int(call.args, "offset", "args") or 0
    length = optional_int(call.args, "length", "args")
    binary = optional(call.args, "format", str, "args") == p.READ_FORMAT_BINARY
    if offset < 0 or (length is not None and length < 0):
        raise bad_request("args.offset and args.length must not be negative")
    if length is None or length == 0:
        # No range (or the "whole file" 0): read from offset to the end, within the cap.
        length = max(0, (await call.sandbox.get_file_info(path)).size - offset)
    if length > MAX_READ_BYTES:
        return ToolOutput(
            f"Read of {length} bytes exceeds the {MAX_READ_BYTES}-byte limit per call; "
            "read in chunks with offset and length",
            is_error=True,
        )
    if binary:
        return ToolOutput(fmt.binary_chunk(await call.sandbox.read_file(path, offset, length)))
    raw = await call.sandbox.read_file(path, offset, length + fmt.UTF8_MAX_CONTINUATION)
    return ToolOutput(fmt.utf8_text_chunk(raw, offset, length))


async def _write_file(call: ToolInvocation) -> ToolOutput:
    path = _path(call)
    content = required(call.args, "content", str, "args")
    mode = optional(call.args, "mode", str, "args") or "overwrite"
    if mode not in p.WRITE_MODES:
        raise bad_request(f"args.mode must be one of {', '.join(p.WRITE_MODES)}")
    await call.sandbox.write_file(path, content, mode)
    return ToolOutput(f"Successfully wrote to {path}")


async def _get_file_info(call: ToolInvocation) -> ToolOutput:
    return ToolOutput(fmt.file_info_text(await call.sandbox.get_file_info(_path(call))))


async def _list_directory(call: ToolInvocation) -> ToolOutput:
    return ToolOutput(fmt.directory_text(await call.sandbox.list_directory(_path(call))))


async def _create_directory(call: ToolInvocation) -> ToolOutput:
    path = _path(call)
    await call.sandbox.create_directory(path)
    return ToolOutput(f"Successfully created directory {path}")


async def _move_file(call: ToolInvocation) -> ToolOutput:
    source, destination = _path(call, "source"), _path(call, "destination")
    await call.sandbox.move_file(source, destination)
    return ToolOutput(f"Successfully moved {source} to {destination}")


async def _delete_file(call: ToolInvocation) -> ToolOutput:
    path = _path(call)
    await call.sandbox.delete_file(path)
    return ToolOutput(f"Successfully deleted {path}")


async def _edit_file(call: ToolInvocation) -> ToolOutput:
    path = _path(call)
    raw_edits = required(call.args, "edits", list, "args")
    edits = []
    for item in raw_edits:
        if not isinstance(item, dict):
            raise bad_request("args.edits must be a list of {oldText, newText} objects")
        edits.append(
            FileEdit(
                old_text=required(item, "oldText", str, "args.edits[]"),
                new_text=required(item, "newText", str, "args.edits[]"),
            )
        )
    dry_run = optional(call.args, "dryRun", bool, "args") or False
    diff = await call.sandbox.edit_file(path, edits, dry_run)
    return ToolOutput(diff)


async def _search_files(call: ToolInvocation) -> ToolOutput:
    path = _path(call)
    pattern = required_text(call.args, "pattern", "args")
    exclude = string_list(call.args, "excludePatterns", "args") or []
    return ToolOutput(fmt.search_text(await call.sandbox.search_files(path, pattern, exclude)))


async def _read_one_whole(sandbox: Sandbox, path: str) -> tuple[str, str | None, str | None]:
    try:
        stat = await sandbox.get_file_info(path)
        if stat.is_directory:
            return path, None, "is a directory"
        if stat.size > MAX_READ_BYTES:
            return path, None, f"file larger than {MAX_READ_BYTES} bytes"
        raw = await sandbox.read_file(path, 0, stat.size)
    except SandboxError as exc:
        return path, None, str(exc)
    return path, raw.decode("utf-8", errors="replace"), None


async def _read_multiple_files(call: ToolInvocation) -> ToolOutput:
    paths = string_list(call.args, "paths", "args")
    if paths is None:
        raise bad_request("args.paths is required")
    results = [await _read_one_whole(call.sandbox, path) for path in paths]
    return ToolOutput(fmt.multiple_files_text(results))


async def _get_file_change(call: ToolInvocation) -> ToolOutput:
    return ToolOutput(fmt.file_changes_text(await call.sandbox.get_file_change(_path(call))))


# --- the session ------------------------------------------------------------------------


async def _get_metrics(call: ToolInvocation) -> ToolOutput:
    return ToolOutput(fmt.metrics_payload(await call.sandbox.metrics()))


async def _stop_chrome(call: ToolInvocation) -> ToolOutput:
    stopped = await call.sandbox.stop_browser()
    return ToolOutput("Browser stopped" if stopped else "No browser was running")


# --- the table --------------------------------------------------------------------------

_STR: Mapping[str, Any] = {"type": "string"}
_INT: Mapping[str, Any] = {"type": "integer"}
_PATH = {"path": {"type": "string", "description": "Absolute path in the sandbox"}}

TOOLS: Mapping[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            p.TOOL_RUN_CODE,
            "Run code: python (a notebook kernel, IPython where installed, that keeps its state)",
            {"code": _STR, "language": _STR, "timeout_s": _INT},
            ("code",),
            _run_code,
        ),
        Tool(
            p.TOOL_SHELL,
            "Run a shell command and return stdout, stderr and the exit code.",
            {"command": _STR, "timeout_ms": _INT, "cwd": _STR, "envs": {"type": "object"}},
            ("command",),
            _shell,
        ),
        Tool(
            p.TOOL_READ_FILE,
            "Read a file, or the byte range [offset, offset+length) of it.",
            {**_PATH, "offset": _INT, "length": _INT, "format": _STR},
            ("path",),
            _read_file,
        ),
        Tool(
            p.TOOL_WRITE_FILE,
            "Write text to a file (mode overwrite or append).",
            {**_PATH, "content": _STR, "mode": _STR},
            ("path", "content"),
            _write_file,
        ),
        Tool(
            p.TOOL_GET_FILE_INFO,
            "Size, times, type and permissions of a file or directory.",
            _PATH,
            ("path",),
            _get_file_info,
        ),
        Tool(
            p.TOOL_LIST_DIRECTORY,
            "List a directory as [DIR]/[FILE] lines.",
            _PATH,
            ("path",),
            _list_directory,
        ),
        Tool(
            p.TOOL_CREATE_DIRECTORY,
            "Create a directory and its parents.",
            _PATH,
            ("path",),
            _create_directory,
        ),
        Tool(
            p.TOOL_MOVE_FILE,
            "Move or rename a file or directory.",
            {"source": _STR, "destination": _STR},
            ("source", "destination"),
            _move_file,
        ),
        Tool(
            p.TOOL_DELETE_FILE,
            "Delete a file, or a directory with its contents.",
            _PATH,
            ("path",),
            _delete_file,
        ),
        Tool(
            p.TOOL_EDIT_FILE,
            "Replace texts in a file (first occurrence each, in order); returns a diff.",
            {**_PATH, "edits": {"type": "array"}, "dryRun": {"type": "boolean"}},
            ("path", "edits"),
            _edit_file,
        ),
        Tool(
            p.TOOL_SEARCH_FILES,
            "Find entries under a directory whose name matches a glob.",
            {**_PATH, "pattern": _STR, "excludePatterns": {"type": "array"}},
            ("path", "pattern"),
            _search_files,
        ),
        Tool(
            p.TOOL_READ_MULTIPLE_FILES,
            "Read several text files at once.",
            {"paths": {"type": "array", "items": _STR}},
            ("paths",),
            _read_multiple_files,
        ),
        Tool(
            p.TOOL_GET_FILE_CHANGE,
            "Changes under a directory since the previous call (the first call is a baseline).",
            _PATH,
            ("path",),
            _get_file_change,
        ),
        Tool(
            p.TOOL_GET_METRICS,
            "CPU, memory, disk and network use of the session's sandbox.",
            {},
            (),
            _get_metrics,
        ),
        Tool(
            p.TOOL_STOP_CHROME,
            "Stop the session's browser and every process it started (browser images).",
            {},
            (),
            _stop_chrome,
        ),
    )
}
# Tools only browser images list (any session may call them: without a browser they
# report that none was running).
BROWSER_TOOLS = frozenset({p.TOOL_STOP_CHROME})


def listed_tools(languages: Sequence[str], *, browser: bool = False) -> list[dict[str, object]]:
    """The listTools entries (§3.12) of a server whose sandboxes run `languages`: run_code
    names exactly those (java and r only where their runtimes are installed); a browser
    image (`browser`) adds the browser's tools."""
    described = []
    for tool in TOOLS.values():
        if tool.name in BROWSER_TOOLS and not browser:
            continue
        entry = tool.describe()
        if tool.name == p.TOOL_RUN_CODE:
            others = [language for language in languages if language != "python"]
            entry["description"] = f"{tool.description}{''.join(f', {o}' for o in others)}."
            schema = entry["inputSchema"]
            assert isinstance(schema, dict)
            schema["properties"] = {
                **schema["properties"],
                "language": {"type": "string", "enum": list(languages)},
            }
        described.append(entry)
    return described
