"""Polling: the one way the SDK waits for the server to finish something (a delete, a context
sync, a clear) or watches for changes.

A poll that finds "not yet" is not a failure, so polling does not go through stamina's retry
loop: stamina would log every wait as a scheduled retry (at WARNING, by default) and count it
in its retry metrics, a line a second for a directory watcher. It follows stamina's testing
mode all the same (`stamina.set_testing(True)`): then the waits are instant, so the tests of
everything that polls run at once.

Bounded by a number of polls and/or a time; cancellable at every wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import stamina

T = TypeVar("T")

# The wait itself; a seam for the tests that check the intervals.
_sleep: Callable[[float], Awaitable[None]] = anyio.sleep


async def poll(
    check: Callable[[], Awaitable[T | None]],
    *,
    interval: float,
    attempts: int | None,
    timeout: float | None = None,  # noqa: ASYNC109 - a bound, applied by move_on_after
    immediately: bool = True,
    max_interval: float | None = None,
) -> T | None:
    """Await `check()` at once (or, with `immediately=False`, after `interval` seconds), then
    again after each wait, until it returns something other than None, which is returned.
    The wait is `interval`, doubling up to `max_interval` when that is given. None when
    `attempts` polls (None: no limit) or `timeout` seconds (None: no limit) run out first.
    Exceptions from `check` propagate."""
    with anyio.move_on_after(timeout if timeout is not None else float("inf")):
        wait = interval
        done = 0
        if not immediately:
            await _wait(wait)
        while attempts is None or done < attempts:
            value = await check()
            done += 1
            if value is not None:
                return value
            if attempts is not None and done >= attempts:
                break
            await _wait(wait)
            if max_interval is not None:
                wait = min(wait * 2, max_interval)
    return None


async def _wait(seconds: float) -> None:
    if stamina.is_testing():
        await anyio.lowlevel.checkpoint()  # instant, but still a point to cancel at
    else:
        await _sleep(seconds)
