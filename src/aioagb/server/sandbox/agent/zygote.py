"""The kernel's zygote: a single-threaded child of the agent that holds an interpreter with the
kernel already imported, and forks each new python kernel from it.

A kernel started with `python -m aioagb_agent --kernel` spends ~20 ms of CPU on the
interpreter's start and its imports, on every session's first cell (docs/benchmarks.md,
"Where a sandbox's start goes"). The agent forks the zygote at its own start, after it has
confined itself (uid, rlimits, cgroups) and before it starts any thread (a fork of a
threaded process can copy a lock some other thread holds); the zygote imports the kernel
while the agent answers the server. A kernel is then a fork of the zygote: the same
namespaces, uid and limits as an exec'd one, its own session and process group (so the
agent's SIGINT and SIGKILL to the group work as before), and pages shared copy-on-write.

The agent asks over a SOCK_SEQPACKET socketpair, sending the kernel's four pipe ends with
SCM_RIGHTS; the zygote answers with the kernel's pid and a pidfd for it. The zygote reaps
its children, so the agent sees a kernel's end on the pidfd (`ForkedKernel`). When the
zygote cannot be used (another interpreter or a venv for user code, no pidfd, the zygote
gone), the agent starts the kernel by exec, as before (`kernel_host`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import socket
import sys
import threading

from .config import WORKSPACE, Config

# Not `typing.TYPE_CHECKING`: importing typing costs ~2 ms at start (see jsonlines).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

SPAWN_TIMEOUT_S = 10.0  # the zygote may still be importing the kernel when the first ask comes
# The fds a forked kernel finds its pipes on (as `--kernel 3 4 DIR` gives an exec'd one).
KERNEL_REQ_FD = 3
KERNEL_REP_FD = 4


class Zygote:
    """The agent's end of the zygote: asks it for kernels, one at a time."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self._sock = sock
        self.pid = pid
        self._lock = threading.Lock()
        self.broken = False

    def spawn(self, req_r: int, rep_w: int, out_w: int, err_w: int) -> tuple[int, int]:
        """A new kernel with these pipe ends: its pid and a pidfd for it. OSError when the
        zygote does not answer (it is then not asked again)."""
        with self._lock:
            if self.broken:
                raise OSError("the kernel zygote is gone")
            try:
                socket.send_fds(self._sock, [b"K"], [req_r, rep_w, out_w, err_w])
                ready, _, _ = select.select([self._sock], [], [], SPAWN_TIMEOUT_S)
                if not ready:
                    raise TimeoutError("the kernel zygote did not answer")
                data, fds, _flags, _addr = socket.recv_fds(self._sock, 64, 1)
                if not data or len(fds) != 1:
                    for fd in fds:
                        os.close(fd)
                    raise OSError("the kernel zygote is gone")
            except OSError:
                self.broken = True
                with contextlib.suppress(OSError):
                    self._sock.close()
                raise
            return int(data), fds[0]


ZYGOTE: list[Zygote] = []  # the agent's zygote, once forked (empty: kernels are exec'd)


