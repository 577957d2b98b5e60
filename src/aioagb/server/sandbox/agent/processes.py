"""The agent's child processes: pumping their pipes into their outputs until they end, a
deadline passes or the server cancels the call; killing their process groups; and the
`shell` operation."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from .config import CONFIG, WORKSPACE
from .errors import FileError
from .files import resolve
from .jsonlines import JSONDict
from .outputs import Capture

# Not `typing.TYPE_CHECKING`: importing typing costs every agent and kernel ~2 ms at start
# (mypy reads any `TYPE_CHECKING` as true).
TYPE_CHECKING = False
# The agent starts with every session's first call, so subprocess is imported where it is
# used: a few ms less of its start (docs/benchmarks.md).
if TYPE_CHECKING:
    import subprocess
    from typing import Any

    from .control import RunControl

SHELL_TIMEOUT_EXIT_CODE = 124

# How a pump ended.
DONE = "done"
DEADLINE = "deadline"
CANCELLED = "cancelled"

# A pipe's reader: takes each chunk read, and b"" once at end of file (what it returns is
# ignored).
Reader = Callable[[bytes], object]


def pump(
    readers: Mapping[int, Reader],
    deadline: float,
    finished: Callable[[], bool],
    control: RunControl | None = None,
) -> str:
    """Reads the pipes in `readers` (in their order: a reply pipe listed last is read after
    the output that came before it) until `finished()` says so (DONE), `deadline` passes
    (DEADLINE) or `control` is cancelled (CANCELLED)."""
    open_fds = list(readers)
    while True:
        if finished():
            return DONE
        if control is not None and control.cancelled:
            return CANCELLED
        wait = deadline - time.monotonic()
        if wait <= 0:
            return DEADLINE
        watch = [*open_fds, control.wake_fd] if control is not None else open_fds
        # Every pipe at EOF: only a process's exit is awaited now, so poll it briefly.
        slice_s = 0.5 if open_fds else 0.002
        ready, _, _ = select.select(watch, [], [], min(wait, slice_s))
        for fd in ready:
            if control is not None and fd == control.wake_fd:
                control.clear_wake()
                continue
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            readers[fd](data)
            if not data:
                open_fds.remove(fd)


def drain(readers: Mapping[int, Reader]) -> None:
    """Reads whatever the pipes hold now, without waiting (EOF is not passed on)."""
    for fd, reader in readers.items():
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
            reader(data)


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
    output: Mapping[str, Reader],
    *,
    stdin_data: bytes | None = None,
    control: RunControl | None = None,
    pass_fds: Sequence[int] = (),
    extra_readers: Mapping[int, Reader] | None = None,
) -> JSONDict:
    """Runs `argv` in its own process group until it ends, `timeout` passes or `control` is
    cancelled, handing its stdout and stderr to `output["stdout"]` and `output["stderr"]`.
    Returns its exit code and whether it timed out or was cancelled (its group is killed
    then).

    `pass_fds` are handed to the child: the agent's copies are closed once it has them, so
    that `extra_readers` (the read ends of such pipes) see their EOF when the child ends."""
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
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        output["stderr"](f"{argv[0]}: {exc.strerror}\n".encode())
        return {"exit_code": 127, "timed_out": False, "cancelled": False}
    finally:
        for fd in pass_fds:
            os.close(fd)
    with CHILDREN_LOCK:
        CHILDREN.add(proc.pid)
    try:
        if stdin_data is not None:
            assert proc.stdin is not None
            writer = threading.Thread(target=_feed_stdin, args=(proc.stdin, stdin_data))
            writer.daemon = True
            writer.start()
        return _collect(proc, timeout, output, control, extra_readers or {})
    finally:
        with CHILDREN_LOCK:
            CHILDREN.discard(proc.pid)


def _collect(
    proc: subprocess.Popen[bytes],
    timeout: float,
    output: Mapping[str, Reader],
    control: RunControl | None,
    extra_readers: Mapping[int, Reader],
) -> JSONDict:
    """Pumps the process's output until it ends, or kills its group at the deadline or on
    cancel."""
    assert proc.stdout is not None and proc.stderr is not None
    readers = {proc.stdout.fileno(): output["stdout"], proc.stderr.fileno(): output["stderr"]}
    readers.update(extra_readers)
    at_eof: set[int] = set()

    def reader_of(fd: int) -> Reader:
        def read(data: bytes) -> None:
            if data:
                readers[fd](data)
            else:
                at_eof.add(fd)

        return read

    deadline = time.monotonic() + timeout
    if control is not None:
        control.deadline = deadline
    ended = pump(
        {fd: reader_of(fd) for fd in readers},
        deadline,
        lambda: len(at_eof) == len(readers) and proc.poll() is not None,
        control,
    )
    still_running = False
    if ended != DONE:
        # Still running at the deadline (or cancelled): the command, or something it
        # started that still holds its output open. Both end here; a background job meant
        # to outlive the call must redirect its output (`cmd > log 2>&1 &`).
        still_running = proc.poll() is None
        kill_group(proc.pid)
        drain(readers)
    code = proc.wait()
    if ended != DONE:
        wait_group_gone(proc.pid, GROUP_EXIT_TIMEOUT_S)  # after reaping the leader
    proc.stdout.close()
    proc.stderr.close()
    timed_out = ended == DEADLINE and still_running
    if timed_out:
        code = SHELL_TIMEOUT_EXIT_CODE
    elif code < 0:
        code = 128 - code  # killed by a signal: the shell convention
    return {"exit_code": code, "timed_out": timed_out, "cancelled": ended == CANCELLED}


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


def op_shell(req: JSONDict, control: RunControl) -> JSONDict:
    """`/bin/sh -c command` in a directory of the sandbox."""
    cwd_arg = req.get("cwd") or WORKSPACE
    try:
        cwd = resolve(cwd_arg)
    except FileError as exc:
        return {"stdout": "", "stderr": f"{exc}\n", "exit_code": 1}
    if not os.path.isdir(cwd):
        return {"stdout": "", "stderr": f"cwd is not a directory: {cwd_arg}\n", "exit_code": 1}
    out, err = Capture(CONFIG.max_output), Capture(CONFIG.max_output)
    res = run_process(
        ["/bin/sh", "-c", req["command"]],
        float(req["timeout"]),
        cwd,
        shell_env(req.get("envs")),
        {"stdout": out.feed, "stderr": err.feed},
        control=control,
    )
    return {
        **res,
        "stdout": out.text(),
        "stderr": err.text(),
        "truncated": out.truncated or err.truncated,
    }
