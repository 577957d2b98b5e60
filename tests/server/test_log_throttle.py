"""Repeated accept errors are logged once per interval (issue 16, point 1: a server out of
open files wrote 537 MB of "socket.accept() out of system resource" tracebacks in 4.5 min)."""

from __future__ import annotations

import asyncio
import errno
import logging

import pytest

from aioagb.server.log_throttle import (
    ACCEPT_ERROR,
    Throttle,
    ThrottledRecords,
    throttle_accept_errors,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _accept_errors(loop: asyncio.AbstractEventLoop, count: int) -> None:
    """What asyncio's accept loop does on each failed accept while out of open files."""
    for _ in range(count):
        error = OSError(errno.EMFILE, "Too many open files")
        loop.call_exception_handler({"message": ACCEPT_ERROR, "exception": error})


def test_accept_errors_are_logged_once_per_interval(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    thinning = ThrottledRecords(ACCEPT_ERROR, Throttle(10.0, clock=clock))
    # Only this filter: the process-wide one a server installed has its own clock.
    monkeypatch.setattr(logging.getLogger("asyncio"), "filters", [thinning])
    loop = asyncio.new_event_loop()  # its default exception handler logs to "asyncio"
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            _accept_errors(loop, 5000)
            clock.now += 10.0
            _accept_errors(loop, 5000)
            loop.call_exception_handler({"message": "something else"})
    finally:
        loop.close()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3
    assert messages[0].startswith(ACCEPT_ERROR)
    assert "(4999 more like this were not logged)" in messages[1]  # 4,999 + the first
    assert messages[2].startswith("something else")  # other records are untouched


def test_servers_install_the_accept_error_filter_once() -> None:
    throttle_accept_errors()
    throttle_accept_errors()
    installed = [f for f in logging.getLogger("asyncio").filters if isinstance(f, ThrottledRecords)]
    assert len(installed) == 1
