"""The default workspace root: a fresh directory per run under one well-known parent in the
system's temporary directory, locked by its server for as long as that server lives, so that
the next server to start removes what servers that died without cleaning up (SIGKILL, the OOM
killer, a power cut) left behind.

Layout, with `<tmp>` the system temporary directory (`$TMPDIR`, else /tmp):

    <tmp>/aioagb-local-<uid>/run-<hex>.lock   holds the owner's pid; flock'ed while it runs
    <tmp>/aioagb-local-<uid>/run-<hex>/       the root: sessions/, runtime/

An flock, not a pid check: the kernel drops it when its process dies however it dies, and a
reused pid cannot keep it. The lock file gets its final name only once it is locked, and
before its root exists, so a root whose lock is missing or free belongs to nobody.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import stat
import tempfile
import time
from pathlib import Path

from .sandbox.backend import remove_tree

log = logging.getLogger("aioagb.server")

ROOT_PREFIX = "run-"
LOCK_SUFFIX = ".lock"
CLAIMING_PREFIX = ".claiming-"
# A half-made lock file (its maker died between creating and naming it) is removed only
# when older than this: a younger one may belong to a server starting right now.
CLAIMING_GRACE_S = 60.0


class TemporaryRoot:
    """A claimed default workspace root; `release()` removes it and its lock."""

    def __init__(self, path: Path, lock_fd: int | None) -> None:
        self.path = path
        self._lock_fd = lock_fd

    def release(self) -> None:
        """Removes the root, then its lock file (idempotent)."""
        remove_tree(self.path)
        if self._lock_fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_lock_of(self.path))
            os.close(self._lock_fd)
            self._lock_fd = None


def roots_parent() -> Path:
    """Where default roots live: per user, so that no other user can plant files in it."""
    return Path(tempfile.gettempdir()) / f"aioagb-local-{os.geteuid()}"


def claim_temporary_root() -> TemporaryRoot:
    """Removes abandoned roots, then makes and locks a fresh one. Blocking."""
    parent = roots_parent()
    if not _usable_parent(parent):
        # Someone else's directory (or a link) where ours should be: run without the sweep.
        made = Path(tempfile.mkdtemp(prefix="aioagb-"))
        log.warning("%s is not a private directory of this user; using %s", parent, made)
        return TemporaryRoot(made, None)
    remove_abandoned_roots(parent)
    fd, claiming = tempfile.mkstemp(prefix=CLAIMING_PREFIX, dir=parent)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
        path = parent / f"{ROOT_PREFIX}{secrets.token_hex(8)}"
        os.rename(claiming, _lock_of(path))  # named once locked, before the root exists
        path.mkdir(mode=0o700)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(claiming)
        raise
    return TemporaryRoot(path, fd)


def remove_abandoned_roots(parent: Path) -> list[Path]:
    """Removes the roots under `parent` whose server is gone; returns them."""
    removed = []
    for entry in sorted(parent.iterdir()):
        name = entry.name
        if name.startswith(ROOT_PREFIX) and name.endswith(LOCK_SUFFIX):
            root = entry.with_name(name[: -len(LOCK_SUFFIX)])
            if _remove_if_unlocked(entry, root):
                removed.append(root)
        elif name.startswith(ROOT_PREFIX) and not _lock_of(entry).exists():
            remove_tree(entry)  # its lock went, but its removal did not finish
            removed.append(entry)
        elif name.startswith(CLAIMING_PREFIX) and _older_than(entry, CLAIMING_GRACE_S):
            _remove_if_unlocked(entry, None)
    if removed:
        log.info("removed %d workspace root(s) of servers that are gone", len(removed))
    return removed


def _remove_if_unlocked(lock: Path, root: Path | None) -> bool:
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its server is alive
        if root is not None:
            remove_tree(root)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        return True
    finally:
        os.close(fd)


def _lock_of(root: Path) -> Path:
    return root.with_name(root.name + LOCK_SUFFIX)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except FileNotFoundError:
        return False


def _usable_parent(parent: Path) -> bool:
    """Makes `parent` if needed; whether it is a real directory of ours that only we can
    write. Others may traverse it (mode 711): the plain backend's session uids must."""
    with contextlib.suppress(FileExistsError):
        parent.mkdir(mode=0o700)
        os.chmod(parent, 0o711)  # whatever the umask
    info = os.lstat(parent)
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
