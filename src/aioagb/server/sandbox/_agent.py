"""The per-session agent of AGB Local: runs *inside* the session's sandbox.

Standard library only, and compatible with the system Python (``/usr/bin/python3``): the
server's own interpreter and site-packages are not visible inside the sandbox. The server starts
one agent per session (lazily, on the first call that needs a process) and talks to it with one
JSON object per line over stdin/stdout:

    request:  {"id": 7, "op": "shell", ...arguments...}
    reply:    {"id": 7, "ok": true, "result": ...}
              {"id": 7, "ok": false, "kind": "file" | "unavailable" | "internal", "error": "..."}

Requests are served concurrently, each in its own thread; python cells are serialised on the
session's kernel. The kernel is a child process (this same file, started with ``--kernel``), so a
runaway cell can be interrupted, or killed and restarted, without losing the agent.

File operations run here, as the session's uid and, under bubblewrap, inside the session's
mount namespace, so paths resolve in the sandbox's view. They are confined to the session's
roots (``/workspace`` and ``/tmp``) after resolving symlinks. In the "plain" fallback the roots
are host directories and the agent maps the sandbox paths onto them (``--map``).
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import errno
import fnmatch
import io
import json
import linecache
import os
import resource
import select
import signal
import stat
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

# Both the agent and the kernel start with every session's first call, so what only some
# operations need (ast, difflib, datetime, shutil, subprocess) is imported where it is used:
# about 10 ms less of each interpreter's start (docs/benchmarks.md).
if TYPE_CHECKING:
    import subprocess
    from typing import Any

WORKSPACE = "/workspace"
TMP = "/tmp"
SHELL_TIMEOUT_EXIT_CODE = 124
KILL_GRACE_S = 2.0  # after SIGINT, how long a cell has to stop before the kernel is killed
MAX_RESULTS_BYTES = 32 * 1024 * 1024  # mime bundles of one cell, all together
MAX_LISTED = 100_000  # entries visited by search / change tracking

JSONDict = dict[str, "Any"]


class FileError(Exception):
    """A file tool failed because of its input; the message goes back to the user."""


class Unavailable(Exception):
    """This sandbox cannot do that at all (e.g. a missing runtime)."""


# --- configuration ------------------------------------------------------------------------


class Config:
    def __init__(self, raw: JSONDict) -> None:
        # Sandbox root -> where it really is (identity under bubblewrap).
        self.roots: dict[str, str] = dict(raw.get("roots") or {WORKSPACE: WORKSPACE, TMP: TMP})
        self.python: str = raw.get("python") or sys.executable
        self.node: str | None = raw.get("node")
        self.env: dict[str, str] = dict(raw.get("env") or {})
        self.max_output: int = int(raw.get("max_output_bytes", 1024 * 1024))
        self.quota: int = int(raw.get("workspace_quota_bytes", 1 << 30))
        self.limits: dict[str, int] = dict(raw.get("rlimits") or {})
        self.uid: int | None = raw.get("uid")
        self.cgroup_fds: list[int] = list(raw.get("cgroup_fds") or [])

    def real(self, sandbox_path: str) -> str:
        """Sandbox path (absolute, normalised) -> real path of this process's view."""
        for root, real in self.roots.items():
            if sandbox_path == root:
                return real
            if sandbox_path.startswith(root + "/"):
                return real + sandbox_path[len(root) :]
        raise FileError(f"Path is outside the session's directories: {sandbox_path}")

    def sandbox(self, real_path: str) -> str:
        """Inverse of `real` for paths known to be inside a root."""
        for root, real in self.roots.items():
            if real_path == real:
                return root
            if real_path.startswith(real + "/"):
                return root + real_path[len(real) :]
        return real_path


CONFIG = Config({})


# --- start-up: cgroups, rlimits, privileges ---------------------------------------------------


_RLIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}


def confine_self(cfg: Config) -> None:
    """Join the session's cgroups, lower rlimits and drop to the session's uid (if given)."""
    for fd in cfg.cgroup_fds:
        # "0" moves the writing process; children inherit the cgroup.
        with contextlib.suppress(OSError):
            os.write(fd, b"0")
        os.close(fd)
    for name, value in cfg.limits.items():
        which = _RLIMITS[name]
        _soft, hard = resource.getrlimit(which)
        new = value if hard == resource.RLIM_INFINITY else min(value, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (new, new))
    if cfg.uid is not None and os.getuid() != cfg.uid:
        os.setgroups([])
        os.setgid(cfg.uid)
        os.setuid(cfg.uid)
        if os.getuid() != cfg.uid or os.geteuid() != cfg.uid:
            raise SystemExit("could not drop privileges")
    os.umask(0o022)
    os.chdir(cfg.real(WORKSPACE))


