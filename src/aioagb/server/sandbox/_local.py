"""AGB Local's sandbox backends: bubblewrap, and the loudly unsafe "plain" fallback.

One `LocalBackend` per server; one `LocalSandbox` per session. `create()` only makes the
session's directories; the first call that needs a process starts the session's *agent*
(`_agent.py`, run by the system Python), under bubblewrap or as a plain subprocess. All calls
then go to the agent as JSON lines; it runs shell commands, owns the python kernel and does the
file operations from inside the sandbox. See docs/sandbox.md.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import itertools
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from .cgroups import Cgroups
from .interface import (
    WORKSPACE_DIR,
    CodeRun,
    DirEntry,
    FileChange,
    FileEdit,
    FileStat,
    SandboxError,
    SandboxFileError,
    SandboxLimits,
    SandboxUnavailable,
    ShellOutcome,
)

log = logging.getLogger("aioagb.server.sandbox")

TMP_DIR = "/tmp"
AGENT_DIR = "/opt/agb"  # where the agent script is mounted inside the sandbox
VENV_DIR = "/opt/venv"  # where an optional venv for user code is mounted
SYSTEM_PYTHON = "/usr/bin/python3"
UID_BASE = 100_000  # session uids come from UID_BASE on when the server runs as root
UID_BLOCK = 10_000  # each backend leases its own block, so servers on one host never share
UID_BLOCKS = 90
UID_LOCK_DIRS = ("/run/aioagb", "/tmp/aioagb-uid-locks")
AGENT_START_TIMEOUT_S = 15.0
GRACE_S = 10.0  # beyond a call's own timeout, before the agent counts as hung
FILE_OP_TIMEOUT_S = 120.0
MAX_REPLY_BYTES = 256 * 1024 * 1024
_SESSION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class _AgentGone(Exception):
    """The agent process exited or broke the protocol."""


class _Agent:
    """A running agent process and the JSON-lines channel to it.

    Several calls may be in flight at once. There is no reader task: whichever caller holds
    the read lock reads one reply line, files it under its id and releases the lock, so the
    owner of that reply (waiting for the lock) picks it up next (anyio's locks are fair)."""

    def __init__(self, process: anyio.abc.Process, kill_group: bool) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = BufferedByteReceiveStream(process.stdout)
        self._kill_group = kill_group
        self._ids = itertools.count(1)
        self._write_lock = anyio.Lock()
        self._read_lock = anyio.Lock()
        self._waiting: set[int] = set()
        self._replies: dict[int, dict[str, Any]] = {}
        self.broken = False
        # Host pid of the sandbox's pid 1 (bubblewrap's --info-fd), when there is one.
        self.namespace_pid: int | None = None

    @property
    def alive(self) -> bool:
        return not self.broken and self.process.returncode is None

    async def read_ready(self) -> dict[str, Any]:
        return await self._read_line()

    async def _read_line(self) -> dict[str, Any]:
        try:
            line = await self._stdout.receive_until(b"\n", MAX_REPLY_BYTES)
            msg = json.loads(line)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError) as exc:
            self.broken = True
            raise _AgentGone("the sandbox agent exited") from exc
        except (anyio.DelimiterNotFound, ValueError) as exc:
            self.broken = True
            raise _AgentGone("the sandbox agent sent a malformed reply") from exc
        if not isinstance(msg, dict):
            self.broken = True
            raise _AgentGone("the sandbox agent sent a malformed reply")
        return msg

    async def call(self, op: str, args: Mapping[str, object]) -> dict[str, Any]:
        if self.broken:
            raise _AgentGone("the sandbox agent is gone")
        rid = next(self._ids)
        self._waiting.add(rid)
        try:
            line = json.dumps({**args, "id": rid, "op": op}).encode() + b"\n"
            try:
                async with self._write_lock:
                    await self._stdin.send(line)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                self.broken = True
                raise _AgentGone("the sandbox agent exited") from exc
            while rid not in self._replies:
                async with self._read_lock:
                    if rid in self._replies:
                        break
                    msg = await self._read_line()
                    if msg.get("id") in self._waiting:
                        self._replies[msg["id"]] = msg
            return self._replies.pop(rid)
        finally:
            self._waiting.discard(rid)
            self._replies.pop(rid, None)

    async def kill(self, uid: int | None) -> None:
        """Ends the agent and everything it started; always reaps it. Never raises."""
        self.broken = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            if self._kill_group and self.process.returncode is None:
                # plain mode: let the agent kill its own process groups first.
                with contextlib.suppress(Exception):
                    await self._stdin.aclose()
                with anyio.move_on_after(1):
                    await self.process.wait()
            if self.namespace_pid is not None and self.process.returncode is None:
                # Kill the namespace's pid 1, not the outer bubblewrap: the outer one then
                # reaps it and exits. Killing the outer first orphans the inner one to the
                # host's init as a zombie (SANDBOX.md, trap 3).
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.namespace_pid, signal.SIGKILL)
                with anyio.move_on_after(2):
                    await self.process.wait()
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()  # the pid namespace takes everything down with it
            if self._kill_group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            if uid is not None:
                await anyio.to_thread.run_sync(_kill_uid, uid)
            with contextlib.suppress(Exception):
                await self.process.aclose()
            with contextlib.suppress(Exception):
                await self._stdout.aclose()