class ForkedKernel:
    """A kernel forked by the zygote, with the part of `subprocess.Popen` that `kernel_host`
    uses: its pid, its stdout and stderr pipes, `poll` and `wait`. Its exit status is not
    known (the zygote reaps it): `returncode` is -1 once it has ended."""

    def __init__(self, pid: int, pidfd: int, stdout: BinaryIO, stderr: BinaryIO) -> None:
        self.pid = pid
        self._pidfd = pidfd
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self._wait(0)

    def wait(self) -> int:
        code = None
        while code is None:
            code = self._wait(None)
        return code

    def _wait(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if ready:  # a pidfd is readable once its process has ended
                self.returncode = -1
                os.close(self._pidfd)
        return self.returncode


def can_fork_kernels(config: Config) -> bool:
    """Whether a kernel forked from this interpreter is the one `config.python` would start:
    the same binary, outside a venv (a venv's sys.prefix and site-packages are set at an
    interpreter's start), and a kernel with pidfds to watch its kernels by."""
    python = config.python
    if not hasattr(os, "pidfd_open") or not hasattr(socket, "send_fds"):
        return False
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        return False
    bindir = os.path.dirname(python)
    return not any(
        os.path.exists(os.path.join(d, "pyvenv.cfg")) for d in (bindir, os.path.dirname(bindir))
    )


def start(config: Config) -> tuple[int, int, str] | None:
    """Forks the zygote when `config` allows it (in the agent, which then keeps the handle in
    ZYGOTE) and returns None. In a kernel forked by the zygote it returns the kernel's
    `(req_fd, rep_fd, workspace)`: the caller runs `kernel_main` with them, on a stack that
    holds nothing of the zygote's."""
    if not can_fork_kernels(config):
        return None
    try:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError:
        return None
    pid = os.fork()
    if pid:
        child_end.close()
        ZYGOTE.append(Zygote(parent_end, pid))
        return None
    parent_end.close()
    return _serve(child_end, config)  # returns in forked kernels only


def _serve(sock: socket.socket, config: Config) -> tuple[int, int, str]:
    """The zygote: prepares what every kernel needs, then forks one per request until the
    agent's end closes (then it exits)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):  # the agent's stdin and stdout: the server must see EOF when it ends
        os.dup2(null, fd)
    os.close(null)
    # What an exec'd kernel was started with: the session's environment, its python.
    os.environ.clear()
    os.environ.update(config.env)
    sys.executable = config.python
    import ast  # noqa: F401 - every cell parses with it

    from . import kernel  # noqa: F401 - what each kernel would import

    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    # Objects made so far are never collected: the collector then does not write to the
    # pages the kernels share with the zygote.
    import gc

    gc.freeze()
    workspace = config.real(WORKSPACE)
    while True:
        try:
            _data, fds, _flags, _addr = socket.recv_fds(sock, 16, 4)
        except OSError:
            os._exit(0)
        if len(fds) != 4:
            os._exit(0)  # the agent's end closed (or spoke nonsense)
        # SIGCHLD waits until the child's pidfd is open: reaped first, its pid could be reused.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            sock.close()
            return _become_kernel(fds, workspace)
        try:
            pidfd = os.pidfd_open(pid)
            socket.send_fds(sock, [str(pid).encode()], [pidfd])
            os.close(pidfd)
        except OSError:
            os._exit(0)
        finally:
            for fd in fds:
                os.close(fd)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _become_kernel(fds: list[int], workspace: str) -> tuple[int, int, str]:
    """In the forked child: its own session and process group, its pipes on stdin (/dev/null),
    stdout, stderr and fds 3 and 4, nothing else open, and the signals of a fresh
    interpreter."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    # Moved above 0-4 first, so that no dup2 below overwrites a pipe end it has yet to move.
    req_r, rep_w, out_w, err_w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    for src, dst in (
        (null, 0),
        (out_w, 1),
        (err_w, 2),
        (req_r, KERNEL_REQ_FD),
        (rep_w, KERNEL_REP_FD),
    ):
        os.dup2(src, dst)
    os.closerange(KERNEL_REP_FD + 1, os.sysconf("SC_OPEN_MAX"))
    # Streams as an exec'd kernel's: the agent's run with -u (a print in two writes), while
    # a kernel's stdout is buffered (by line, once `kernel_main` has it), so that a line is
    # one chunk of a stream. stderr is buffered by line, as in any interpreter.
    streams = {
        "stdin": open(0, closefd=False),  # noqa: SIM115
        "stdout": open(1, "w", encoding="utf-8", closefd=False),  # noqa: SIM115
        "stderr": open(  # noqa: SIM115
            2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False
        ),
    }
    for name, stream in streams.items():
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    main = sys.modules["__main__"].__file__ or "__main__.py"
    sys.argv = [main, "--kernel", str(KERNEL_REQ_FD), str(KERNEL_REP_FD), workspace]
    return KERNEL_REQ_FD, KERNEL_REP_FD, workspace