# --- bounded capture of child output ------------------------------------------------------------


class Capture:
    """Collects up to `cap` bytes; the rest is read and thrown away (never buffered)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def feed(self, data: bytes) -> None:
        room = self.cap - self.size
        if room > 0:
            self.parts.append(data[:room])
            self.size += min(room, len(data))
        if len(data) > room:
            self.truncated = True

    def text(self) -> str:
        out = b"".join(self.parts).decode("utf-8", errors="replace")
        if self.truncated:
            out += f"\n[... output truncated at {self.cap} bytes ...]\n"
        return out


def pump_process(streams: dict[int, Capture], deadline: float, proc: Any) -> bool:
    """Reads the child's pipes until both are at EOF and it has exited; False at `deadline`."""
    open_fds = set(streams)
    while open_fds:
        wait = deadline - time.monotonic()
        if wait <= 0:
            return False
        ready, _, _ = select.select(list(open_fds), [], [], min(wait, 0.5))
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                streams[fd].feed(data)
            else:
                open_fds.discard(fd)
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


def pump_reply(
    streams: dict[int, Capture], deadline: float, rep_fd: int, on_reply: Callable[[bytes], bool]
) -> bool:
    """Reads the kernel's pipes and its reply fd until `on_reply` says the reply is complete;
    False at `deadline`. Whatever the kernel printed before replying is already in the pipes,
    so they are drained once more at the end."""
    fds = [*streams, rep_fd]
    while True:
        wait = deadline - time.monotonic()
        if wait <= 0:
            return False
        ready, _, _ = select.select(fds, [], [], min(wait, 0.5))
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if fd == rep_fd:
                if on_reply(data):
                    drain(streams)
                    return True
            elif data:
                streams[fd].feed(data)
            else:
                fds.remove(fd)  # the kernel closed its stdout: it is going away


