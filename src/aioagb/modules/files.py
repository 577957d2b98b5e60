"""`session.file`: the file tools of one session (docs/protocol.md §4.5).

Each method validates its arguments (InvalidArgumentError, nothing sent), makes the exact tool
calls of the official client and returns the official result type.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import copy
import os
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, TypeVar, overload

from .. import _protocol as p
from .. import _validate as v
from .._protocol.payloads import (
    parse_file_info,
    parse_listing,
    parse_multiple_files,
    parse_search,
)
from .._results import seed
from .._streams import Progress
from ..errors import AGBError, ToolError
from ..models import (
    ApiResponse,
    BinaryFileContentResult,
    BoolResult,
    DirectoryListResult,
    DownloadResult,
    FileChangeEvent,
    FileChangeResult,
    FileContentResult,
    FileInfoResult,
    FileSearchResult,
    MultipleFileContentResult,
    UploadResult,
)
from ._channel import SessionChannel
from .command import Command
from .transfer import FileTransfer, check_remote, check_timing
from .watch import (
    ChangeCallback,
    DirectoryWatcher,
    StopEvent,
    changes,
    check_stop_event,
    check_watch_args,
    file_change,
)

BYTES_DECODE_TIMEOUT_MS = 60_000
R = TypeVar("R", bound=ApiResponse)
# The field of each result type that holds a parsed payload.
_DATA_FIELD: dict[type[ApiResponse], str] = {
    FileInfoResult: "file_info",
    DirectoryListResult: "entries",
    FileSearchResult: "matches",
    MultipleFileContentResult: "contents",
}


class FileSystem:
    """Files of the session (the official `session.file`). Paths are absolute paths in the
    sandbox, or relative to its working directory."""

    def __init__(self, channel: SessionChannel) -> None:
        self._tools = channel
        self._command = Command(channel)  # bytes are decoded by a shell command
        self._transfer: FileTransfer | None = None  # made on the first transfer

    # --- one tool call each ------------------------------------------------------------------

    async def mkdir(self, path: str) -> BoolResult:
        """Create a directory and its parents (an existing one is fine)."""
        args = {"path": v.check_path("path", path)}
        return await seed(BoolResult, self._done(p.TOOL_CREATE_DIRECTORY, args))

    async def info(self, path: str) -> FileInfoResult:
        """Size (bytes), times, type and permissions of a file or directory; fails when the
        path does not exist. `file_info` keys: size, isDirectory, isFile, permissions,
        created, modified, accessed."""
        args = {"path": v.check_path("path", path)}
        return await seed(FileInfoResult, self._info(args))

    async def list(self, path: str) -> DirectoryListResult:
        """The entries of a directory: `entries` is a list of `{"name", "isDirectory"}`."""
        args = {"path": v.check_path("path", path)}
        operation = self._parsed(p.TOOL_LIST_DIRECTORY, args, DirectoryListResult, parse_listing)
        return await seed(DirectoryListResult, operation)

    async def move(self, source: str, destination: str) -> BoolResult:
        """Move or rename a file or directory; fails when `destination` exists."""
        args = {
            "source": v.check_path("source", source),
            "destination": v.check_path("destination", destination),
        }
        return await seed(BoolResult, self._done(p.TOOL_MOVE_FILE, args))

    async def remove(self, path: str) -> BoolResult:
        """Delete a file, or a directory with everything in it."""
        args = {"path": v.check_path("path", path)}
        return await seed(BoolResult, self._done(p.TOOL_DELETE_FILE, args))

    async def edit(
        self, path: str, edits: Sequence[Mapping[str, str]], dry_run: bool = False
    ) -> BoolResult:
        """Replace each `oldText` by its `newText`, in order; fails if one is not found."""
        args = {
            "path": v.check_path("path", path),
            "edits": v.check_edits(edits),
            "dryRun": bool(dry_run),
        }
        return await seed(BoolResult, self._done(p.TOOL_EDIT_FILE, args))

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
        operation = self._parsed(p.TOOL_SEARCH_FILES, args, FileSearchResult, parse_search)
        return await seed(FileSearchResult, operation)

    async def read_batch(self, paths: Sequence[str]) -> MultipleFileContentResult:
        """Several text files in one call (contents are stripped, a protocol limitation)."""
        args = {"paths": v.check_paths(paths)}
        operation = self._parsed(
            p.TOOL_READ_MULTIPLE_FILES, args, MultipleFileContentResult, parse_multiple_files
        )
        return await seed(MultipleFileContentResult, operation)

    async def _done(self, tool: str, args: Mapping[str, object]) -> BoolResult:
        answer = await self._tools.call(tool, args)
        return BoolResult(request_id=answer.request_id, success=True, data=True)

    async def _info(self, args: Mapping[str, object]) -> FileInfoResult:
        return await self._parsed(p.TOOL_GET_FILE_INFO, args, FileInfoResult, parse_file_info)

    async def _parsed(
        self,
        tool: str,
        args: Mapping[str, object],
        result_type: type[R],
        parse: Callable[[str | None], object],
    ) -> R:
        """One tool call whose payload `parse` turns into the result's one data field."""
        answer = await self._tools.call(tool, args)
        data = {_DATA_FIELD[result_type]: parse(answer.text)}
        return result_type(request_id=answer.request_id, success=True, **data)  # type: ignore[arg-type]

    # --- write --------------------------------------------------------------------------------

    async def write(self, path: str, content: str | bytes, mode: str = "overwrite") -> BoolResult:
        """Write text (or bytes) to a file, in the protocol's 51 200-character chunks.

        A multi-chunk `overwrite` goes to a temporary file next to `path` that is moved into
        place at the end, so a failure never leaves a half-written file behind. Bytes travel
        as base64 text and are decoded by a shell command in the session.
        """
        path = v.check_path("path", path)
        mode = v.check_write_mode(mode)
        if isinstance(content, bytes | bytearray | memoryview):
            return await seed(BoolResult, self._write_bytes(path, bytes(content), mode))
        v.check_text("content", content, allow_empty=True)
        return await seed(BoolResult, self._write_text(path, content, mode))

    async def _write_text(self, path: str, content: str, mode: str) -> BoolResult:
        if len(content) <= p.WRITE_CHUNK_CHARS or mode == "append":
            return await self._write_chunks(path, content, mode)
        staging = f"{path}.aioagb-{secrets.token_hex(4)}.part"
        # Renamed over the (symlink-resolved) target by the shell: the protocol's move_file
        # refuses an existing destination, and a rename replaces the file in one step.
        source, target = _quote(staging), _quote(path)
        replace = (
            f"t=$(readlink -f -- {target}) && "
            f'{{ [ ! -e "$t" ] || chmod --reference="$t" -- {source} 2>/dev/null || :; }} && '
            f'mv -f -- {source} "$t"'
        )
        try:
            await self._write_chunks(staging, content, "overwrite")
            done = await self._command._execute(replace, BYTES_DECODE_TIMEOUT_MS, None, None)
        except AGBError:
            await self._remove_quietly(staging)
            raise
        return BoolResult(request_id=done.request_id, success=True, data=True)

    async def _write_chunks(self, path: str, content: str, mode: str) -> BoolResult:
        size = p.WRITE_CHUNK_CHARS
        chunks = [content[i : i + size] for i in range(0, len(content), size)] or [""]
        result = BoolResult()
        for index, chunk in enumerate(chunks):
            args = {"path": path, "content": chunk, "mode": mode if index == 0 else "append"}
            result = await self._done(p.TOOL_WRITE_FILE, args)
        return result

    async def _write_bytes(self, path: str, data: bytes, mode: str) -> BoolResult:
        staging = f"/tmp/.aioagb-{secrets.token_hex(6)}.b64"
        source, target = _quote(staging), _quote(path)
        # Decoded into a part file beside the (symlink-resolved) target and renamed over it,
        # so a failing decode (a full disk) leaves the target as it was; an append copies the
        # target into the part file first. Each step's stderr is kept so that the error says
        # why with the user's path, never the part file's name.
        part = f".aioagb-{secrets.token_hex(6)}.part"
        copy_first = '{ [ ! -e "$t" ] || cat -- "$t"; } 2>&1 >"$p"'
        steps = [
            f"t=$(readlink -f -- {target})",
            f'p=$(dirname -- "$t")/{part}',
            "{ [ ! -d \"$t\" ] || { e='Is a directory'; false; }; }",
            '{ [ ! -e "$t" ] || [ -w "$t" ] || { e=\'Permission denied\'; false; }; }',
            *([f"e=$({copy_first})"] if mode == "append" else []),
            f'e=$(base64 -d -- {source} 2>&1 >>"$p")',
            '{ [ ! -e "$t" ] || chmod --reference="$t" -- "$p" 2>/dev/null || :; }',
            'e=$(mv -f -- "$p" "$t" 2>&1)',
        ]
        command = (
            "e='No such file or directory'; "
            + " && ".join(steps)
            + f'; s=$?; rm -f -- {source} ${{p:+"$p"}}; [ $s -eq 0 ] || '
            + f"{{ r=${{e##*: }}; printf '%s: %s\\n' \"${{r:-Could not write}}\" {target} >&2; }}"
            + "; exit $s"
        )
        try:
            await self._write_chunks(staging, base64.b64encode(data).decode("ascii"), "overwrite")
            done = await self._command._execute(command, BYTES_DECODE_TIMEOUT_MS, None, None)
        except AGBError as error:
            await self._remove_quietly(staging)  # a staging file must not keep a disk full
            if staging not in error.message:
                raise
            # Writing the staging file failed (a full disk): say so of the caller's file.
            renamed = copy.copy(error)
            renamed.message = error.message.replace(staging, path)
            renamed.args = (renamed.message,)
            raise renamed from None
        return BoolResult(request_id=done.request_id, success=True, data=True)

    async def _remove_quietly(self, path: str) -> None:
        # Best effort: the original failure is what the caller must see.
        with contextlib.suppress(AGBError):
            await self._tools.call(p.TOOL_DELETE_FILE, {"path": path})

    # --- read ---------------------------------------------------------------------------------

    @overload
    async def read(self, path: str) -> FileContentResult: ...
    @overload
    async def read(self, path: str, *, format: Literal["text"]) -> FileContentResult: ...
    @overload
    async def read(self, path: str, *, format: Literal["bytes"]) -> BinaryFileContentResult: ...

    async def read(
        self, path: str, *, format: Literal["text", "bytes"] = "text"
    ) -> FileContentResult | BinaryFileContentResult:
        """Read a file: `get_file_info`, then 51 200-byte `read_file` chunks (§4.5).

        `format="bytes"` returns a `BinaryFileContentResult` with the exact bytes."""
        path = v.check_path("path", path)
        if format not in ("text", "bytes"):
            raise v.fail(f"format must be 'text' or 'bytes', got {format!r}")
        if format == "bytes":
            return await seed(BinaryFileContentResult, self._read_bytes(path))
        return await seed(FileContentResult, self._read_text(path))

    async def _read_text(self, path: str) -> FileContentResult:
        parts, request_id = await self._read_chunks(path, binary=False)
        return FileContentResult(request_id=request_id, success=True, content="".join(parts))

    async def _read_bytes(self, path: str) -> BinaryFileContentResult:
        parts, request_id = await self._read_chunks(path, binary=True)
        try:
            data = b"".join(base64.b64decode(part, validate=True) for part in parts)
        except ValueError:
            raise AGBError(
                f"The server sent invalid base64 for {path}", request_id=request_id
            ) from None
        return BinaryFileContentResult(
            request_id=request_id, success=True, content=data, size=len(data)
        )

    async def _read_chunks(self, path: str, *, binary: bool) -> tuple[builtins.list[str], str]:
        info = await self._info({"path": path})
        size = info.file_info.get("size")
        if info.file_info.get("isDirectory") is True or not isinstance(size, int):
            raise ToolError(
                f"Path does not exist or is a directory: {path}", request_id=info.request_id
            )
        parts: builtins.list[str] = []
        request_id = info.request_id
        for offset in range(0, size, p.READ_CHUNK_BYTES):
            args: dict[str, object] = {
                "path": path,
                "offset": offset,
                "length": min(p.READ_CHUNK_BYTES, size - offset),
            }
            if binary:
                args["format"] = p.READ_FORMAT_BINARY
            answer = await self._tools.call(p.TOOL_READ_FILE, args)
            request_id = answer.request_id
            parts.append(answer.text or "")
        return parts, request_id

    # --- transfer (§14) and watching (§16.3): transfer.py and watch.py ----------------------

    def _file_transfer(self) -> FileTransfer:
        if self._transfer is None:
            self._transfer = FileTransfer(self._tools)
        return self._transfer

    async def transfer_path(self) -> str | None:
        """The session's folder for `upload`/`download` (e.g. `/tmp/file_transfer`), or None
        when the server has no file-transfer context for it."""
        return await self._file_transfer().transfer_path()

    async def upload(
        self,
        local_path: str | os.PathLike[str],
        remote_path: str,
        *,
        content_type: str | None = None,
        wait: bool = True,
        wait_timeout: float = 30.0,
        poll_interval: float = 1.5,
        progress_cb: Progress | None = None,
    ) -> UploadResult:
        """Copy the local file `local_path` to `remote_path` in the session, streamed from
        disk (any size in constant memory): `remote_path = await session.file.transfer_path()
        + "/file.bin"` (an absolute path; a bare file name is refused).

        With `wait` (the default), returns once the session has the file, polling every
        `poll_interval` seconds for up to `wait_timeout`. `progress_cb(bytes_sent)` (sync or
        async) is called after each 1 MiB; an exception from it stops the upload and
        propagates.
        """
        local = Path(os.fspath(local_path))
        remote, folder = check_remote(remote_path)
        if content_type is not None:
            v.check_text("content_type", content_type)
        timing = check_timing(wait, wait_timeout, poll_interval)
        operation = self._file_transfer()._upload(
            local, remote, folder, content_type, timing, progress_cb
        )
        return await seed(UploadResult, operation)

    async def download(
        self,
        remote_path: str,
        local_path: str | os.PathLike[str],
        *,
        overwrite: bool = True,
        wait: bool = True,
        wait_timeout: float = 30.0,
        poll_interval: float = 1.5,
        progress_cb: Progress | None = None,
    ) -> DownloadResult:
        """Copy `remote_path` of the session to the local file `local_path` (its folders are
        made), streamed to disk. The file appears under its name only when complete: it is
        written to a temporary file next to it, renamed at the end, and removed on failure
        or cancellation. `overwrite=False` fails when `local_path` exists.

        With `wait` (the default), the session's upload of the file to the transfer context
        is awaited (every `poll_interval` seconds, up to `wait_timeout`) before the GET.
        `progress_cb(bytes_received)` is called after each 1 MiB.
        """
        remote, folder = check_remote(remote_path)
        local = Path(os.fspath(local_path))
        v.check_flag("overwrite", overwrite)
        timing = check_timing(wait, wait_timeout, poll_interval)
        operation = self._file_transfer()._download(
            remote, folder, local, overwrite, timing, progress_cb
        )
        return await seed(DownloadResult, operation)

    async def _get_file_change(self, path: str) -> FileChangeResult:
        """The changes in directory `path` since the previous call (the first call sets the
        baseline); the official private method, kept for code that uses it."""
        path = v.check_path("path", path)
        return await seed(FileChangeResult, file_change(self._tools, path))

    def watch(
        self, path: str, *, interval: float = 1.0
    ) -> AsyncIterator[builtins.list[FileChangeEvent]]:
        """`async for events in session.file.watch(path):` every non-empty batch of changes
        in the directory, polled every `interval` seconds, from now on (the first poll sets
        the baseline). A failed poll raises its typed error; `break` to stop."""
        path, interval = check_watch_args(path, interval)
        return changes(self._tools, path, interval)

    def watch_dir(
        self,
        path: str,
        callback: ChangeCallback,
        interval: float = 1.0,
        stop_event: StopEvent | None = None,
    ) -> DirectoryWatcher:
        """An unstarted watcher that calls `callback(events)` on changes in `path` (the
        official `watch_dir`, whose thread becomes a task you run: see `DirectoryWatcher`)."""
        path, interval = check_watch_args(path, interval)
        if not callable(callback):
            raise v.fail(f"callback must be callable, got {type(callback).__name__}")
        return DirectoryWatcher(self._tools, path, callback, interval, check_stop_event(stop_event))

    # The official SDK's other names for the same operations.
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


def _quote(path: str) -> str:
    return "'" + path.replace("'", "'\"'\"'") + "'"
