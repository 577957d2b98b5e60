"""The agent's handle on the session's python kernel, a child process: starting it, running
one cell at a time within the call's deadline while its output goes to the call's
`CellOutput` as it comes, interrupting it (deadline or cancel), and restarting it when it
dies or does not stop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time

from .config import CONFIG, WORKSPACE
from .jsonlines import JSONDict, json_line, write_all
from .outputs import CellOutput
from .processes import (
    CANCELLED,
    CHILDREN,
    CHILDREN_LOCK,
    DEADLINE,
    DONE,
    Reader,
    drain,
    kill_group,
    pump,
    shell_env,
)
from .zygote import ZYGOTE, ForkedKernel

# Not `typing.TYPE_CHECKING`: importing typing costs every agent and kernel ~2 ms at start
# (mypy reads any `TYPE_CHECKING` as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

    from .control import RunControl

# The kernel is this package run with `--kernel`: `python -m PACKAGE` in `_package_home()`.
PACKAGE = __name__.rpartition(".")[0]
KILL_GRACE_S = 2.0  # after SIGINT, how long a cell has to stop before the kernel is killed


class _KernelReplies:
    """Reads the kernel's reply pipe: each rich result goes to the call's output as it
    comes; the cell's end is kept."""

    def __init__(self, output: CellOutput) -> None:
        self._output = output
        self._buf = bytearray()
        self.done: JSONDict | None = None
        self.eof = False

    @property
    def over(self) -> bool:
        """Whether nothing more will come for this cell."""
        return self.done is not None or self.eof

    def feed(self, data: bytes) -> None:
        if not data:
            self.eof = True
            return
        self._buf.extend(data)
        while b"\n" in self._buf:
            line, _, rest = bytes(self._buf).partition(b"\n")
            self._buf[:] = rest
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # not the kernel's (the cell can reach the pipe): ignored
            if msg.get("done"):
                self.done = msg
            elif isinstance(msg.get("result"), dict):
                self._output.result(msg["result"], msg.get("display_id"), bool(msg.get("update")))