def drain(streams: dict[int, Capture]) -> None:
    for fd, cap in streams.items():
        while True:
            try:
                r, _, _ = select.select([fd], [], [], 0)
                if not r:
                    break
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            cap.feed(data)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def wait_group_gone(pgid: int, timeout: float) -> None:
    """Waits (bounded) until no process of group `pgid` is left, zombies included.

    SIGKILLed processes take a moment to exit, and orphans are reaped by the namespace's
    pid 1; without this wait a call that killed a fork bomb returned while its processes
    were still there, and the next call saw them (and could not fork)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.005)


GROUP_EXIT_TIMEOUT_S = 2.0  # how long a killed call's processes get to be gone
CHILDREN: set[int] = set()  # process groups to kill when the agent ends
CHILDREN_LOCK = threading.Lock()


def run_process(
    argv: Sequence[str],
    timeout: float,
    cwd: str,
    env: dict[str, str],
    stdin_data: bytes | None = None,
) -> JSONDict:
    import subprocess

    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return {"stdout": "", "stderr": f"{argv[0]}: {exc.strerror}\n", "exit_code": 127}
    with CHILDREN_LOCK:
        CHILDREN.add(proc.pid)
    try:
        if stdin_data is not None:
            assert proc.stdin is not None
            writer = threading.Thread(target=_feed_stdin, args=(proc.stdin, stdin_data))
            writer.daemon = True
            writer.start()
        assert proc.stdout is not None and proc.stderr is not None
        out, err = Capture(CONFIG.max_output), Capture(CONFIG.max_output)
        streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        deadline = time.monotonic() + timeout
        finished = pump_process(streams, deadline, proc)
        timed_out = False
        if not finished:
            # Still running at the deadline: the command, or something it started that still
            # holds its output open. Both end here; a background job meant to outlive the call
            # must redirect its output (`cmd > log 2>&1 &`).
            timed_out = proc.poll() is None
            kill_group(proc.pid)
            drain(streams)
        code = proc.wait()
        if not finished:
            wait_group_gone(proc.pid, GROUP_EXIT_TIMEOUT_S)  # after reaping the leader
        proc.stdout.close()
        proc.stderr.close()
        if timed_out:
            code = SHELL_TIMEOUT_EXIT_CODE
        elif code < 0:
            code = 128 - code  # killed by a signal: the shell convention
        return {
            "stdout": out.text(),
            "stderr": err.text(),
            "exit_code": code,
            "timed_out": timed_out,
            "truncated": out.truncated or err.truncated,
        }
    finally:
        with CHILDREN_LOCK:
            CHILDREN.discard(proc.pid)


def _feed_stdin(pipe: Any, data: bytes) -> None:
    with contextlib.suppress(OSError):
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def shell_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(CONFIG.env)
    if extra:
        env.update(extra)
    return env


def op_shell(req: JSONDict) -> JSONDict:
    cwd_arg = req.get("cwd") or WORKSPACE
    try:
        cwd = resolve(cwd_arg)
    except FileError as exc:
        return {"stdout": "", "stderr": f"{exc}\n", "exit_code": 1}
    if not os.path.isdir(cwd):
        return {"stdout": "", "stderr": f"cwd is not a directory: {cwd_arg}\n", "exit_code": 1}
    return run_process(
        ["/bin/sh", "-c", req["command"]], float(req["timeout"]), cwd, shell_env(req.get("envs"))
    )


# --- code: javascript (one node per call) and python (a persistent kernel) -----------------


def op_javascript(req: JSONDict) -> JSONDict:
    if not CONFIG.node:
        raise Unavailable("javascript is not available on this server (node is not installed)")
    started = time.monotonic()
    res = run_process(
        [CONFIG.node, "-"],
        float(req["timeout"]),
        CONFIG.real(WORKSPACE),
        shell_env(None),
        stdin_data=req["code"].encode("utf-8"),
    )
    error = None
    if res["timed_out"]:
        error = f"TimeoutError: execution timed out after {req['timeout']:g}s"
    elif res["exit_code"] != 0:
        error = _js_error(res["stderr"]) or f"node exited with code {res['exit_code']}"
    return {
        "stdout": [res["stdout"]] if res["stdout"] else [],
        "stderr": [res["stderr"]] if res["stderr"] else [],
        "results": [],
        "error": error,
        "execution_count": None,
        "execution_time": time.monotonic() - started,
        "timed_out": res["timed_out"],
        "truncated": res["truncated"],
    }


def _js_error(stderr: str) -> str | None:
    for line in stderr.splitlines():
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception")) and " " not in head and ":" in line:
            return line.strip()
    return None


class Kernel:
    """The agent's handle on the python kernel process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.req_w = -1
        self.rep_r = -1
        self.lock = threading.Lock()
        self.count = 0  # execution_count survives interrupts, not restarts

    def start(self) -> None:
        import subprocess

        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        argv = [CONFIG.python, "-u", "-s", os.path.abspath(__file__), "--kernel"]
        argv += [str(req_r), str(rep_w)]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=CONFIG.real(WORKSPACE),
                env=shell_env(None),
                pass_fds=(req_r, rep_w),
                start_new_session=True,
            )
        finally:
            os.close(req_r)
            os.close(rep_w)
        self.req_w, self.rep_r = req_w, rep_r
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for f in (self.proc.stdout, self.proc.stderr):
            os.set_blocking(f.fileno(), False)
        self.count = 0
        with CHILDREN_LOCK:
            CHILDREN.add(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None:
            return
        kill_group(self.proc.pid)
        self.proc.wait()
        with CHILDREN_LOCK:
            CHILDREN.discard(self.proc.pid)
        for fd in (self.req_w, self.rep_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc = None

    def execute(self, code: str, timeout: float) -> JSONDict:
        """Cells of one session run one at a time; waiting for the kernel counts against the
        call's own timeout (so a queued cell never outlives its caller's deadline)."""
        started = time.monotonic()
        if not self.lock.acquire(timeout=timeout):
            res = _cell_failure(
                f"TimeoutError: the python kernel was busy with another cell for all of the "
                f"{timeout:g}s timeout; this cell did not run",
                started,
            )
            res["timed_out"] = True
            return res
        try:
            return self._execute(code, max(0.001, timeout - (time.monotonic() - started)))
        finally:
            self.lock.release()

    def _execute(self, code: str, timeout: float) -> JSONDict:
        started = time.monotonic()
        if self.proc is not None and self.proc.poll() is not None:
            self.stop()
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdout is not None
        assert self.proc.stderr is not None
        out, err = Capture(CONFIG.max_output), Capture(CONFIG.max_output)
        streams = {self.proc.stdout.fileno(): out, self.proc.stderr.fileno(): err}
        drain({fd: Capture(0) for fd in streams})  # whatever background threads printed
        self.count += 1
        line = json.dumps({"code": code, "count": self.count}).encode() + b"\n"
        try:
            _write_all(self.req_w, line)
        except OSError:
            self.stop()
            return _cell_failure("RuntimeError: the python kernel died; it was restarted", started)
        reply = bytearray()
        eof = [False]

        def on_reply(data: bytes) -> bool:
            if not data:
                eof[0] = True
                return True
            reply.extend(data)
            return reply.endswith(b"\n")

        got = pump_reply(streams, started + timeout, self.rep_r, on_reply)
        timed_out = False
        if not got:
            timed_out = True
            kill_group(self.proc.pid, signal.SIGINT)
            got = pump_reply(streams, time.monotonic() + KILL_GRACE_S, self.rep_r, on_reply)
        if not got or eof[0]:
            drain(streams)
            self.stop()
            if timed_out:
                msg = (
                    f"TimeoutError: execution timed out after {timeout:g}s; the cell did not "
                    "stop when interrupted, so the kernel was restarted and all state was lost"
                )
            else:
                msg = "RuntimeError: the python kernel exited; it was restarted and state was lost"
            res = _cell_failure(msg, started, out, err)
            res["timed_out"] = timed_out
            return res
        result: JSONDict = json.loads(bytes(reply))
        if timed_out:
            result["error"] = (
                f"TimeoutError: execution timed out after {timeout:g}s; the cell was "
                "interrupted (the kernel and its state are kept)"
            )
        result["stdout"] = [out.text()] if out.size or out.truncated else []
        result["stderr"] = [err.text()] if err.size or err.truncated else []
        if result.get("traceback"):
            result["stderr"].append(result.pop("traceback"))
        result["execution_time"] = time.monotonic() - started
        result["timed_out"] = timed_out
        result["truncated"] = out.truncated or err.truncated
        return result


def _cell_failure(
    msg: str, started: float, out: Capture | None = None, err: Capture | None = None
) -> JSONDict:
    return {
        "stdout": [out.text()] if out and out.size else [],
        "stderr": ([err.text()] if err and err.size else []) + [msg + "\n"],
        "results": [],
        "error": msg,
        "execution_count": None,
        "execution_time": time.monotonic() - started,
        "timed_out": False,
        "truncated": bool(out and out.truncated) or bool(err and err.truncated),
    }


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


KERNEL = Kernel()


def op_run_code(req: JSONDict) -> JSONDict:
    language = req["language"]
    if language == "python":
        return KERNEL.execute(req["code"], float(req["timeout"]))
    if language == "javascript":
        return op_javascript(req)
    raise Unavailable(f"{language} is not available on this server")


# --- the kernel process itself ------------------------------------------------------------

_RICH = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
)


def mime_bundle(obj: object, main: bool) -> JSONDict:
    bundle: JSONDict = {"text/plain": repr(obj)}
    for mime, method in _RICH:
        fn = getattr(obj, method, None)
        if not callable(fn):
            continue
        try:
            value = fn()
        except Exception:
            continue
        if value is None:
            continue
        if isinstance(value, tuple):  # (data, metadata)
            value = value[0]
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        bundle[mime] = value
    bundle["isMainResult"] = main
    return bundle


class KernelState:
    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.results: list[JSONDict] = []
        self.namespace["display"] = self.display

    def display(self, *objs: object) -> None:
        for obj in objs:
            self.results.append(mime_bundle(obj, False))

    def figures(self) -> None:
        """Every open matplotlib figure becomes an image/png bundle, then is closed."""
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        try:
            for num in plt.get_fignums():
                fig = plt.figure(num)
                buf = io.BytesIO()
                fig.savefig(buf, format="png")
                self.results.append(
                    {
                        "text/plain": repr(fig),
                        "image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                        "isMainResult": False,
                    }
                )
            plt.close("all")
        except Exception as exc:
            print(f"could not render matplotlib figures: {exc!r}", file=sys.stderr)

    def run(self, code: str, count: int) -> JSONDict:
        import ast

        self.results = []
        error = None
        tb = None
        try:
            name = f"<cell {count}>"
            linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
            tree = ast.parse(code, filename=name, mode="exec")
            last = None
            tail = tree.body[-1] if tree.body else None
            if isinstance(tail, ast.Expr):
                tree.body.pop()
                last = ast.Expression(tail.value)
            exec(compile(tree, f"<cell {count}>", "exec"), self.namespace)
            if last is not None:
                value = eval(compile(last, f"<cell {count}>", "eval"), self.namespace)
                if value is not None:
                    self.namespace["_"] = value
                    self.results.append(mime_bundle(value, True))
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            tb = "".join(traceback.format_exception(type(exc), exc, _user_frames(exc)))
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
        self.figures()
        results = self.results
        if len(json.dumps(results)) > MAX_RESULTS_BYTES:
            results = [{"text/plain": "[results too large, dropped]", "isMainResult": False}]
        return {"results": results, "error": error, "traceback": tb, "execution_count": count}


def _user_frames(exc: BaseException) -> Any:
    """The traceback without the kernel's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def kernel_main(req_fd: int, rep_fd: int) -> None:
    sys.path.insert(0, "")
    os.environ.setdefault("MPLBACKEND", "Agg")
    state = KernelState()
    requests = os.fdopen(req_fd, "rb", buffering=0)
    buf = b""
    while True:
        try:
            while b"\n" not in buf:
                chunk = requests.read(65536)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            reply = state.run(msg["code"], int(msg["count"]))
            data = json.dumps(reply).encode() + b"\n"
            _write_all(rep_fd, data)
        except KeyboardInterrupt:
            continue  # a late interrupt, after the cell had finished


# --- files ----------------------------------------------------------------------------------


def sandbox_abspath(path: str) -> str:
    if not isinstance(path, str) or not path or "\x00" in path:
        raise FileError(f"Invalid path: {path!r}")
    if not path.startswith("/"):
        path = WORKSPACE + "/" + path
    return os.path.normpath(path).replace("//", "/")


def _inside(real: str) -> bool:
    for root in CONFIG.roots.values():
        top = os.path.realpath(root)
        if real == top or real.startswith(top + "/"):
            return True
    return False


def resolve(path: str, follow: bool = True) -> str:
    """Sandbox path -> a real path in this process's view, symlinks resolved and confined.
    With follow=False the last component itself is not resolved (delete or move a link)."""
    real = CONFIG.real(sandbox_abspath(path))
    if follow:
        resolved = os.path.realpath(real)
    else:
        parent, name = os.path.split(real)
        resolved = os.path.join(os.path.realpath(parent), name)
    if not _inside(resolved):
        raise FileError(f"Path is outside the session's directories: {path}")
    return resolved


def is_root(real: str) -> bool:
    return any(real == os.path.realpath(r) for r in CONFIG.roots.values())


@contextlib.contextmanager
def file_errors(path: str) -> Iterator[None]:
    try:
        yield
    except FileError:
        raise
    except FileNotFoundError:
        raise FileError(f"No such file or directory: {path}") from None
    except IsADirectoryError:
        raise FileError(f"Is a directory: {path}") from None
    except NotADirectoryError:
        raise FileError(f"Not a directory: {path}") from None
    except PermissionError:
        raise FileError(f"Permission denied: {path}") from None
    except FileExistsError:
        raise FileError(f"Already exists: {path}") from None
    except UnicodeDecodeError:
        raise FileError(f"Not a UTF-8 text file: {path}") from None
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise FileError(f"File too large: {path}") from None
        raise FileError(f"{exc.strerror or exc}: {path}") from None


def usage() -> int:
    total = 0
    for root in CONFIG.roots.values():
        for dirpath, dirnames, filenames in os.walk(root):
            for name in filenames + dirnames:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def op_read_file(req: JSONDict) -> str:
    path = req["path"]
    with file_errors(path):
        real = resolve(path)
        with open(real, "rb") as f:
            f.seek(max(0, int(req["offset"])))
            data = f.read(max(0, int(req["length"])))
    return base64.b64encode(data).decode("ascii")


def op_write_file(req: JSONDict) -> None:
    path, mode = req["path"], req["mode"]
    if mode not in ("overwrite", "append"):
        raise FileError(f"Invalid write mode: {mode}")
    try:
        data = req["content"].encode("utf-8")
    except UnicodeEncodeError:
        raise FileError(f"Content is not valid Unicode text: {path}") from None
    with file_errors(path):
        real = resolve(path)
        if os.path.isdir(real):
            raise FileError(f"Is a directory: {path}")
        old = os.path.getsize(real) if os.path.exists(real) and mode == "overwrite" else 0
        if usage() - old + len(data) > CONFIG.quota:
            raise FileError(f"Workspace quota of {CONFIG.quota} bytes exceeded: {path}")
        os.makedirs(os.path.dirname(real), exist_ok=True)
        with open(real, "wb" if mode == "overwrite" else "ab") as f:
            f.write(data)


def _iso(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).isoformat()


def op_get_file_info(req: JSONDict) -> JSONDict:
    path = req["path"]
    with file_errors(path):
        st = os.stat(resolve(path))
    return {
        "size": st.st_size,
        "is_directory": stat.S_ISDIR(st.st_mode),
        "is_file": stat.S_ISREG(st.st_mode),
        "permissions": format(st.st_mode & 0o777, "o"),
        "created": _iso(st.st_ctime),
        "modified": _iso(st.st_mtime),
        "accessed": _iso(st.st_atime),
    }


def op_list_directory(req: JSONDict) -> list[JSONDict]:
    path = req["path"]
    with file_errors(path):
        real = resolve(path)
        with os.scandir(real) as it:
            entries = [{"name": e.name, "is_directory": e.is_dir()} for e in it]
    return sorted(entries, key=lambda e: str(e["name"]))


def op_create_directory(req: JSONDict) -> None:
    path = req["path"]
    with file_errors(path):
        os.makedirs(resolve(path), exist_ok=True)


def op_move_file(req: JSONDict) -> None:
    src, dst = req["source"], req["destination"]
    with file_errors(src):
        real_src = resolve(src, follow=False)
        real_dst = resolve(dst, follow=False)
        if is_root(real_src):
            raise FileError(f"Cannot move a session root: {src}")
        if not os.path.lexists(real_src):
            raise FileError(f"No such file or directory: {src}")
        if os.path.lexists(real_dst):
            raise FileError(f"Destination already exists: {dst}")
        os.makedirs(os.path.dirname(real_dst), exist_ok=True)
        import shutil

        shutil.move(real_src, real_dst)


def op_delete_file(req: JSONDict) -> None:
    path = req["path"]
    with file_errors(path):
        real = resolve(path, follow=False)
        if is_root(real):
            raise FileError(f"Cannot delete a session root: {path}")
        if os.path.isdir(real) and not os.path.islink(real):
            import shutil

            shutil.rmtree(real)
        else:
            os.unlink(real)


def op_edit_file(req: JSONDict) -> str:
    import difflib

    path = req["path"]
    with file_errors(path):
        real = resolve(path)
        with open(real, encoding="utf-8", newline="") as f:
            before = f.read()
        after = before
        for edit in req["edits"]:
            old, new = edit["old_text"], edit["new_text"]
            if old not in after:
                raise FileError(f"Could not find the text to replace in {path}: {old!r}")
            after = after.replace(old, new, 1)
        diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=path,
                tofile=path,
            )
        )
        if not req.get("dry_run"):
            with open(real, "w", encoding="utf-8", newline="") as f:
                f.write(after)
    return diff


def _walk(real: str, exclude: Sequence[str] = ()) -> Iterator[tuple[str, bool]]:
    """(real path, is_directory) of everything under `real`, not following symlinks."""
    seen = 0
    for dirpath, dirnames, filenames in os.walk(real):
        kept = []
        for name in sorted(dirnames):
            rel = os.path.relpath(os.path.join(dirpath, name), real)
            if any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in exclude):
                continue
            kept.append(name)
            yield os.path.join(dirpath, name), True
            seen += 1
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), real)
            if any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in exclude):
                continue
            yield os.path.join(dirpath, name), False
            seen += 1
        if seen > MAX_LISTED:
            return


def op_search_files(req: JSONDict) -> list[str]:
    path, pattern = req["path"], req["pattern"]
    exclude = list(req.get("exclude") or ())
    with file_errors(path):
        real = resolve(path)
        if not os.path.isdir(real):
            raise FileError(f"Not a directory: {path}")
        return [
            CONFIG.sandbox(p)
            for p, _ in _walk(real, exclude)
            if fnmatch.fnmatch(os.path.basename(p), pattern)
        ]


SNAPSHOTS: dict[str, dict[str, tuple[bool, int, int]]] = {}
SNAPSHOTS_LOCK = threading.Lock()


def op_get_file_change(req: JSONDict) -> list[JSONDict]:
    path = req["path"]
    with file_errors(path):
        real = resolve(path)
        if not os.path.isdir(real):
            raise FileError(f"Not a directory: {path}")
        now: dict[str, tuple[bool, int, int]] = {}
        for p, is_dir in _walk(real):
            with contextlib.suppress(OSError):
                st = os.lstat(p)
                now[CONFIG.sandbox(p)] = (is_dir, st.st_mtime_ns, st.st_size)
    key = sandbox_abspath(path)
    with SNAPSHOTS_LOCK:
        before = SNAPSHOTS.get(key)
        SNAPSHOTS[key] = now
    if before is None:
        return []
    changes: list[JSONDict] = []
    for p, (is_dir, mtime, size) in now.items():
        kind = "directory" if is_dir else "file"
        old = before.get(p)
        if old is None or old[0] != is_dir:
            changes.append({"event_type": "create", "path": p, "path_type": kind})
        elif not is_dir and (old[1], old[2]) != (mtime, size):
            changes.append({"event_type": "modify", "path": p, "path_type": kind})
    for p, (is_dir, _, _) in before.items():
        if p not in now:
            kind = "directory" if is_dir else "file"
            changes.append({"event_type": "delete", "path": p, "path_type": kind})
    return changes


# --- the request loop -----------------------------------------------------------------------

OPS: dict[str, Callable[[JSONDict], object]] = {
    "ping": lambda req: {"pid": os.getpid(), "uid": os.getuid()},
    "shell": op_shell,
    "run_code": op_run_code,
    "read_file": op_read_file,
    "write_file": op_write_file,
    "get_file_info": op_get_file_info,
    "list_directory": op_list_directory,
    "create_directory": op_create_directory,
    "move_file": op_move_file,
    "delete_file": op_delete_file,
    "edit_file": op_edit_file,
    "search_files": op_search_files,
    "get_file_change": op_get_file_change,
}

OUT_LOCK = threading.Lock()


def reply(msg: JSONDict) -> None:
    data = json.dumps(msg).encode() + b"\n"
    with OUT_LOCK:
        _write_all(1, data)


def serve_one(req: JSONDict) -> None:
    rid = req.get("id")
    try:
        op = OPS.get(str(req.get("op")))
        if op is None:
            raise Unavailable(f"unknown operation {req.get('op')!r}")
        reply({"id": rid, "ok": True, "result": op(req)})
    except FileError as exc:
        reply({"id": rid, "ok": False, "kind": "file", "error": str(exc)})
    except Unavailable as exc:
        reply({"id": rid, "ok": False, "kind": "unavailable", "error": str(exc)})
    except Exception as exc:
        traceback.print_exc()
        reply({"id": rid, "ok": False, "kind": "internal", "error": f"{type(exc).__name__}: {exc}"})


def shutdown() -> None:
    KERNEL.stop()
    with CHILDREN_LOCK:
        groups = list(CHILDREN)
    for pid in groups:
        kill_group(pid)
    os._exit(0)


def agent_main(config: JSONDict) -> None:
    global CONFIG
    CONFIG = Config(config)
    confine_self(CONFIG)
    signal.signal(signal.SIGTERM, lambda *_: shutdown())
    reply({"id": 0, "ok": True, "result": {"ready": True, "pid": os.getpid()}})
    stdin = os.fdopen(0, "rb", buffering=0)
    buf = b""
    while True:
        chunk = stdin.read(65536)
        if not chunk:
            shutdown()
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                req = json.loads(line)
            except ValueError:
                reply({"id": None, "ok": False, "kind": "internal", "error": "bad request"})
                continue
            worker = threading.Thread(target=serve_one, args=(req,), daemon=True)
            worker.start()


def main(argv: list[str]) -> None:
    if len(argv) >= 3 and argv[0] == "--kernel":
        kernel_main(int(argv[1]), int(argv[2]))
        return
    # The configuration is the first line of stdin, so it never shows up in `ps`.
    config = json.loads(_read_line(0))
    agent_main(config)


def _read_line(fd: int) -> bytes:
    out = b""
    while not out.endswith(b"\n"):
        ch = os.read(fd, 1)
        if not ch:
            raise SystemExit("no configuration on stdin")
        out += ch
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
