"""The session's code, command and file modules: tool calls and their results (§4).

Each method validates its arguments (InvalidArgumentError, nothing sent), makes the exact tool
calls of the official client and returns the official result type.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, overload

from . import _protocol as p
from . import _validate as v
from ._payloads import (
    parse_code,
    parse_command,
    parse_file_info,
    parse_listing,
    parse_multiple_files,
    parse_search,
)
from .errors import AGBError
from .models import (
    BinaryFileContentResult,
    BoolResult,
    CommandResult,
    DirectoryListResult,
    EnhancedCodeExecutionResult,
    ExecutionLogs,
    FileContentResult,
    FileInfoResult,
    FileSearchResult,
    MultipleFileContentResult,
)

if TYPE_CHECKING:
    from .session import AsyncSession, ToolCall

# A tool call whose execution timeout is longer than the client's request timeout gets this
# much more than its execution timeout as its request timeout, so the server can answer.
TIMEOUT_MARGIN_S = 10.0
# Tools that only read: retried on transient failures like other idempotent requests.
READ_ONLY_TOOLS = frozenset(
    {
        p.TOOL_READ_FILE,
        p.TOOL_GET_FILE_INFO,
        p.TOOL_LIST_DIRECTORY,
        p.TOOL_SEARCH_FILES,
        p.TOOL_READ_MULTIPLE_FILES,
    }
)


class _Module:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _call(
        self, name: str, args: Mapping[str, object], *, timeout: float | None = None
    ) -> ToolCall:
        idempotent = name in READ_ONLY_TOOLS or name == p.TOOL_CREATE_DIRECTORY
        return await self._session._call_tool(name, args, idempotent=idempotent, timeout=timeout)

    def _request_timeout(self, execution_s: float) -> float:
        return max(self._session.agb.config.request_timeout_s, execution_s + TIMEOUT_MARGIN_S)


class CodeModule(_Module):
    async def run(
        self, code: str, language: str, timeout_s: int = p.DEFAULT_CODE_TIMEOUT_S
    ) -> EnhancedCodeExecutionResult:
        """Run `code` in the session's stateful interpreter for `language`.

        `timeout_s` is the **execution** timeout the server enforces; the HTTP request waits
        that long plus a margin when it exceeds the client's request timeout.
        """
        v.check_text("code", code, allow_empty=True)
        canonical = v.check_language(language)
        timeout_s = v.check_positive_int("timeout_s", timeout_s)
        args = {"code": code, "language": canonical, "timeout_s": timeout_s}
        call = await self._call(p.TOOL_RUN_CODE, args, timeout=self._request_timeout(timeout_s))
        if not call.ok:
            return EnhancedCodeExecutionResult(
                request_id=call.request_id,
                success=False,
                error_message=call.error_message,
                exception=call.exception,
                logs=ExecutionLogs(),
            )
        outcome = parse_code(call.text)
        return EnhancedCodeExecutionResult(
            request_id=call.request_id,
            success=outcome.success,
            error_message=outcome.error_message,
            execution_count=outcome.execution_count,
            execution_time=outcome.execution_time,
            logs=outcome.logs,
            results=outcome.results,
            error=outcome.error,
            exception=None
            if outcome.success
            else AGBError(
                outcome.error_message or "Code execution failed", request_id=call.request_id
            ),
        )


class CommandModule(_Module):
    async def execute(
        self,
        command: str,
        timeout_ms: int = p.DEFAULT_SHELL_TIMEOUT_MS,
        cwd: str | None = None,
        envs: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run a shell command. `timeout_ms` (default 1000, as the seed) is its execution limit;
        the server stops it after that with exit code 124."""
        v.check_text("command", command)
        timeout_ms = v.check_positive_int("timeout_ms", timeout_ms)
        args: dict[str, object] = {"command": command, "timeout_ms": timeout_ms}
        if cwd is not None:
            args["cwd"] = v.check_path("cwd", cwd)
        checked_envs = v.check_envs(envs)
        if checked_envs is not None:
            args["envs"] = checked_envs
        timeout = self._request_timeout(timeout_ms / 1000)
        call = await self._call(p.TOOL_SHELL, args, timeout=timeout)
        if not call.ok and not call.is_tool_error:
            return CommandResult(
                request_id=call.request_id,
                error_message=call.error_message,
                exception=call.exception,
            )
        out = parse_command(call.text, is_tool_error=call.is_tool_error)
        return CommandResult(
            request_id=call.request_id,
            success=out.success,
            output=out.output,
            error_message=out.error_message,
            exit_code=out.exit_code,
            stdout=out.stdout,
            stderr=out.stderr,
            trace_id=out.trace_id,
            exception=None
            if out.success
            else call.exception
            or AGBError(
                out.error_message or f"exit code {out.exit_code}", request_id=call.request_id
            ),
        )


