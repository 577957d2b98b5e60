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

import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol, TypeAlias

import attrs

if TYPE_CHECKING:
    from .browser import BrowserEndpoint, BrowserLaunch
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
    # Browser sessions (agb-browser-use-*) run Chromium: its ~10 processes and ~100 threads
    # count against the pids cap and RLIMIT_NPROC, and it reserves far more address space
    # than it uses (V8 alone asks for tens of GB), so RLIMIT_AS is lifted for them and the
    # cgroup memory cap is their memory limit (docs/sandbox.md, "Browser sessions").
    browser_memory_bytes: int = 2 * 1024 * 1024 * 1024
    browser_max_processes: int = 512

    def for_browser(self) -> SandboxLimits:
        """The limits of a browser session: these, with the browser's memory and process
        caps and no RLIMIT_AS (-1: unlimited)."""
        return attrs.evolve(
            self,
            memory_bytes=self.browser_memory_bytes,
            max_processes=self.browser_max_processes,
            address_space_bytes=-1,
        )


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
class OutputChunk:
    """Text a streaming run wrote to `stream` ("stdout" or "stderr"), as it was produced."""

    stream: str
    text: str


@attrs.frozen
class RichOutput:
    """A rich result of a streaming run (a mime bundle with `isMainResult`), when shown."""

    bundle: Mapping[str, object]


# What a streaming run yields: its output as it comes, then one `CodeRun` (whose stdout,
# stderr and results are empty: they came as events) that ends it.
StreamEvent: TypeAlias = OutputChunk | RichOutput | CodeRun


@attrs.frozen
class SandboxMetrics:
    """What a session's sandbox uses now (the `get_metrics` tool, agb-wire.md §16.2)."""

    cpu_count: int
    cpu_used_pct: float  # 0-100, of the CPUs the sandbox may use
    mem_total: int  # bytes: the session's memory cap
    mem_used: int
    disk_total: int  # bytes: the workspace quota
    disk_used: int
    rx_rate_kbyte_per_s: float
    tx_rate_kbyte_per_s: float
    rx_used_kbyte: float
    tx_used_kbyte: float
    timestamp: str  # ISO 8601, UTC


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
        """Run code; python keeps its state between calls (a notebook-style kernel). A call
        cancelled by its caller interrupts the run in the sandbox."""

    def stream_code(
        self, code: str, language: str, timeout_s: float
    ) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]:
        """`run_code`, streamed: `async with sandbox.stream_code(...) as events` yields the
        run's output as the sandbox produces it, then its `CodeRun`. The run produces no
        faster than the caller takes events. Leaving the block early (cancelled, or on an
        error) interrupts the run in the sandbox before it returns."""

    async def metrics(self) -> SandboxMetrics:
        """What the sandbox uses now: CPU, memory, disk and network."""

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

    async def open_socket(self, family: int = socket.AF_INET) -> socket.socket:
        """A new, unconnected TCP socket whose loopback is the sandbox's own: connecting it
        to 127.0.0.1:PORT reaches what a session's process listens on (links, CDP).
        `SandboxUnavailable` where the server cannot enter the sandbox's network."""

    async def start_browser(self, launch: BrowserLaunch) -> BrowserEndpoint:
        """Starts (or restarts) the session's Chromium; `SandboxUnavailable` for a session
        that is not a browser session, or when Chromium cannot start."""

    async def stop_browser(self) -> bool:
        """Stops the session's Chromium and all it started (its profile written first);
        whether one was running. Starts nothing when the sandbox has not started."""

    async def browser_endpoint(self) -> BrowserEndpoint | None:
        """The running browser's DevTools endpoint; None when no browser runs."""

    async def aclose(self) -> None:
        """Kills every process of the session and removes its files. Idempotent."""


class SandboxBackend(Protocol):
    """Makes sandboxes. One per server."""

    @property
    def name(self) -> str:
        """ "bwrap" or "plain" (the unsafe fallback); shown in logs and listTools."""

    @property
    def languages(self) -> Sequence[str]:
        """Canonical languages this machine can run: python always; javascript with node,
        java with a JDK, r with R."""

    async def create(
        self, session_id: str, sync_paths: Sequence[str] = (), *, browser: bool = False
    ) -> Sandbox:
        """Makes the session's record. Cheap: no process is started yet (its first call
        starts one, or takes a warm sandbox started ahead of demand, for this session only).
        `sync_paths` are absolute paths where contexts are mounted
        (`bwrap.checked_sync_path`): each exists in the sandbox, belongs to the session, and
        is reachable by the file tools.
        `browser`: a browser session (`SandboxLimits.for_browser`, Chromium allowed)."""

    async def keep_warm(self) -> None:
        """The backend's background work for the server's lifetime, run until cancelled:
        keeping sandboxes started ahead of demand. Returns at once when it keeps none."""

    async def aclose(self) -> None:
        """Ends every sandbox this backend made (server shutdown)."""