class Kernel:
    """The agent's handle on the python kernel process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | ForkedKernel | None = None
        self.req_w = -1
        self.rep_r = -1
        self.lock = threading.Lock()
        self.count = 0  # execution_count survives interrupts, not restarts

    def start(self) -> None:
        """Starts the kernel process with its request and reply pipes: forked from the
        zygote when there is one, else a fresh interpreter."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        try:
            self.proc = self._fork(req_r, rep_w) or self._exec(req_r, rep_w)
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

    def _fork(self, req_r: int, rep_w: int) -> ForkedKernel | None:
        """A kernel forked by the zygote; None when there is none, or it failed (then it is
        not asked again, and every kernel is exec'd)."""
        if not ZYGOTE or ZYGOTE[0].broken:
            return None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            pid, pidfd = ZYGOTE[0].spawn(req_r, rep_w, out_w, err_w)
        except OSError as exc:
            print(f"the kernel zygote failed ({exc!r}); kernels are exec'd", file=sys.stderr)
            os.close(out_r)
            os.close(err_r)
            return None
        finally:
            os.close(out_w)
            os.close(err_w)
        return ForkedKernel(pid, pidfd, os.fdopen(out_r, "rb", 0), os.fdopen(err_r, "rb", 0))

    def _exec(self, req_r: int, rep_w: int) -> subprocess.Popen[bytes]:
        """A kernel in a fresh interpreter: `python -s -m PACKAGE --kernel REQ REP DIR`."""
        import subprocess

        # Started from the package's parent directory, so that `-m` finds the package; the
        # kernel then enters the workspace itself. Not `-u`: the kernel makes its stdout
        # line-buffered, so that a line is one chunk of a stream, not two.
        argv = [CONFIG.python, "-s", "-m", PACKAGE, "--kernel"]
        argv += [str(req_r), str(rep_w), CONFIG.real(WORKSPACE)]
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=_package_home(),
            env=shell_env(None),
            pass_fds=(req_r, rep_w),
            start_new_session=True,
        )

    def warm(self) -> bool:
        """Starts the kernel ahead of the session's first cell (a warm sandbox, see the
        server's `warm` module); whether it was started now (False: it runs already)."""
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                return False
            self.stop()
            self.start()
            return True

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

    def execute(
        self, code: str, timeout: float, output: CellOutput, control: RunControl
    ) -> JSONDict:
        """Cells of one session run one at a time; waiting for the kernel counts against the
        call's own timeout (so a queued cell never outlives its caller's deadline)."""
        started = time.monotonic()
        if not self.lock.acquire(timeout=timeout):
            return _cell_failure(
                f"TimeoutError: the python kernel was busy with another cell for all of the "
                f"{timeout:g}s timeout; this cell did not run",
                started,
                output,
                timed_out=True,
            )
        try:
            remaining = max(0.001, timeout - (time.monotonic() - started))
            return self._execute(code, remaining, output, control)
        finally:
            self.lock.release()

    def _execute(
        self, code: str, timeout: float, output: CellOutput, control: RunControl
    ) -> JSONDict:
        started = time.monotonic()
        if self.proc is not None and self.proc.poll() is not None:
            self.stop()
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdout is not None
        assert self.proc.stderr is not None
        streams: dict[int, Reader] = {
            self.proc.stdout.fileno(): lambda data: output.feed("stdout", data),
            self.proc.stderr.fileno(): lambda data: output.feed("stderr", data),
        }
        drain({fd: lambda _data: None for fd in streams})  # what background threads printed
        self.count += 1
        try:
            write_all(self.req_w, json_line({"code": code, "count": self.count}))
        except OSError:
            self.stop()
            return _cell_failure(
                "RuntimeError: the python kernel died; it was restarted", started, output
            )
        replies = _KernelReplies(output)
        readers = {**streams, self.rep_r: replies.feed}  # the reply pipe last: see `pump`
        deadline = started + timeout
        control.deadline = deadline + KILL_GRACE_S
        ended = pump(readers, deadline, lambda: replies.over, control)
        if ended != DONE:
            # SIGINT to the kernel's group: the cell gets a KeyboardInterrupt, and so does
            # whatever it runs in the foreground (`!sleep`, subprocess.run).
            kill_group(self.proc.pid, signal.SIGINT)
            pump(readers, time.monotonic() + KILL_GRACE_S, lambda: replies.over)
        drain(streams)
        if replies.done is None:
            return self._lost(output, started=started, timeout=timeout, ended=ended)
        return _cell_result(replies.done, output, started=started, timeout=timeout, ended=ended)

    def _lost(self, output: CellOutput, *, started: float, timeout: float, ended: str) -> JSONDict:
        """No end came: the kernel exited, or an interrupted cell ignored SIGINT. It is
        stopped (the next cell starts a new one) and the cell fails with what it printed."""
        self.stop()
        if ended == DONE:
            msg = "RuntimeError: the python kernel exited; it was restarted and state was lost"
        else:
            what = (
                f"execution timed out after {timeout:g}s"
                if ended == DEADLINE
                else "the run was cancelled"
            )
            name = "TimeoutError" if ended == DEADLINE else "KeyboardInterrupt"
            msg = (
                f"{name}: {what}; the cell did not stop when interrupted, so the kernel was "
                "restarted and all state was lost"
            )
        return _cell_failure(
            msg, started, output, timed_out=ended == DEADLINE, cancelled=ended == CANCELLED
        )


def _cell_result(
    done: JSONDict, output: CellOutput, *, started: float, timeout: float, ended: str
) -> JSONDict:
    """The kernel's end of the cell, completed with its output (traceback last), time and
    flags."""
    error = done.get("error")
    if ended == DEADLINE:
        error = (
            f"TimeoutError: execution timed out after {timeout:g}s; the cell was "
            "interrupted (the kernel and its state are kept)"
        )
    elif ended == CANCELLED:
        error = "KeyboardInterrupt: the run was cancelled (the kernel and its state are kept)"
    if done.get("traceback"):
        output.write("stderr", done["traceback"])
    return {
        **output.reply(),
        "error": error,
        "execution_count": done.get("execution_count"),
        "execution_time": time.monotonic() - started,
        "timed_out": ended == DEADLINE,
        "cancelled": ended == CANCELLED,
    }


def _cell_failure(
    msg: str,
    started: float,
    output: CellOutput,
    *,
    timed_out: bool = False,
    cancelled: bool = False,
) -> JSONDict:
    output.write("stderr", msg + "\n")
    return {
        **output.reply(),
        "error": msg,
        "execution_count": None,
        "execution_time": time.monotonic() - started,
        "timed_out": timed_out,
        "cancelled": cancelled,
    }


KERNEL = Kernel()


def _package_home() -> str:
    """The directory from which `python -m PACKAGE` imports this package: its parent (one
    level up per dotted part of the name)."""
    home = os.path.dirname(os.path.abspath(__file__))
    for _ in PACKAGE.split("."):
        home = os.path.dirname(home)
    return home
