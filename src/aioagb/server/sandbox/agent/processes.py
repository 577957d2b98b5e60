"""The agent's child processes: bounded capture of their output, pumping their pipes until a
deadline, killing their process groups, and the `shell` and javascript operations."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .config import CONFIG, WORKSPACE
from .errors import FileError, Unavailable
from .files import resolve
from .jsonlines import JSONDict

# The agent starts with every session's first call, so subprocess is imported where it is
# used: a few ms less of its start (docs/benchmarks.md).
if TYPE_CHECKING:
    import subprocess
    from typing import Any

SHELL_TIMEOUT_EXIT_CODE = 124


class Capture:
    """Collects up to `cap` bytes; the rest is read and thrown away (never buffered)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def feed(self, data: bytes) -> None:
        """Keeps what fits under the cap; notes the rest as truncated."""
        room = self.cap - self.size
        if room > 0:
            self.parts.append(data[:room])
            self.size += min(room, len(data))
        if len(data) > room:
            self.truncated = True

    def text(self) -> str:
        """The kept output as text, with a truncation marker when some was dropped."""
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
    """Reads whatever the pipes hold now, without waiting."""
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
    """Signals a whole process group; a group that is gone already is fine."""
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
    """Runs `argv` in its own process group until it ends or `timeout`; its output, exit code and
    whether it timed out."""
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
        return _collect(proc, timeout)
    finally:
        with CHILDREN_LOCK:
            CHILDREN.discard(proc.pid)


def _collect(proc: subprocess.Popen[bytes], timeout: float) -> JSONDict:
    """Pumps the process's output until it ends, or kills its group at the deadline."""
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


def _feed_stdin(pipe: Any, data: bytes) -> None:
    with contextlib.suppress(OSError):
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def shell_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The session's environment, plus the call's own variables."""
    env = dict(CONFIG.env)
    if extra:
        env.update(extra)
    return env


def op_shell(req: JSONDict) -> JSONDict:
    """`/bin/sh -c command` in a directory of the sandbox."""
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


# --- javascript: one node process per call (python runs in the kernel: kernel_host) -------


def op_javascript(req: JSONDict) -> JSONDict:
    """One node process for a javascript cell; the reply has run_code's shape."""
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
