"""Session uids when the server runs as root: a block of host uids leased per backend, handed
out one per sandbox, and killing every process of a uid when its session ends."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time

from .interface import SandboxError

UID_BASE = 100_000  # session uids come from UID_BASE on when the server runs as root
UID_BLOCK = 10_000  # each backend leases its own block, so servers on one host never share
UID_BLOCKS = 90
UID_LOCK_DIRS = ("/run/aioagb", "/tmp/aioagb-uid-locks")


class UidLease:
    """A block of UID_BLOCK uids held by one backend through an flock on a file (released
    when the backend closes or its process dies), so that two servers on one host, or two
    test runs, never give the same uid to two sessions and never kill each other's processes."""

    def __init__(self, fd: int, base: int) -> None:
        self.fd = fd
        self.base = base
        self._in_use: set[int] = set()
        self._next = 0

    @classmethod
    def acquire(cls) -> UidLease:
        """Locks the first free block; raises `SandboxError` when every block is taken."""
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

    def take(self) -> int:
        """A uid of the block that no live sandbox has, in turn (not the lowest free one)."""
        if len(self._in_use) >= UID_BLOCK:
            raise SandboxError(f"too many sandboxes: at most {UID_BLOCK} at once")
        while True:
            uid = self.base + self._next
            self._next = (self._next + 1) % UID_BLOCK
            if uid not in self._in_use:
                self._in_use.add(uid)
                return uid

    def give_back(self, uid: int) -> None:
        """`uid`'s sandbox is gone: the uid may be handed out again."""
        self._in_use.discard(uid)

    def release(self) -> None:
        """Unlocks the block (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def kill_uid(uid: int, timeout_s: float = 3.0) -> None:
    """SIGKILLs every process owned by `uid` until none is left (root only). Under bubblewrap
    this waits for the pid namespace's teardown; in plain mode it also catches escapees."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid and not is_zombie(entry.name):
                    found = True
                    os.kill(int(entry.name), signal.SIGKILL)
        if not found or time.monotonic() > deadline:
            return
        time.sleep(0.005)


def is_zombie(pid: str) -> bool:
    """Dead, waiting for its parent (init, in plain mode) to reap it: holds nothing."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
