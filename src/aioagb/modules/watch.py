"""Watching a directory of the session for changes (protocol §4.5 `get_file_change`, §16.3).

The server reports the changes in a directory since the previous `get_file_change` call for
it; the first call only sets the baseline. Two ways to use it:

* `async for changes in session.file.watch(path, interval=1.0)`: the async-native form. Each
  item is a non-empty list of `FileChangeEvent`; a failed poll raises its typed error.
* `session.file.watch_dir(path, callback, interval=1.0)`: the official form, which returns an
  unstarted thread. Here it returns an unstarted `DirectoryWatcher`: a task you run in your
  own task group (`await tg.start(watcher.run)`) or as `async with watcher:`, never a thread
  or a task nobody owns.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import anyio
from anyio.abc import TaskStatus

from .. import _protocol as p
from .. import _validate as v
from .._polling import poll
from .._protocol.replies import file_changes_from
from .._results import seed
from ..errors import NotFoundError
from ..models import FileChangeEvent, FileChangeResult
from ._channel import SessionChannel

logger = logging.getLogger("aioagb")

ChangeCallback = Callable[[list[FileChangeEvent]], object]  # may be a coroutine function


class StopEvent(Protocol):
    """What `watch_dir(stop_event=...)` accepts: an `anyio.Event` or an `asyncio.Event`."""

    def is_set(self) -> bool: ...
    def set(self) -> object: ...
    async def wait(self) -> object: ...


async def file_change(channel: SessionChannel, path: str) -> FileChangeResult:
    """One `get_file_change` call, raising style. Not retried: a repeated call would lose
    the changes the first one consumed."""
    answer = await channel.call(p.TOOL_GET_FILE_CHANGE, {"path": path}, idempotent=False)
    text = answer.text or ""
    return FileChangeResult(
        request_id=answer.request_id, success=True, events=file_changes_from(text), raw_data=text
    )


async def changes(
    channel: SessionChannel, path: str, interval: float
) -> AsyncIterator[list[FileChangeEvent]]:
    """`session.file.watch()`: the baseline, then every non-empty batch of changes."""
    await file_change(channel, path)

    async def batch() -> list[FileChangeEvent] | None:
        return (await file_change(channel, path)).events or None

    while True:
        events = await poll(batch, interval=interval, attempts=None, immediately=False)
        if events is None:
            return  # out of polls: only when stamina's testing mode caps them
        yield events


def session_ended(result: FileChangeResult) -> bool:
    """Whether a failed poll means the session is gone: not found, or the official rule (the
    error mentions the session as expired or invalid, §16.3)."""
    text = result.error_message.lower()
    return isinstance(result.exception, NotFoundError) or (
        "session" in text and ("expired" in text or "invalid" in text)
    )


class DirectoryWatcher:
    """A directory watch that calls `callback(events)` for every non-empty batch of changes.

    Made unstarted by `session.file.watch_dir()`. Run it one of two ways:

        async with session.file.watch_dir("/data", on_change) as watcher:
            ...  # the baseline is set: changes made now are reported

        async with anyio.create_task_group() as tg:
            watcher = session.file.watch_dir("/data", on_change)
            await tg.start(watcher.run)  # returns once the baseline is set
            ...
            watcher.stop()

    `ready_event` is set once the baseline is established (the official `ready_event`);
    `stop_event` stops it (the official `stop_event`, here an anyio or asyncio event). It also
    stops when the session is gone. A failed poll is logged and polling goes on; an exception
    from the callback is logged too (as the official watcher does), so one bad batch does not
    end the watch.
    """

    def __init__(
        self,
        channel: SessionChannel,
        path: str,
        callback: ChangeCallback,
        interval: float,
        stop_event: StopEvent | None,
    ) -> None:
        self._channel = channel
        self.path = path
        self.callback = callback
        self.interval = interval
        self.stop_event: StopEvent = stop_event if stop_event is not None else anyio.Event()
        self.ready_event = anyio.Event()
        self._group: anyio.abc.TaskGroup | None = None

    def stop(self) -> None:
        """Stop watching (sets `stop_event`); `run()` returns soon after."""
        self.stop_event.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch until stopped or the session is gone. With `tg.start(watcher.run)`, the
        start returns once the baseline is set."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._stop_on_event, group.cancel_scope)
            await seed(FileChangeResult, file_change(self._channel, self.path))  # baseline
            self.ready_event.set()
            task_status.started()
            await poll(self._tick, interval=self.interval, attempts=None, immediately=False)
            group.cancel_scope.cancel()

    async def _stop_on_event(self, scope: anyio.CancelScope) -> None:
        await self.stop_event.wait()
        scope.cancel()

    async def _tick(self) -> bool | None:
        """One poll: the callback on changes; True (stop) when the session is gone."""
        result = await seed(FileChangeResult, file_change(self._channel, self.path))
        if not result.success:
            if session_ended(result):
                logger.info("stopped watching %s: the session is gone", self.path)
                return True
            logger.warning("watching %s: %s", self.path, result.error_message)
            return None
        if result.events:
            try:
                outcome = self.callback(result.events)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                logger.exception("watching %s: the callback raised", self.path)
        return None

    async def __aenter__(self) -> DirectoryWatcher:
        group = anyio.create_task_group()
        await group.__aenter__()
        try:
            await group.start(self.run)
        except BaseException as exc:
            await group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._group = group
        return self

    async def __aexit__(self, *exc_info: object) -> bool | None:
        self.stop()
        group, self._group = self._group, None
        if group is None:
            return None
        return await group.__aexit__(*exc_info)  # type: ignore[arg-type]


def check_watch_args(path: object, interval: object) -> tuple[str, float]:
    """Checked before anything is sent."""
    return v.check_path("path", path), v.check_seconds("interval", interval)


def check_stop_event(stop_event: object) -> StopEvent | None:
    if stop_event is None:
        return None
    if not inspect.iscoroutinefunction(getattr(stop_event, "wait", None)) or not callable(
        getattr(stop_event, "set", None)
    ):
        raise v.fail(
            "stop_event must be an anyio.Event or asyncio.Event (a threading.Event cannot be "
            f"awaited), got {type(stop_event).__name__}"
        )
    return stop_event  # type: ignore[return-value]
