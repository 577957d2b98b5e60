"""The agent's handle on the session's python kernel, a child process: starting it, running
one cell at a time within the call's deadline, interrupting it, and restarting it when it
dies or does not stop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from typing import TYPE_CHECKING

from .config import CONFIG, WORKSPACE
from .jsonlines import JSONDict, json_line, write_all
from .processes import CHILDREN, CHILDREN_LOCK, Capture, drain, kill_group, pump_reply, shell_env

if TYPE_CHECKING:
    import subprocess

# The kernel is this package run with `--kernel`: `python -m PACKAGE` in `_package_home()`.
PACKAGE = __name__.rpartition(".")[0]
KILL_GRACE_S = 2.0  # after SIGINT, how long a cell has to stop before the kernel is killed


class Kernel:
    """The agent's handle on the python kernel process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.req_w = -1
        self.rep_r = -1
        self.lock = threading.Lock()
        self.count = 0  # execution_count survives interrupts, not restarts

    def start(self) -> None:
        """Starts the kernel process with its request and reply pipes."""
        import subprocess

        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        # Started from the package's parent directory, so that `-m` finds the package; the
        # kernel then enters the workspace itself.
        argv = [CONFIG.python, "-u", "-s", "-m", PACKAGE, "--kernel"]
        argv += [str(req_r), str(rep_w), CONFIG.real(WORKSPACE)]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=_package_home(),
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
        """Kills the kernel's process group and closes its pipes (all state is lost)."""
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
        line = json_line({"code": code, "count": self.count})
        try:
            write_all(self.req_w, line)
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
            return self._lost(out, err, started=started, timeout=timeout, timed_out=timed_out)
        result = json.loads(bytes(reply))
        return _cell_result(result, out, err, started=started, timeout=timeout, timed_out=timed_out)

    def _lost(
        self, out: Capture, err: Capture, *, started: float, timeout: float, timed_out: bool
    ) -> JSONDict:
        """No reply: the kernel exited, or a timed-out cell ignored SIGINT. It is stopped
        (the next cell starts a new one) and the cell fails with what it printed."""
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


def _cell_result(
    result: JSONDict, out: Capture, err: Capture, *, started: float, timeout: float, timed_out: bool
) -> JSONDict:
    """The kernel's reply, completed with the cell's output (traceback last), time and flags."""
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


KERNEL = Kernel()


def _package_home() -> str:
    """The directory from which `python -m PACKAGE` imports this package: its parent (one
    level up per dotted part of the name)."""
    home = os.path.dirname(os.path.abspath(__file__))
    for _ in PACKAGE.split("."):
        home = os.path.dirname(home)
    return home