class FileSystem(_Module):
    async def mkdir(self, path: str) -> BoolResult:
        """Create a directory and its parents."""
        args = {"path": v.check_path("path", path)}
        return self._bool(await self._call(p.TOOL_CREATE_DIRECTORY, args))

    async def write(self, path: str, content: str | bytes, mode: str = "overwrite") -> BoolResult:
        """Write text (or bytes) to a file, in the protocol's 51 200-character chunks.

        A multi-chunk `overwrite` goes to a temporary file next to `path` that is moved into
        place at the end, so a failure never leaves a half-written file behind. Bytes travel
        as base64 text and are decoded by a shell command in the session.
        """
        path = v.check_path("path", path)
        mode = v.check_write_mode(mode)
        if isinstance(content, bytes | bytearray | memoryview):
            return await self._write_bytes(path, bytes(content), mode)
        v.check_text("content", content, allow_empty=True)
        if len(content) <= p.WRITE_CHUNK_CHARS or mode == "append":
            return await self._write_chunks(path, content, mode)
        staging = f"{path}.aioagb-{secrets.token_hex(4)}.part"
        written = await self._write_chunks(staging, content, "overwrite")
        if written.success:
            moved = await self.move(staging, path)
            if moved.success:
                return moved
            written = moved
        await self._call(p.TOOL_DELETE_FILE, {"path": staging})
        return written

    async def _write_chunks(self, path: str, content: str, mode: str) -> BoolResult:
        size = p.WRITE_CHUNK_CHARS
        chunks = [content[i : i + size] for i in range(0, len(content), size)] or [""]
        result = BoolResult()
        for index, chunk in enumerate(chunks):
            args = {"path": path, "content": chunk, "mode": mode if index == 0 else "append"}
            result = self._bool(await self._call(p.TOOL_WRITE_FILE, args))
            if not result.success:
                return result
        return result

    async def _write_bytes(self, path: str, data: bytes, mode: str) -> BoolResult:
        staging = f"/tmp/.aioagb-{secrets.token_hex(6)}.b64"
        encoded = base64.b64encode(data).decode("ascii")
        written = await self._write_chunks(staging, encoded, "overwrite")
        if not written.success:
            return written
        redirect = ">>" if mode == "append" else ">"
        source, target = _quote(staging), _quote(path)
        command = f"base64 -d {source} {redirect} {target}; s=$?; rm -f {source}; exit $s"
        done = await self._session.command.execute(command, timeout_ms=60_000)
        return BoolResult(
            request_id=done.request_id,
            success=done.success,
            data=done.success,
            error_message=done.error_message,
            exception=done.exception,
        )

    @overload
    async def read(self, path: str) -> FileContentResult: ...
    @overload
    async def read(self, path: str, *, format: Literal["text"]) -> FileContentResult: ...
    @overload
    async def read(self, path: str, *, format: Literal["bytes"]) -> BinaryFileContentResult: ...

    async def read(
        self, path: str, *, format: Literal["text", "bytes"] = "text"
    ) -> FileContentResult | BinaryFileContentResult:
        """Read a file: `get_file_info`, then 51 200-byte `read_file` chunks (§4.5)."""
        path = v.check_path("path", path)
        if format not in ("text", "bytes"):
            raise v.fail(f"format must be 'text' or 'bytes', got {format!r}")
        binary = format == "bytes"
        info = await self.info(path)
        size = info.file_info.get("size")
        if not info.success:
            return _content_result(binary, info.request_id, info.error_message, info.exception)
        if info.file_info.get("isDirectory") is True or not isinstance(size, int):
            message = f"Path does not exist or is a directory: {path}"
            return _content_result(binary, info.request_id, message, AGBError(message))
        parts: list[str] = []
        request_id = info.request_id
        for offset in range(0, size, p.READ_CHUNK_BYTES):
            args: dict[str, object] = {
                "path": path,
                "offset": offset,
                "length": min(p.READ_CHUNK_BYTES, size - offset),
            }
            if binary:
                args["format"] = p.READ_FORMAT_BINARY
            call = await self._call(p.TOOL_READ_FILE, args)
            request_id = call.request_id
            if not call.ok:
                return _content_result(binary, request_id, call.error_message, call.exception)
            parts.append(call.text or "")
        if binary:
            try:
                data = b"".join(base64.b64decode(part, validate=True) for part in parts)
            except ValueError:
                message = f"The server sent invalid base64 for {path}"
                return _content_result(binary, request_id, message, AGBError(message))
            return BinaryFileContentResult(
                request_id=request_id, success=True, content=data, size=size
            )
        return FileContentResult(request_id=request_id, success=True, content="".join(parts))

    async def info(self, path: str) -> FileInfoResult:
        args = {"path": v.check_path("path", path)}
        call = await self._call(p.TOOL_GET_FILE_INFO, args)
        if not call.ok:
            return FileInfoResult(
                request_id=call.request_id,
                error_message=call.error_message,
                exception=call.exception,
            )
        return FileInfoResult(
            request_id=call.request_id, success=True, file_info=parse_file_info(call.text)
        )

    async def list(self, path: str) -> DirectoryListResult:
        args = {"path": v.check_path("path", path)}
        call = await self._call(p.TOOL_LIST_DIRECTORY, args)
        if not call.ok:
            return DirectoryListResult(
                request_id=call.request_id,
                error_message=call.error_message,
                exception=call.exception,
            )
        return DirectoryListResult(
            request_id=call.request_id, success=True, entries=parse_listing(call.text)
        )

    async def move(self, source: str, destination: str) -> BoolResult:
        args = {
            "source": v.check_path("source", source),
            "destination": v.check_path("destination", destination),
        }
        return self._bool(await self._call(p.TOOL_MOVE_FILE, args))

    async def remove(self, path: str) -> BoolResult:
        args = {"path": v.check_path("path", path)}
        return self._bool(await self._call(p.TOOL_DELETE_FILE, args))

    async def edit(
        self, path: str, edits: Sequence[Mapping[str, str]], dry_run: bool = False
    ) -> BoolResult:
        """Replace each `oldText` by its `newText`, in order; fails if one is not found."""
        args = {
            "path": v.check_path("path", path),
            "edits": v.check_edits(edits),
            "dryRun": bool(dry_run),
        }
        return self._bool(await self._call(p.TOOL_EDIT_FILE, args))

    async def search(
        self, path: str, pattern: str, exclude_patterns: Sequence[str] | None = None
    ) -> FileSearchResult:
        """Paths under `path` whose names match the glob `pattern`."""
        args: dict[str, object] = {
            "path": v.check_path("path", path),
            "pattern": v.check_text("pattern", pattern),
        }
        if isinstance(exclude_patterns, str):  # would be sent as one pattern per character
            raise v.fail("exclude_patterns must be a list of patterns, not one string")
        if exclude_patterns:
            args["excludePatterns"] = [
                v.check_text("exclude_patterns[]", e) for e in exclude_patterns
            ]
        call = await self._call(p.TOOL_SEARCH_FILES, args)
        if not call.ok:
            return FileSearchResult(
                request_id=call.request_id,
                error_message=call.error_message,
                exception=call.exception,
            )
        return FileSearchResult(
            request_id=call.request_id, success=True, matches=parse_search(call.text)
        )

    async def read_batch(self, paths: Sequence[str]) -> MultipleFileContentResult:
        """Several text files in one call (contents are stripped, a protocol limitation)."""
        args = {"paths": v.check_paths(paths)}
        call = await self._call(p.TOOL_READ_MULTIPLE_FILES, args)
        if not call.ok:
            return MultipleFileContentResult(
                request_id=call.request_id,
                error_message=call.error_message,
                exception=call.exception,
            )
        return MultipleFileContentResult(
            request_id=call.request_id, success=True, contents=parse_multiple_files(call.text)
        )

    # The seed's other names for the same operations.
    create_directory = mkdir
    write_file = write
    read_file = read
    get_file_info = info
    list_directory = list
    move_file = move
    delete_file = remove
    edit_file = edit
    search_files = search
    read_multiple_files = read_batch

    @staticmethod
    def _bool(call: ToolCall) -> BoolResult:
        return BoolResult(
            request_id=call.request_id,
            success=call.ok,
            data=call.ok,
            error_message=call.error_message,
            exception=call.exception,
        )


def _content_result(
    binary: bool, request_id: str, message: str, exception: AGBError | None
) -> FileContentResult | BinaryFileContentResult:
    if binary:
        return BinaryFileContentResult(
            request_id=request_id, error_message=message, exception=exception
        )
    return FileContentResult(request_id=request_id, error_message=message, exception=exception)


def _quote(path: str) -> str:
    return "'" + path.replace("'", "'\"'\"'") + "'"
