"""AGB Local's sandbox backend: `LocalBackend` makes one `LocalSandbox` per session, run under
bubblewrap or as the loudly unsafe "plain" fallback.

`create()` only makes the session's record; the first call that needs a process makes its
directories and starts the session's *agent* (the `agent` package, run by the system Python),
under bubblewrap (`bwrap`) or as a plain subprocess. All calls then go to the agent as JSON lines
(`channel`); it runs shell commands, owns the python kernel and does the file operations from
inside the sandbox. See docs/sandbox.md.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import math
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from .browser import (
    START_TIMEOUT_S,
    STOP_GRACE_S,
    BrowserEndpoint,
    BrowserLaunch,
    find_chromium,
)
from .bwrap import (
    TMP_DIR,
    VENV_DIR,
    bwrap_argv,
    checked_sync_path,
    data_fd,
    etc_files,
    needs_bind,
    read_child_pid,
)
from .cgroups import Cgroups
from .channel import AgentChannel, AgentGone
from .hostfiles import SessionFiles
from .interface import (
    WORKSPACE_DIR,
    CodeRun,
    DirEntry,
    FileChange,
    FileEdit,
    FileStat,
    SandboxError,
    SandboxLimits,
    SandboxMetrics,
    SandboxUnavailable,
    ShellOutcome,
    StreamEvent,
)
from .netns import NamespaceSockets
from .ports import close_browser
from .replies import StreamEvents, code_run, result_of
from .runtimes import find_runtimes
from .uids import UidLease
from .warm import WarmPool, restore_priority

log = logging.getLogger("aioagb.server.sandbox")

SYSTEM_PYTHON = "/usr/bin/python3"
# The agent package's name in the runtime directory: `python -m aioagb_agent` runs it, and no
# user module can collide with it (its own modules are never on sys.path by their bare names).
AGENT_PACKAGE = "aioagb_agent"
AGENT_SOURCE = Path(__file__).with_name("agent")
AGENT_START_TIMEOUT_S = 15.0
GRACE_S = 10.0  # beyond a call's own timeout, before the agent counts as hung
FILE_OP_TIMEOUT_S = 120.0
# The scheduling priority a warm sandbox starts at (as root): below live sessions' work, so a
# refill never slows them; restored to the server's when a session takes the sandbox.
WARM_NICENESS = 10
# After a session's own sandbox started its agent, how long a warm refill still waits: the
# session's first cell starts its kernel right after (~5-20 ms, more on a loaded machine).
COLD_START_QUIET_S = 1.0
# Events a streaming run may have on their way to the server before its consumer took them:
# the most the server holds of one run (AgentChannel's inbox), however slow the consumer.
STREAM_CREDITS = 8
_SESSION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class LocalSandbox:
    """One session's `Sandbox` (whose docstrings its methods follow): its directories and its
    agent, both made on first use.

    A session that is created and deleted without running anything (and every idle one)
    costs no disk work: making and removing the directories was most of AGB Local's CPU per
    create+delete (docs/benchmarks.md)."""

    def __init__(
        self,
        backend: LocalBackend,
        session_id: str,
        uid: int | None,
        sync_paths: Sequence[str] = (),
        *,
        browser: bool = False,
        warm: bool = False,
    ) -> None:
        self._backend = backend
        self._session_id = session_id
        self._uid = uid
        self.browser = browser  # a browser session: its limits, and Chromium allowed
        self.limits = backend.limits.for_browser() if browser else backend.limits
        self._net = NamespaceSockets()
        self.dir = backend.sessions_dir / session_id
        # Sync paths outside /workspace and /tmp: each gets a directory of the session,
        # bound there under bubblewrap (sandbox path -> host directory).
        outside = [path for path in sync_paths if needs_bind(path)]
        self.sync_binds = {path: self.dir / "mounts" / str(n) for n, path in enumerate(outside)}
        self._agent: AgentChannel | None = None
        self._start_lock = anyio.Lock()
        self._closed = False
        self._dirs_made = False
        self._cgroups: Cgroups | None = None
        # A warm sandbox (`warm` module) until a session takes it: its id is a pool key, and
        # its processes start at a lower priority.
        self.warm = warm

    @property
    def session_id(self) -> str:
        return self._session_id

    def _move_in(self, warm: LocalSandbox) -> None:
        """Takes over a warm sandbox — its directories, uid, cgroup, agent and kernel: from
        now on it is this session's sandbox, and only this session's, until it ends. Its
        processes get the server's scheduling priority back. Called with the start lock held,
        before this session made anything of its own."""
        lease = self._backend._uid_lease
        if self._uid is not None and lease is not None:
            lease.give_back(self._uid)  # the uid taken at create was never used
        self._uid, self.dir, self._agent = warm._uid, warm.dir, warm._agent
        self._cgroups, self._net = warm._cgroups, warm._net
        self._dirs_made = True
        # The warm object is an empty shell now: nothing of it is closed or removed again.
        warm._closed, warm._agent, warm._cgroups, warm._uid = True, None, None, None
        warm._net = NamespaceSockets()
        if self._agent is not None and self._backend._nice_warm:
            restore_priority(self._agent.process.pid)

    @property
    def poolable(self) -> bool:
        """Whether a warm sandbox fits this session: a code-space session whose sync paths
        need no mount of their own (bubblewrap's mounts are fixed when it starts); a browser
        session has limits of its own."""
        return not (self.warm or self.browser or self.sync_binds)

    async def warm_up(self) -> None:
        """Starts the agent and the python kernel, ahead of a session's first call."""
        await self._call("warm", AGENT_START_TIMEOUT_S)

    @property
    def uid(self) -> int | None:
        """The host uid the session's processes run as (None: the server's own)."""
        return self._uid

    @property
    def started(self) -> bool:
        """Whether the session's agent process is running (for tests and stats)."""
        return self._agent is not None and self._agent.alive

    @property
    def agent_pid(self) -> int | None:
        """The host pid of the agent's process (bubblewrap's, under bubblewrap); None before
        its first start."""
        return self._agent.process.pid if self._agent is not None else None

    # --- the agent -------------------------------------------------------------------------

    async def _ensure_agent(self) -> AgentChannel:
        async with self._start_lock:
            if self._closed:
                raise SandboxError("the session's sandbox is closed")
            await self._ensure_dirs()  # on first use, this may take a warm sandbox, agent and all
            if self._agent is not None and self._agent.alive:
                return self._agent
            if self._agent is not None:
                await self._agent.kill(self._uid)
                self._agent = None
            if self.warm:
                self._agent = await self._backend._start_agent(self)
            else:
                with self._backend._cold_start():
                    self._agent = await self._backend._start_agent(self)
            return self._agent

    async def _ensure_dirs(self) -> None:
        """The session's directories, on its first use: a warm sandbox's when one is ready
        and fits, else its own, made now. Called with the start lock held."""
        if not self._dirs_made and self.poolable:
            warm = self._backend._warm.take()
            if warm is not None:
                self._move_in(warm)
        if not self._dirs_made:
            make = partial(self._backend._make_dirs, self.dir, self._uid, self.sync_binds)
            await anyio.to_thread.run_sync(make)
            self._dirs_made = True

    def host_roots(self) -> dict[str, Path]:
        """Every sandbox root of the session -> its host directory."""
        roots = {WORKSPACE_DIR: self.dir / "workspace", TMP_DIR: self.dir / "tmp"}
        return {**roots, **self.sync_binds}

    async def host_files(self) -> SessionFiles:
        async with self._start_lock:
            if self._closed:
                raise SandboxError("the session's sandbox is closed")
            await self._ensure_dirs()
        return SessionFiles(self.host_roots(), self._uid)

    async def _call(self, op: str, timeout_s: float, **args: object) -> Any:
        agent = await self._ensure_agent()
        async with self._agent_errors(agent):
            with anyio.fail_after(timeout_s):
                reply = await agent.call(op, args)
        return result_of(reply)

    @contextlib.asynccontextmanager
    async def _agent_errors(self, agent: AgentChannel) -> AsyncIterator[None]:
        """An agent that is gone, or hung (a TimeoutError of its call), is dropped and
        reported as a `SandboxError`; the next call starts a new one."""
        try:
            yield
        except TimeoutError:
            await self._drop_agent(agent)
            raise SandboxError(
                "the sandbox stopped responding; its processes were killed and it will be "
                "restarted on the next call (python state is lost)"
            ) from None
        except AgentGone as exc:
            await self._drop_agent(agent)
            raise SandboxError(
                f"{exc}; it will be restarted on the next call (python state is lost)"
            ) from None

    async def _drop_agent(self, agent: AgentChannel) -> None:
        await agent.kill(self._uid)
        if self._agent is agent:
            self._agent = None

    def _clamp(self, timeout_s: float) -> float:
        return max(0.001, min(float(timeout_s), self._backend.limits.max_timeout_s))

    # --- code and shell --------------------------------------------------------------------

    def _check_language(self, language: str) -> None:
        if language not in self._backend.languages:
            raise SandboxUnavailable(f"{language} is not available on this server")

    async def run_code(self, code: str, language: str, timeout_s: float) -> CodeRun:
        self._check_language(language)
        timeout = self._clamp(timeout_s)
        res = await self._call(
            "run_code", timeout + GRACE_S, code=code, language=language, timeout=timeout
        )
        return code_run(res)

    @contextlib.asynccontextmanager
    async def stream_code(
        self, code: str, language: str, timeout_s: float
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        self._check_language(language)
        timeout = self._clamp(timeout_s)
        agent = await self._ensure_agent()
        args = {"code": code, "language": language, "timeout": timeout}
        stream = agent.open_stream("run_code", args, STREAM_CREDITS)
        async with self._agent_errors(agent), stream:
            yield StreamEvents(agent, stream, timeout + GRACE_S)

    async def metrics(self) -> SandboxMetrics:
        cgroups_in_use = self._backend.cgroups
        mem_total = self.limits.memory_bytes if cgroups_in_use else _host_memory()
        res = await self._call("metrics", FILE_OP_TIMEOUT_S, mem_total=mem_total)
        if self._cgroups is not None:
            # The cgroup's count is the one its cap applies to (page cache included).
            usage = await anyio.to_thread.run_sync(
                self._cgroups.read, "memory", "memory.usage_in_bytes"
            )
            res["mem_used"] = int(usage)
        return SandboxMetrics(**res)

    async def shell(
        self,
        command: str,
        timeout_s: float,
        cwd: str | None = None,
        envs: Mapping[str, str] | None = None,
    ) -> ShellOutcome:
        timeout = self._clamp(timeout_s)
        res = await self._call(
            "shell",
            timeout + GRACE_S,
            command=command,
            timeout=timeout,
            cwd=cwd,
            envs=dict(envs) if envs else None,
        )
        return ShellOutcome(
            stdout=res["stdout"],
            stderr=res["stderr"],
            exit_code=int(res["exit_code"]),
            timed_out=bool(res.get("timed_out")),
            truncated=bool(res.get("truncated")),
        )

    # --- files -----------------------------------------------------------------------------

    async def read_file(self, path: str, offset: int, length: int) -> bytes:
        data = await self._call(
            "read_file", FILE_OP_TIMEOUT_S, path=path, offset=offset, length=length
        )
        return base64.b64decode(data)

    async def write_file(self, path: str, content: str, mode: str) -> None:
        await self._call("write_file", FILE_OP_TIMEOUT_S, path=path, content=content, mode=mode)

    async def get_file_info(self, path: str) -> FileStat:
        res = await self._call("get_file_info", FILE_OP_TIMEOUT_S, path=path)
        return FileStat(**res)

    async def list_directory(self, path: str) -> Sequence[DirEntry]:
        res = await self._call("list_directory", FILE_OP_TIMEOUT_S, path=path)
        return [DirEntry(**e) for e in res]

    async def create_directory(self, path: str) -> None:
        await self._call("create_directory", FILE_OP_TIMEOUT_S, path=path)

    async def move_file(self, source: str, destination: str) -> None:
        await self._call("move_file", FILE_OP_TIMEOUT_S, source=source, destination=destination)

    async def delete_file(self, path: str) -> None:
        await self._call("delete_file", FILE_OP_TIMEOUT_S, path=path)

    async def edit_file(self, path: str, edits: Sequence[FileEdit], dry_run: bool) -> str:
        raw = [{"old_text": e.old_text, "new_text": e.new_text} for e in edits]
        res = await self._call(
            "edit_file", FILE_OP_TIMEOUT_S, path=path, edits=raw, dry_run=dry_run
        )
        return str(res)

    async def search_files(
        self, path: str, pattern: str, exclude_patterns: Sequence[str] = ()
    ) -> Sequence[str]:
        res = await self._call(
            "search_files",
            FILE_OP_TIMEOUT_S,
            path=path,
            pattern=pattern,
            exclude=list(exclude_patterns),
        )
        return [str(p) for p in res]

    async def get_file_change(self, path: str) -> Sequence[FileChange]:
        res = await self._call("get_file_change", FILE_OP_TIMEOUT_S, path=path)
        return [FileChange(**c) for c in res]

    # --- ports and the browser (docs/sandbox.md, "Ports" and "Browser sessions") ---------

    async def open_socket(self, family: int = socket.AF_INET) -> socket.socket:
        if self._backend.mode == "plain":
            return socket.socket(family, socket.SOCK_STREAM)  # no namespace: the host's
        if not self._backend._is_root:
            raise SandboxUnavailable(
                "reaching a port in the sandbox needs AGB Local to run as root (it enters "
                "the sandbox's network namespace)"
            )
        agent = await self._ensure_agent()
        if agent.namespace_pid is None:
            raise SandboxUnavailable("the sandbox's network namespace is not known")
        async with self._agent_errors(agent):
            return await self._net.socket(
                agent, agent.namespace_pid, partial(agent.call, "ping", {}), family
            )

    async def start_browser(self, launch: BrowserLaunch) -> BrowserEndpoint:
        binary = find_chromium()
        if not self.browser:
            raise SandboxUnavailable("the browser runs in browser sessions only")
        if binary is None:
            raise SandboxUnavailable(
                "Chromium is not installed on this AGB Local (apt-get install chromium)"
            )
        # A running browser's stop, then the new one's start.
        timeout = STOP_GRACE_S + START_TIMEOUT_S + 2 * GRACE_S
        res = await self._call("browser_start", timeout, **launch.agent_args(binary))
        return BrowserEndpoint(port=int(res["port"]), path=str(res["path"]))

    async def stop_browser(self) -> bool:
        if not self.started:
            return False  # no agent, no browser: nothing to start just to stop it
        endpoint = await self.browser_endpoint()
        if endpoint is not None:
            with contextlib.suppress(Exception):  # then it is killed below
                await close_browser(self, endpoint, STOP_GRACE_S)
        res = await self._call("browser_stop", STOP_GRACE_S + 2 * GRACE_S)
        return bool(res["stopped"])

    async def browser_endpoint(self) -> BrowserEndpoint | None:
        if not self.started:
            return None
        res = await self._call("browser_status", FILE_OP_TIMEOUT_S)
        if not res.get("running"):
            return None
        return BrowserEndpoint(port=int(res["port"]), path=str(res["path"]))

    # --- end -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            async with self._start_lock:
                first = not self._closed
                self._closed = True
                agent, self._agent = self._agent, None
            if agent is not None:
                await agent.kill(self._uid)
            self._net.close()
            if first:
                if self._cgroups is not None:
                    await anyio.to_thread.run_sync(self._cgroups.remove)
                await anyio.to_thread.run_sync(remove_tree, self.dir)
                self._backend._forget(self)


def remove_tree(path: Path) -> None:
    """Removes `path` (and its `.log`), making directories writable where the session's code
    took that away; the workspace root's cleanup uses it too."""

    def make_writable_and_retry(func: Any, p: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
            func(p)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=make_writable_and_retry)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{path}.log")


def _host_memory() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


class LocalBackend:
    """The `SandboxBackend` that makes `LocalSandbox`es under `root`; `mode` is "bwrap" or
    "plain". Use `make_backend`."""

    def __init__(
        self,
        root: Path,
        limits: SandboxLimits,
        mode: str,
        *,
        venv: Path | None = None,
        cgroups: bool = True,
        warm_sandboxes: int = 0,
        warm_sandboxes_max: int | None = None,
    ) -> None:
        self.root = root
        self.limits = limits
        self.mode = mode
        self.sessions_dir = root / "sessions"
        self.runtime_dir = root / "runtime"
        self._venv = venv
        self._is_root = os.geteuid() == 0
        self._sandboxes: dict[str, LocalSandbox] = {}
        self._uid_lease = UidLease.acquire() if self._is_root else None
        self._closed = False
        self._runtimes = find_runtimes(mode)
        self._cgroup_root = Cgroups.setup(root.name) if cgroups and self._is_root else None
        # Sessions' own sandboxes starting now, and when the last one's agent was up (its
        # kernel starts right after, with its first cell): a warm refill waits for both.
        self._cold_starts = 0
        self._last_cold_start = -math.inf
        self._warm = WarmPool(
            warm_sandboxes,
            self._start_warm,
            busy=self._cold_starts_running,
            max_size=warm_sandboxes_max,
        )
        # Only root can give a process its priority back (`LocalSandbox._move_in`).
        self._nice_warm = self._is_root
        try:
            self._prepare()
        except BaseException:
            if self._uid_lease is not None:
                self._uid_lease.release()
            if self._cgroup_root is not None:
                self._cgroup_root.remove()
            raise

    # --- SandboxBackend ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.mode

    @property
    def languages(self) -> Sequence[str]:
        return self._runtimes.languages

    @property
    def cgroups(self) -> bool:
        """Whether per-session memory/pids cgroups are in use."""
        return self._cgroup_root is not None

    @property
    def warm_pool(self) -> WarmPool:
        """The warm sandboxes (size 0: none are kept)."""
        return self._warm

    @property
    def sandboxes(self) -> Mapping[str, LocalSandbox]:
        """The live sandboxes by session id (a copy)."""
        return dict(self._sandboxes)

    async def create(
        self, session_id: str, sync_paths: Sequence[str] = (), *, browser: bool = False
    ) -> LocalSandbox:
        if self._closed:
            raise SandboxError("the sandbox backend is closed")
        if not _SESSION_ID.fullmatch(session_id):
            raise SandboxError(f"invalid session id for a sandbox: {session_id!r}")
        if session_id in self._sandboxes:
            raise SandboxError(f"a sandbox for session {session_id} exists already")
        checked = [checked_sync_path(path) for path in sync_paths]
        uid = self._uid_lease.take() if self._uid_lease is not None else None
        sandbox = LocalSandbox(self, session_id, uid, checked, browser=browser)
        self._sandboxes[session_id] = sandbox
        return sandbox

    async def keep_warm(self) -> None:
        if self._warm.max_size:
            await self._warm.run()

    @contextlib.contextmanager
    def _cold_start(self) -> Iterator[None]:
        self._cold_starts += 1
        try:
            yield
        finally:
            self._cold_starts -= 1
            self._last_cold_start = time.monotonic()

    def _cold_starts_running(self) -> bool:
        """Whether a session's own sandbox is starting, or started its agent within the last
        COLD_START_QUIET_S (its kernel starts then): a warm refill waits meanwhile."""
        if self._cold_starts:
            return True
        return time.monotonic() - self._last_cold_start < COLD_START_QUIET_S

    async def _start_warm(self) -> LocalSandbox:
        """A new warm sandbox, started (its directories, agent and kernel) under a pool key."""
        if self._closed:
            raise SandboxError("the sandbox backend is closed")
        uid = self._uid_lease.take() if self._uid_lease is not None else None
        sandbox = LocalSandbox(self, f"warm-{secrets.token_hex(8)}", uid, warm=True)
        try:
            await sandbox.warm_up()
        except BaseException:
            await sandbox.aclose()  # shielded: its directories, uid and cgroup go back
            raise
        return sandbox

    async def aclose(self) -> None:
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self._warm.aclose()
            async with anyio.create_task_group() as tg:
                for sandbox in list(self._sandboxes.values()):
                    tg.start_soon(sandbox.aclose)
            if self._cgroup_root is not None:
                await anyio.to_thread.run_sync(self._cgroup_root.remove)
            if self._uid_lease is not None:
                self._uid_lease.release()

    # --- internals ---------------------------------------------------------------------------

    def _forget(self, sandbox: LocalSandbox) -> None:
        if self._sandboxes.get(sandbox.session_id) is sandbox:
            del self._sandboxes[sandbox.session_id]
        if sandbox.uid is not None and self._uid_lease is not None:
            self._uid_lease.give_back(sandbox.uid)

    def _prepare(self) -> None:
        """Cleans what a previous run left under root; installs the agent package."""
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in (self.sessions_dir, self.runtime_dir):
            if leftover.exists():
                remove_tree(leftover)
        self.sessions_dir.mkdir(mode=0o711)
        self.runtime_dir.mkdir(mode=0o755)
        os.chmod(self.sessions_dir, 0o711)
        os.chmod(self.runtime_dir, 0o755)
        pythons = [self._python_for_agent()]
        if self._venv is not None:
            pythons.append(str(self._venv / "bin" / "python"))
        _install_agent(self.runtime_dir, pythons)
        if self.mode == "plain" and self._is_root:
            os.chmod(self.root, os.stat(self.root).st_mode | 0o011)
            blocked = _untraversable_ancestor(self.root)
            if blocked is not None:
                raise SandboxError(
                    f"the plain sandbox runs sessions as their own uids, which cannot reach "
                    f"{self.root}: {blocked} is not searchable by other users; choose "
                    "another root"
                )

    @staticmethod
    def _make_dirs(path: Path, uid: int | None, binds: Mapping[str, Path]) -> None:
        try:
            path.mkdir(mode=0o700)
            subs = [path / "workspace", path / "tmp"]
            if binds:
                subs += [path / "mounts", *binds.values()]
            for sub in subs:
                sub.mkdir(mode=0o700)
                if uid is not None:
                    os.chown(sub, uid, uid)
            if uid is not None:
                os.chown(path, uid, uid)
        except OSError as exc:
            remove_tree(path)  # so the next call starts clean
            raise SandboxError(f"could not make the session's directories: {exc}") from None

    def _python(self) -> str:
        if self._venv is None:
            return self._python_for_agent()
        if self.mode == "bwrap":
            return f"{VENV_DIR}/bin/python"
        return str(self._venv / "bin" / "python")

    def _agent_config(self, sandbox: LocalSandbox, cgroup_fds: list[int]) -> dict[str, Any]:
        """What the agent reads from the first line of its stdin (so it never shows in `ps`)."""
        roots = self._roots(sandbox)
        return {
            "roots": roots,
            "python": self._python(),
            "node": self._runtimes.node,
            "java": self._runtimes.java,
            "rscript": self._runtimes.rscript,
            "memory_bytes": sandbox.limits.memory_bytes,
            "env": self._session_env(home=roots[WORKSPACE_DIR], tmp=roots[TMP_DIR]),
            "max_output_bytes": self.limits.max_output_bytes,
            "workspace_quota_bytes": self.limits.workspace_quota_bytes,
            "rlimits": self._rlimits(sandbox.uid, sandbox.limits),
            "uid": sandbox.uid,
            "cgroup_fds": cgroup_fds,
        }

    def _roots(self, sandbox: LocalSandbox) -> dict[str, str]:
        """Sandbox root -> where the agent finds it: the same path under bubblewrap, the
        session's host directories in plain mode. Longest first: the agent maps a path by
        the first root that contains it, and a sync path may lie inside another root."""
        roots = sandbox.host_roots()
        ordered = sorted(roots, key=len, reverse=True)
        if self.mode == "bwrap":
            return {path: path for path in ordered}
        return {path: str(roots[path]) for path in ordered}

    def _session_env(self, *, home: str, tmp: str) -> dict[str, str]:
        venv_bin = ""
        if self._venv is not None:
            venv_bin = f"{VENV_DIR}/bin:" if self.mode == "bwrap" else f"{self._venv}/bin:"
        return {
            "PATH": f"{venv_bin}/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": tmp,
            "LANG": "C.UTF-8",
            "USER": "sandbox",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": f"{tmp}/.matplotlib",  # its font cache, out of the workspace
        }

    def _rlimits(self, uid: int | None, lim: SandboxLimits) -> dict[str, int]:
        rlimits = {
            "cpu": lim.cpu_seconds,
            "as": lim.address_space_bytes,
            "fsize": lim.max_file_bytes,
            "nofile": lim.max_open_files,
            "core": 0,
        }
        if uid is not None:
            # RLIMIT_NPROC counts every process of the uid: only meaningful for our own uids.
            rlimits["nproc"] = lim.max_processes
        return rlimits

    async def _start_agent(self, sandbox: LocalSandbox) -> AgentChannel:
        cgroup_fds = await self._open_cgroups(sandbox)
        config = self._agent_config(sandbox, cgroup_fds)
        process, info_r = await self._spawn_agent(sandbox, cgroup_fds)
        agent = AgentChannel(process, kill_group=self.mode == "plain")
        try:
            with anyio.fail_after(AGENT_START_TIMEOUT_S):
                await agent.handshake(config)
            if info_r >= 0:
                agent.namespace_pid = read_child_pid(info_r)
        except (TimeoutError, AgentGone, anyio.BrokenResourceError, OSError) as exc:
            await agent.kill(sandbox.uid)
            detail = _tail(Path(f"{sandbox.dir}.log"))
            raise SandboxError(f"could not start the session's sandbox: {exc} {detail}") from None
        except BaseException:
            await agent.kill(sandbox.uid)
            raise
        finally:
            if info_r >= 0:
                os.close(info_r)
        return agent

    async def _open_cgroups(self, sandbox: LocalSandbox) -> list[int]:
        """The session's cgroups (made on its first start) as fds the agent joins them by."""
        if self._cgroup_root is not None and sandbox._cgroups is None:
            sandbox._cgroups = await anyio.to_thread.run_sync(
                self._cgroup_root.child, sandbox.session_id, sandbox.limits
            )
        if sandbox._cgroups is None:
            return []
        return await anyio.to_thread.run_sync(sandbox._cgroups.open_procs)

    async def _spawn_agent(
        self, sandbox: LocalSandbox, cgroup_fds: list[int]
    ) -> tuple[anyio.abc.Process, int]:
        """Starts the agent's process, under bubblewrap or plain; returns it and the read end
        of bubblewrap's --info-fd (-1 in plain mode). The server's copies of the fds the agent
        inherits (`cgroup_fds` among them) are closed here, whatever happens."""
        inherited = list(cgroup_fds)
        info_r = log_fd = -1
        try:
            if self.mode == "bwrap":
                etc_fds = {dest: data_fd(data) for dest, data in etc_files(sandbox.uid).items()}
                inherited += etc_fds.values()
                info_r, info_w = os.pipe()
                inherited.append(info_w)
                argv = self._bwrap_argv(sandbox, etc_fds, info_w)
                user = None
            else:
                argv, user = _agent_command(self._python_for_agent()), sandbox.uid
            if sandbox.warm and self._nice_warm:
                argv = ["nice", "-n", str(WARM_NICENESS), *argv]
            log_fd = os.open(f"{sandbox.dir}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            process = await anyio.open_process(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_fd,
                pass_fds=inherited,
                cwd=str(self.runtime_dir),  # where `python -m` finds the agent package
                env=_agent_env(),
                start_new_session=True,
                umask=0o022,  # bubblewrap's mount points: readable by the session's uid
                user=user,
                group=user,
                extra_groups=[] if user is not None else None,
            )
        except BaseException:
            if info_r >= 0:
                os.close(info_r)
            raise
        finally:
            for fd in [*inherited, log_fd]:
                if fd >= 0:
                    os.close(fd)
        return process, info_r

    def _python_for_agent(self) -> str:
        return SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else _host_python()

    def _bwrap_argv(
        self, sandbox: LocalSandbox, etc_fds: Mapping[str, int], info_fd: int
    ) -> list[str]:
        return bwrap_argv(
            as_root=self._is_root,
            session_dir=sandbox.dir,
            agent_root=self.runtime_dir,
            venv=self._venv,
            limits=sandbox.limits,
            etc_fds=etc_fds,
            info_fd=info_fd,
            command=_agent_command(SYSTEM_PYTHON),
            sync_binds=list(sandbox.sync_binds.items()),
        )


def _install_agent(runtime_dir: Path, pythons: Sequence[str]) -> None:
    """Copies the agent package into `runtime_dir` as AGENT_PACKAGE, compiled to bytecode by
    each of `pythons` (the sandboxes cannot write it: without it every agent and kernel
    would compile the package again, ~20 ms of each session's first call), readable by
    every uid."""
    target = runtime_dir / AGENT_PACKAGE
    shutil.copytree(AGENT_SOURCE, target, ignore=shutil.ignore_patterns("__pycache__"))
    for python in dict.fromkeys(pythons):
        done = subprocess.run(
            [python, "-m", "compileall", "-q", str(target)], capture_output=True, check=False
        )
        if done.returncode != 0:  # the sources still run, only slower
            log.warning("could not precompile the sandbox agent with %s: %s", python, done.stderr)
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _agent_command(python: str) -> list[str]:
    """The agent's command line; it starts in the runtime directory (AGENT_DIR in the sandbox),
    which `-m` puts on sys.path: the package's parent, never the package's own modules."""
    return [python, "-E", "-s", "-u", "-m", AGENT_PACKAGE]


def _agent_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _host_python() -> str:
    import sys

    return sys.executable


def _untraversable_ancestor(path: Path) -> Path | None:
    for parent in [path.resolve(), *path.resolve().parents]:
        if not os.stat(parent).st_mode & 0o001:
            return parent
    return None


def _tail(path: Path, n: int = 2000) -> str:
    try:
        text = path.read_bytes()[-n:].decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f"({text})" if text else ""
