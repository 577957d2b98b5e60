"""A task group that lives as long as the aiohttp application, for background work such as
the idle reaper.

aiohttp starts and cleans up an application in two separate calls, which may come from
different tasks and from inside other cancel scopes (a test's timeout, a shielded exit).
anyio lets a cancel scope be exited only by the task that entered it, innermost first, so a
task group cannot stay open across those two calls in the caller's task. The group therefore
runs in one host task of its own: the only task started outside a task group, kept in
`self._host`, stopped and awaited by `aclose()`; never left running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import anyio

log = logging.getLogger("aioagb.server")

Job = Callable[[], Coroutine[Any, Any, None]]


class BackgroundTaskGroup:
    """An anyio task group hosted by one task of its own, started and closed from any task."""

    def __init__(self) -> None:
        self._host: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self, *jobs: Job) -> None:
        """Starts `jobs` in the group and returns once they are running; only once."""
        if self._host is not None:
            raise RuntimeError("already started")
        started = asyncio.Event()
        self._host = asyncio.get_running_loop().create_task(self._run(jobs, started))
        await started.wait()

    async def _run(self, jobs: tuple[Job, ...], started: asyncio.Event) -> None:
        async with anyio.create_task_group() as tg:
            for job in jobs:
                tg.start_soon(job)
            started.set()
            await self._stop.wait()
            tg.cancel_scope.cancel()

    async def aclose(self) -> None:
        """Cancels every job and waits for them to end."""
        host, self._host = self._host, None
        if host is None:
            return
        self._stop.set()
        try:
            await host
        except Exception:
            log.exception("a background job failed")
