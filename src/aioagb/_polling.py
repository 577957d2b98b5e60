"""Polling at a fixed interval, on stamina's retry loop: the one way the SDK waits for the
server to finish something (a context sync, a clear) or watches for changes.

Bounded by a number of polls and/or a time; cancellable at every wait. stamina's testing mode
(`stamina.set_testing(True)`) makes the waits instant, so tests of polling run at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import stamina

T = TypeVar("T")


class _NotYet(Exception):
    """The condition does not hold yet: poll again after the interval."""


async def poll(
    check: Callable[[], Awaitable[T | None]],
    *,
    interval: float,
    attempts: int | None,
    timeout: float | None = None,
    immediately: bool = True,
) -> T | None:
    """Await `check()` at once (or, with `immediately=False`, after `interval` seconds),
    then every `interval` seconds, until it returns something other than None, which is
    returned. None when `attempts` polls (None: no limit) or `timeout` seconds (None: no
    limit) run out first. Exceptions from `check` propagate."""
    if not immediately and attempts is not None:
        attempts += 1  # the first attempt only waits

    def wait(exc: Exception) -> bool | float:
        return interval if isinstance(exc, _NotYet) else False

    try:
        async for attempt in stamina.retry_context(
            on=wait,
            attempts=attempts,
            timeout=timeout,
            wait_initial=interval,
            wait_max=interval,
            wait_jitter=0,
        ):
            with attempt:
                if not immediately and attempt.num == 1:
                    raise _NotYet
                value = await check()
                if value is None:
                    raise _NotYet
                return value
    except _NotYet:
        return None  # out of polls (stamina re-raises the last _NotYet)
    return None
