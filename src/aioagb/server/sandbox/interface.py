"""The contract between AGB Local's HTTP layer and its sandbox backends.

The HTTP layer (routes, tool dispatch) knows sessions and wire formats; a backend knows
processes, files and limits. They meet only here: the routes call `SandboxBackend.create()`
for a new session and then the typed methods of `Sandbox`; they format the returned values
into the wire payloads themselves. A backend never sees the wire format.

Paths passed to a `Sandbox` are paths *as the sandboxed code sees them* (for example
`/tmp/x.txt` or `/workspace/a.py`, or relative to `/workspace`). The backend confines them:
anything that would leave the session's own area raises `SandboxFileError`.

Errors: a failure the user caused (missing file, bad path, code that raised, a timeout) is a
*result* (`SandboxFileError`, `CodeRun.error`, `ShellOutcome.exit_code`), never a crash.
`SandboxUnavailable` means the backend itself cannot serve (for example a language whose
runtime is not installed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from .hostfiles import SessionFiles

WORKSPACE_DIR = "/workspace"  # the session's working directory and HOME inside the sandbox


class SandboxError(Exception):
    """Base class of sandbox failures; the message is safe to show to the session's owner."""


class SandboxFileError(SandboxError):
    """A file tool failed: missing path, not a directory, outside the session, too large, ..."""


class SandboxUnavailable(SandboxError):
    """The backend cannot do this at all here (e.g. `javascript` without node)."""


@attrs.frozen
class SandboxLimits:
    """Resource limits for one session. One place for the defaults; `aioagb serve` sets them."""

    cpu_seconds: int = 600  # RLIMIT_CPU of each process started in the sandbox
    memory_bytes: int = 1024 * 1024 * 1024  # cgroup memory cap where cgroups exist
    # CPU quota in cores (cgroup `cpu`): a spinning cell cannot take every core from the
    # other sessions; None: no quota.
    cpu_cores: float | None = 1.0
    address_space_bytes: int = 4 * 1024 * 1024 * 1024  # RLIMIT_AS backstop (node needs room)
    max_processes: int = 128  # RLIMIT_NPROC for the session's own uid
    max_file_bytes: int = 256 * 1024 * 1024  # RLIMIT_FSIZE: the largest single file
    max_open_files: int = 1024  # RLIMIT_NOFILE
    workspace_quota_bytes: int = 1024 * 1024 * 1024  # all files of a session together
    tmp_size_bytes: int = 256 * 1024 * 1024  # the private /tmp
    max_output_bytes: int = 1024 * 1024  # captured stdout (and stderr) per call
    max_timeout_s: float = 3600.0  # an upper bound on any per-call wall-clock timeout


@attrs.frozen
class CodeRun:
    """What one `run_code` call produced (mirrors the protocol's "new format", §4.3)."""

    stdout: Sequence[str]
    stderr: Sequence[str]
    # Mime bundles: {"text/plain": ..., "image/png": <base64>, ..., "isMainResult": bool}
    results: Sequence[Mapping[str, object]]
    error: str | None  # short "NameError: name 'x' is not defined"; traceback goes in stderr
    execution_count: int | None
    execution_time: float  # seconds
    timed_out: bool = False
    truncated: bool = False  # output was cut at max_output_bytes (a marker is in the text)


@attrs.frozen
class ShellOutcome:
    """What one `shell` call produced."""

    stdout: str
    stderr: str
    exit_code: int  # SHELL_TIMEOUT_EXIT_CODE on a timeout
    timed_out: bool = False
    truncated: bool = False


@attrs.frozen
class FileStat:
    """What `get_file_info` reports about a path."""

    size: int  # bytes
    is_directory: bool
    is_file: bool
    permissions: str  # octal digits, e.g. "644"
    created: str  # ISO 8601
    modified: str
    accessed: str


@attrs.frozen
class DirEntry:
    """One entry of `list_directory`."""

    name: str
    is_directory: bool


@attrs.frozen
class FileChange:
    """One event of `get_file_change`."""

    event_type: str  # "create" | "modify" | "delete"
    path: str
    path_type: str  # "file" | "directory"


@attrs.frozen
class FileEdit:
    """One replacement of `edit_file`: the first `old_text` becomes `new_text`."""

    old_text: str
    new_text: str


class Sandbox(Protocol):
    """One session's sandbox. Processes start lazily, on the first call that needs them."""

    @property
    def session_id(self) -> str:
        """The id of the session this sandbox belongs to."""

    async def run_code(self, code: str, language: str, timeout_s: float) -> CodeRun:
        """Run code; python keeps its state between calls (a notebook-style kernel)."""

    async def shell(
        self,
        command: str,
        timeout_s: float,
        cwd: str | None = None,
        envs: Mapping[str, str] | None = None,
    ) -> ShellOutcome:
        """Runs `/bin/sh -c command` in `cwd` (default /workspace) with `envs` added."""

    async def read_file(self, path: str, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length) of a file; the caller does UTF-8 chunk alignment."""

    async def write_file(self, path: str, content: str, mode: str) -> None:
        """mode is "overwrite" (create or truncate) or "append" (create if needed)."""

    async def get_file_info(self, path: str) -> FileStat:
        """Size, type, permissions and times of a file or directory."""

    async def list_directory(self, path: str) -> Sequence[DirEntry]:
        """A directory's entries, sorted by name."""

    async def create_directory(self, path: str) -> None:
        """Creates parents too; an existing directory is fine."""

    async def move_file(self, source: str, destination: str) -> None:
        """Moves a file or directory (a link itself); the destination must not exist."""

    async def delete_file(self, path: str) -> None:
        """Removes a file, or a directory with everything in it."""

    async def edit_file(self, path: str, edits: Sequence[FileEdit], dry_run: bool) -> str:
        """Applies each replacement to its first occurrence, in order; returns a unified diff.
        Raises SandboxFileError when an old text is not found (nothing is written then)."""

    async def search_files(
        self, path: str, pattern: str, exclude_patterns: Sequence[str] = ()
    ) -> Sequence[str]:
        """Absolute (sandbox) paths of entries under `path` whose *name* matches the glob."""

    async def get_file_change(self, path: str) -> Sequence[FileChange]:
        """Changes under `path` since the previous call for that path; the first call is a
        baseline and returns nothing."""

    async def host_files(self) -> SessionFiles:
        """The session's files as the server sees them (its directories made if needed), to
        copy contexts in and out without going through the session's processes."""

    async def aclose(self) -> None:
        """Kills every process of the session and removes its files. Idempotent."""


class SandboxBackend(Protocol):
    """Makes sandboxes. One per server."""

    @property
    def name(self) -> str:
        """ "bwrap" or "plain" (the unsafe fallback); shown in logs and listTools."""

    @property
    def languages(self) -> Sequence[str]:
        """Canonical languages this machine can run (python always; javascript with node)."""

    async def create(self, session_id: str, sync_paths: Sequence[str] = ()) -> Sandbox:
        """Makes the session's record. Cheap: no process is started yet. `sync_paths` are
        absolute paths where contexts are mounted (`bwrap.checked_sync_path`): each exists
        in the sandbox, belongs to the session, and is reachable by the file tools."""

    async def aclose(self) -> None:
        """Ends every sandbox this backend made (server shutdown)."""
