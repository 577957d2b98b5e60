"""Log records that repeat in bursts, thinned: the first of a kind goes through, then at most
one per interval, saying how many were left out since.

Some failures repeat thousands of times a second while they last. asyncio logs "socket.accept()
out of system resource", with a traceback, on every attempt to accept while the process is out
of open files, and its accept loop retries up to `backlog` times per event-loop tick (CPython
3.11's `_accept_connection` does not stop after the first EMFILE): one probe wrote 537 MB of
log in 4.5 minutes. A flood of refused connections would likewise log one line each. One
record per interval says as much, and keeps the log and the disk under it small.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

ACCEPT_ERROR = "socket.accept() out of system resource"  # asyncio's message, verbatim
DEFAULT_INTERVAL_S = 10.0


class Throttle:
    """Decides which of a burst of events to report: the first, then one per interval."""

    def __init__(
        self, interval_s: float = DEFAULT_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._next = float("-inf")
        self._left_out = 0

    def admit(self) -> int | None:
        """None: leave this event out. Otherwise report it, along with the returned number of
        events left out since the last one reported."""
        now = self._clock()
        if now < self._next:
            self._left_out += 1
            return None
        self._next = now + self._interval_s
        left_out, self._left_out = self._left_out, 0
        return left_out


class ThrottledRecords(logging.Filter):
    """A logging filter that thins the records whose message starts with `prefix`."""

    def __init__(self, prefix: str, throttle: Throttle | None = None) -> None:
        super().__init__()
        self._prefix = prefix
        self._throttle = throttle or Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith(self._prefix):
            return True
        left_out = self._throttle.admit()
        if left_out is None:
            return False
        if left_out:
            record.msg = f"{record.getMessage()}\n({left_out} more like this were not logged)"
            record.args = ()
        return True


_ACCEPT_ERRORS = ThrottledRecords(ACCEPT_ERROR)


def throttle_accept_errors() -> None:
    """Thins asyncio's accept-error records for this process (idempotent: one filter)."""
    logging.getLogger("asyncio").addFilter(_ACCEPT_ERRORS)