def _kill_uid(uid: int, timeout_s: float = 3.0) -> None:
    """SIGKILLs every process owned by `uid` until none is left (root only). Under bubblewrap
    this waits for the pid namespace's teardown; in plain mode it also catches escapees."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid and not _is_zombie(entry.name):
                    found = True
                    os.kill(int(entry.name), signal.SIGKILL)
        if not found or time.monotonic() > deadline:
            return
        time.sleep(0.005)


def _is_zombie(pid: str) -> bool:
    """Dead, waiting for its parent (init, in plain mode) to reap it: holds nothing."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"


class LocalSandbox:
    """One session: its directories and its agent, both made on first use.

    A session that is created and deleted without running anything (and every idle one)
    costs no disk work: making and removing the directories was most of AGB Local's CPU per
    create+delete (docs/benchmarks.md)."""

    def __init__(self, backend: LocalBackend, session_id: str, uid: int | None) -> None:
        self._backend = backend
        self._session_id = session_id
        self._uid = uid
        self.dir = backend.sessions_dir / session_id
        self._agent: _Agent | None = None
        self._start_lock = anyio.Lock()
        self._closed = False
        self._dirs_made = False
        self._cgroups: Cgroups | None = None

    @property
    def session_id(self) -> str:
        return self._session_id

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
        return self._agent.process.pid if self._agent is not None else None

    # --- the agent -------------------------------------------------------------------------

    async def _ensure_agent(self) -> _Agent:
        async with self._start_lock:
            if self._closed:
                raise SandboxError("the session's sandbox is closed")
            if self._agent is not None and self._agent.alive:
                return self._agent
            if self._agent is not None:
                await self._agent.kill(self._uid)
                self._agent = None
            if not self._dirs_made:
                await anyio.to_thread.run_sync(self._backend._make_dirs, self.dir, self._uid)
                self._dirs_made = True
            self._agent = await self._backend._start_agent(self)
            return self._agent

    async def _call(self, op: str, timeout_s: float, **args: object) -> Any:
        agent = await self._ensure_agent()
        try:
            with anyio.fail_after(timeout_s):
                reply = await agent.call(op, args)
        except TimeoutError:
            await self._drop_agent(agent)
            raise SandboxError(
                "the sandbox stopped responding; its processes were killed and it will be "
                "restarted on the next call (python state is lost)"
            ) from None
        except _AgentGone as exc:
            await self._drop_agent(agent)
            raise SandboxError(
                f"{exc}; it will be restarted on the next call (python state is lost)"
            ) from None
        if reply.get("ok"):
            return reply.get("result")
        kind, error = reply.get("kind"), str(reply.get("error"))
        if kind == "file":
            raise SandboxFileError(error)
        if kind == "unavailable":
            raise SandboxUnavailable(error)
        raise SandboxError(f"sandbox agent error: {error}")

    async def _drop_agent(self, agent: _Agent) -> None:
        await agent.kill(self._uid)
        if self._agent is agent:
            self._agent = None

    def _clamp(self, timeout_s: float) -> float:
        return max(0.001, min(float(timeout_s), self._backend.limits.max_timeout_s))

    # --- code and shell --------------------------------------------------------------------

    async def run_code(self, code: str, language: str, timeout_s: float) -> CodeRun:
        if language not in self._backend.languages:
            raise SandboxUnavailable(f"{language} is not available on this server")
        timeout = self._clamp(timeout_s)
        res = await self._call(
            "run_code", timeout + GRACE_S, code=code, language=language, timeout=timeout
        )
        return CodeRun(
            stdout=list(res["stdout"]),
            stderr=list(res["stderr"]),
            results=list(res["results"]),
            error=res["error"],
            execution_count=res["execution_count"],
            execution_time=float(res["execution_time"]),
            timed_out=bool(res.get("timed_out")),
            truncated=bool(res.get("truncated")),
        )

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

    # --- end -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            async with self._start_lock:
                first = not self._closed
                self._closed = True
                agent, self._agent = self._agent, None
            if agent is not None:
                await agent.kill(self._uid)
            if first:
                if self._cgroups is not None:
                    await anyio.to_thread.run_sync(self._cgroups.remove)
                await anyio.to_thread.run_sync(_remove_tree, self.dir)
                self._backend._forget(self)


