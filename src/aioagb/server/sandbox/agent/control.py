"""How the server steers a running call from outside the thread that runs it: it can cancel
the call, and it gives a streaming call the credits that its events spend.

Credits are the agent's half of the streaming backpressure: every event sent to the server
spends one, and the server grants one back each time its consumer takes an event. So the
server never holds more events of a call than it granted, and a slow consumer stops the
agent from reading the cell's output, which in turn blocks the cell once its pipe is full:
nothing buffers without bound anywhere between the cell and a slow WebSocket reader.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable

from .jsonlines import JSONDict

CREDIT_WAIT_SLICE_S = 1.0  # how often a waiting emit re-reads the clock


class RunControl:
    """Cancel flag, wake-up pipe and (when streaming) event credits of one call."""

    def __init__(self, send: Callable[[JSONDict], None] | None = None, credits: int = 0) -> None:
        """`send` writes one event to the server; None for a call that does not stream."""
        self._send = send
        self._credits = credits
        self._cond = threading.Condition()
        self.cancelled = False
        self._closed = False
        # Past this moment (monotonic), an event waits no longer for a credit: the call is
        # being ended, and what it still prints is dropped. The executor sets it.
        self.deadline = math.inf
        # A byte appears here on cancel, so a `select` over the call's pipes wakes at once.
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._wake_w, False)

    @property
    def streaming(self) -> bool:
        """Whether the call's output goes out as events while it runs."""
        return self._send is not None

    def cancel(self) -> None:
        """Ends the call's wait for credits and wakes its pump; the executor interrupts it."""
        with self._cond:
            self.cancelled = True
            self._cond.notify_all()
            if self._closed:
                return  # its fds are closed, and their numbers may be someone else's now
            with contextlib.suppress(OSError):  # a full pipe: it has been woken already
                os.write(self._wake_w, b"x")

    def grant(self, n: int) -> None:
        """The server took `n` events: that many more may be sent."""
        with self._cond:
            self._credits += max(0, n)
            self._cond.notify_all()

    def emit(self, event: JSONDict) -> None:
        """Sends one event once a credit is free. Dropped when the call is cancelled, or when
        no credit comes before `deadline` (the call is over; the server stopped reading)."""
        if self._send is None:
            raise RuntimeError("emit on a call that does not stream")
        with self._cond:
            while self._credits <= 0 and not self.cancelled:
                wait = self.deadline - time.monotonic()
                if wait <= 0:
                    return
                self._cond.wait(min(wait, CREDIT_WAIT_SLICE_S))
            if self.cancelled:
                return
            self._credits -= 1
        self._send(event)

    def clear_wake(self) -> None:
        """Empties the wake-up pipe (after a `select` returned it)."""
        with contextlib.suppress(OSError):
            while os.read(self.wake_fd, 64):
                pass

    def close(self) -> None:
        """Closes the wake-up pipe (the call has ended)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            for fd in (self.wake_fd, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)


class Controls:
    """The running calls that can be steered, by request id (the server names them so)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[object, RunControl] = {}

    def add(self, rid: object, control: RunControl) -> None:
        """Makes `control` reachable under the request id `rid` while its call runs."""
        with self._lock:
            self._by_id[rid] = control

    def remove(self, rid: object) -> None:
        """Forgets the call `rid` (it has replied)."""
        with self._lock:
            self._by_id.pop(rid, None)

    def get(self, rid: object) -> RunControl | None:
        """The control of the running call `rid`, if it still runs."""
        with self._lock:
            return self._by_id.get(rid)


CONTROLS = Controls()
