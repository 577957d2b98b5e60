"""Sockets inside a sandbox's network namespace: how AGB Local (root) reaches a port that a
session's process listens on, on the sandbox's own loopback (docs/sandbox.md, "Ports").

`setns(2)` moves only the calling *thread* into a network namespace, and a socket belongs to
the namespace it was made in for its whole life. So a short-lived thread of our own enters
the namespace, makes one socket and ends: the event loop then connects and uses the socket
as any other, while no thread of the server (the loop's, anyio's worker pool) ever changes
namespace. Nothing runs inside the sandbox for it, and nothing inside can reach out: the
bridge only ever connects *into* the sandbox.

The namespace is the one of the sandbox's pid 1, opened by its host pid. A pid can be reused
once its process is gone, so the open is confirmed afterwards by a call to the session's
agent: an agent that still answers proves the namespace's pid 1 (its ancestor, whose death
would have ended it) was the same process when the file was opened.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import threading
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def socket_in_namespace(
    ns_fd: int, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0
) -> socket.socket:
    """A new, unconnected socket of the network namespace `ns_fd` (blocks for a thread's
    start and end, a fraction of a millisecond)."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def enter_and_make() -> None:
        try:
            if _libc.setns(ns_fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns into the sandbox's network: {os.strerror(err)}")
            made.append(socket.socket(family, kind, proto))
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)
        # The thread ends here, still in the sandbox's namespace: it is never reused.

    worker = threading.Thread(target=enter_and_make, name="aioagb-netns", daemon=True)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return made[0]


class NamespaceSockets:
    """Makes sockets in one sandbox's network namespace, whose file it keeps open for the
    agent it was confirmed with (a restarted agent is a new sandbox: a new namespace)."""

    def __init__(self) -> None:
        self._owner: object = None
        self._fd = -1
        self._lock = anyio.Lock()  # one open at a time; no socket is made from a closed fd

    async def socket(
        self,
        owner: object,
        namespace_pid: int,
        confirm: Callable[[], Awaitable[object]],
        family: int = socket.AF_INET,
    ) -> socket.socket:
        """A socket in the namespace of `namespace_pid`, the pid 1 of `owner` (the agent);
        `confirm()` must prove `owner` still alive (see the module's docstring)."""
        async with self._lock:
            if self._owner is not owner:
                self.close()
                fd = os.open(f"/proc/{namespace_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    await confirm()
                except BaseException:
                    os.close(fd)
                    raise
                self._owner, self._fd = owner, fd
            return await anyio.to_thread.run_sync(socket_in_namespace, self._fd, family)

    def close(self) -> None:
        """Closes the namespace's file (the sandbox is gone, or has a new agent)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._owner, self._fd = None, -1