def _remove_tree(path: Path) -> None:
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


class _UidLease:
    """A block of UID_BLOCK uids held by one backend through an flock on a file (released
    when the backend closes or its process dies), so that two servers on one host, or two
    test runs, never give the same uid to two sessions and never kill each other's processes."""

    def __init__(self, fd: int, base: int) -> None:
        self.fd = fd
        self.base = base

    @classmethod
    def acquire(cls) -> _UidLease:
        for lock_dir in UID_LOCK_DIRS:
            try:
                os.makedirs(lock_dir, mode=0o700, exist_ok=True)
            except OSError:
                continue
            for block in range(UID_BLOCKS):
                fd = os.open(f"{lock_dir}/uids-{block}.lock", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                return cls(fd, UID_BASE + block * UID_BLOCK)
            break
        raise SandboxError("no free block of session uids: too many AGB Local servers")

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LocalBackend:
    """Makes `LocalSandbox`es under `root`; `mode` is "bwrap" or "plain". Use `make_backend`."""

    def __init__(
        self,
        root: Path,
        limits: SandboxLimits,
        mode: str,
        *,
        venv: Path | None = None,
        cgroups: bool = True,
    ) -> None:
        self.root = root
        self.limits = limits
        self.mode = mode
        self.sessions_dir = root / "sessions"
        self.runtime_dir = root / "runtime"
        self._venv = venv
        self._is_root = os.geteuid() == 0
        self._sandboxes: dict[str, LocalSandbox] = {}
        self._uid_lease: _UidLease | None = _UidLease.acquire() if self._is_root else None
        self._uids_in_use: set[int] = set()
        self._next_uid = 0
        self._closed = False
        self._node = _find_node(mode)
        self._cgroup_root = Cgroups.setup(root.name) if cgroups and self._is_root else None
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
        return ("python", "javascript") if self._node else ("python",)

    @property
    def cgroups(self) -> bool:
        """Whether per-session memory/pids cgroups are in use."""
        return self._cgroup_root is not None

    @property
    def sandboxes(self) -> Mapping[str, LocalSandbox]:
        return dict(self._sandboxes)

    async def create(self, session_id: str) -> LocalSandbox:
        if self._closed:
            raise SandboxError("the sandbox backend is closed")
        if not _SESSION_ID.fullmatch(session_id):
            raise SandboxError(f"invalid session id for a sandbox: {session_id!r}")
        if session_id in self._sandboxes:
            raise SandboxError(f"a sandbox for session {session_id} exists already")
        uid = self._take_uid()
        sandbox = LocalSandbox(self, session_id, uid)
        self._sandboxes[session_id] = sandbox
        return sandbox

    def _take_uid(self) -> int | None:
        if self._uid_lease is None:
            return None
        if len(self._uids_in_use) >= UID_BLOCK:
            raise SandboxError(f"too many sandboxes: at most {UID_BLOCK} at once")
        while True:
            uid = self._uid_lease.base + self._next_uid
            self._next_uid = (self._next_uid + 1) % UID_BLOCK
            if uid not in self._uids_in_use:
                self._uids_in_use.add(uid)
                return uid

    async def aclose(self) -> None:
        self._closed = True
        with anyio.CancelScope(shield=True):
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
        if sandbox.uid is not None:
            self._uids_in_use.discard(sandbox.uid)

    def _prepare(self) -> None:
        """Cleans what a previous run left under root; installs the agent script."""
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in (self.sessions_dir, self.runtime_dir):
            if leftover.exists():
                _remove_tree(leftover)
        self.sessions_dir.mkdir(mode=0o711)
        self.runtime_dir.mkdir(mode=0o755)
        os.chmod(self.sessions_dir, 0o711)
        os.chmod(self.runtime_dir, 0o755)
        agent = self.runtime_dir / "_agent.py"
        shutil.copyfile(Path(__file__).with_name("_agent.py"), agent)
        os.chmod(agent, 0o644)
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
    def _make_dirs(path: Path, uid: int | None) -> None:
        try:
            path.mkdir(mode=0o700)
            for sub in ("workspace", "tmp"):
                (path / sub).mkdir(mode=0o700)
                if uid is not None:
                    os.chown(path / sub, uid, uid)
            if uid is not None:
                os.chown(path, uid, uid)
        except OSError as exc:
            _remove_tree(path)  # so the next call starts clean
            raise SandboxError(f"could not make the session's directories: {exc}") from None

    def _python(self) -> str:
        if self._venv is None:
            return SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else _host_python()
        if self.mode == "bwrap":
            return f"{VENV_DIR}/bin/python"
        return str(self._venv / "bin" / "python")

    def _agent_config(self, sandbox: LocalSandbox, cgroup_fds: list[int]) -> dict[str, Any]:
        lim = self.limits
        rlimits = {
            "cpu": lim.cpu_seconds,
            "as": lim.address_space_bytes,
            "fsize": lim.max_file_bytes,
            "nofile": lim.max_open_files,
            "core": 0,
        }
        if sandbox.uid is not None:
            # RLIMIT_NPROC counts every process of the uid: only meaningful for our own uids.
            rlimits["nproc"] = lim.max_processes
        if self.mode == "bwrap":
            roots = {WORKSPACE_DIR: WORKSPACE_DIR, TMP_DIR: TMP_DIR}
            home, tmp = WORKSPACE_DIR, TMP_DIR
            venv_bin = f"{VENV_DIR}/bin:" if self._venv else ""
        else:
            home, tmp = str(sandbox.dir / "workspace"), str(sandbox.dir / "tmp")
            roots = {WORKSPACE_DIR: home, TMP_DIR: tmp}
            venv_bin = f"{self._venv}/bin:" if self._venv else ""
        env = {
            "PATH": f"{venv_bin}/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": tmp,
            "LANG": "C.UTF-8",
            "USER": "sandbox",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": f"{tmp}/.matplotlib",  # its font cache, out of the workspace
        }
        return {
            "roots": roots,
            "python": self._python(),
            "node": self._node,
            "env": env,
            "max_output_bytes": lim.max_output_bytes,
            "workspace_quota_bytes": lim.workspace_quota_bytes,
            "rlimits": rlimits,
            "uid": sandbox.uid,
            "cgroup_fds": cgroup_fds,
        }

    async def _start_agent(self, sandbox: LocalSandbox) -> _Agent:
        cgroup_fds: list[int] = []
        if self._cgroup_root is not None and sandbox._cgroups is None:
            sandbox._cgroups = await anyio.to_thread.run_sync(
                self._cgroup_root.child, sandbox.session_id, self.limits
            )
        if sandbox._cgroups is not None:
            cgroup_fds = await anyio.to_thread.run_sync(sandbox._cgroups.open_procs)
        data_fds: list[int] = []
        log_fd = info_r = info_w = -1
        try:
            if self.mode == "bwrap":
                files = _etc_files(sandbox.uid)
                data_fds = [_data_fd(content) for content in files.values()]
                info_r, info_w = os.pipe()
                argv = self._bwrap_argv(sandbox, dict(zip(files, data_fds, strict=True)))
                argv[1:1] = ["--info-fd", str(info_w)]
                user = None
                fds = [*data_fds, *cgroup_fds, info_w]
            else:
                argv = [self._python_for_agent(), "-E", "-s", "-u"]
                argv.append(str(self.runtime_dir / "_agent.py"))
                user = sandbox.uid
                fds = list(cgroup_fds)
            log_fd = os.open(f"{sandbox.dir}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            config = self._agent_config(sandbox, cgroup_fds)
            process = await anyio.open_process(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_fd,
                pass_fds=fds,
                cwd=str(sandbox.dir / "workspace"),
                env=_agent_env(),
                start_new_session=True,
                umask=0o022,  # bubblewrap's mount points: readable by the session's uid
                user=user,
                group=user,
                extra_groups=[] if user is not None else None,
            )
        finally:
            for fd in [*data_fds, *cgroup_fds, log_fd, info_w]:
                if fd >= 0:
                    os.close(fd)
        agent = _Agent(process, kill_group=self.mode == "plain")
        try:
            assert process.stdin is not None
            with anyio.fail_after(AGENT_START_TIMEOUT_S):
                await process.stdin.send(json.dumps(config).encode() + b"\n")
                ready = await agent.read_ready()
            if not (ready.get("ok") and ready.get("id") == 0):
                raise _AgentGone("the sandbox agent did not start")
            if info_r >= 0:
                agent.namespace_pid = _read_child_pid(info_r)
        except (TimeoutError, _AgentGone, anyio.BrokenResourceError, OSError) as exc:
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

    def _python_for_agent(self) -> str:
        return SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else _host_python()

    def _bwrap_argv(self, sandbox: LocalSandbox, etc_fds: Mapping[str, int]) -> list[str]:
        argv = ["bwrap", *_bwrap_isolation(self._is_root)]
        argv += ["--die-with-parent", "--new-session", "--clearenv"]
        argv += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8"]
        argv += ["--setenv", "HOME", WORKSPACE_DIR, "--hostname", "sandbox"]
        argv += _system_mounts()
        for dest, fd in etc_fds.items():
            argv += ["--perms", "0644", "--ro-bind-data", str(fd), dest]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--size", str(self.limits.tmp_size_bytes // 4), "--tmpfs", "/dev/shm"]
        argv += ["--bind", str(sandbox.dir / "workspace"), WORKSPACE_DIR]
        argv += ["--bind", str(sandbox.dir / "tmp"), TMP_DIR]
        argv += ["--ro-bind", str(self.runtime_dir), AGENT_DIR]
        if self._venv is not None:
            argv += ["--ro-bind", str(self._venv), VENV_DIR]
        argv += ["--"]  # the agent enters /workspace once it is the session's uid
        argv += [SYSTEM_PYTHON, "-E", "-s", "-u", f"{AGENT_DIR}/_agent.py"]
        return argv


def _bwrap_isolation(as_root: bool) -> list[str]:
    """Namespaces and capabilities. As root there is no user namespace: bubblewrap mounts as
    root and the agent drops to the session's uid itself (it keeps only CAP_SETUID/SETGID
    for that, and loses them with the switch). A plain user needs a user namespace."""
    common = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    common += ["--unshare-cgroup-try"]
    if as_root:
        return [*common, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*common, "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]


def _system_mounts() -> list[str]:
    # Parents that bubblewrap would make implicitly come out mode 700 when it runs as root.
    out = ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/opt"]
    out += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        host = f"/{name}"
        if os.path.islink(host):
            out += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            out += ["--ro-bind", host, host]
    for path in ("/etc/alternatives", "/etc/ssl", "/etc/ld.so.cache", "/etc/localtime"):
        out += ["--ro-bind-try", path, path]
    return out


def _etc_files(uid: int | None) -> dict[str, bytes]:
    n = os.getuid() if uid is None else uid
    return {
        "/etc/passwd": f"sandbox:x:{n}:{n}:sandbox:{WORKSPACE_DIR}:/bin/sh\n".encode(),
        "/etc/group": f"sandbox:x:{n}:\n".encode(),
        "/etc/hosts": b"127.0.0.1 localhost sandbox\n::1 localhost\n",
    }


def _read_child_pid(fd: int) -> int | None:
    """bubblewrap's --info-fd JSON, written before the sandbox starts (so before the agent's
    ready line): {"child-pid": N, ...}."""
    os.set_blocking(fd, False)
    try:
        info = json.loads(os.read(fd, 65536))
        pid = info.get("child-pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) and pid > 1 else None


def _data_fd(content: bytes) -> int:
    r, w = os.pipe()
    try:
        os.write(w, content)  # small: fits in the pipe buffer
    finally:
        os.close(w)
    return r


def _agent_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _host_python() -> str:
    import sys

    return sys.executable


def _find_node(mode: str) -> str | None:
    node = shutil.which("node", path="/usr/local/bin:/usr/bin:/bin")
    if node is None:
        return None
    real = os.path.realpath(node)
    if mode == "bwrap" and not real.startswith("/usr/"):
        return None  # not visible inside the sandbox
    return real


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
