"""`session.context`: the sync of the contexts mounted in one session (protocol §13.7, §13.8).

`info()` reads the session's sync tasks; `sync()` uploads (session -> context) or downloads
(context -> session) the mounts, or one of them, and waits until the server reports the
tasks done. Both have the official `ContextManager`'s names, arguments and results.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable

from .. import _protocol as p
from .. import _sync
from .. import _validate as v
from .._results import seed
from ..errors import ContextSyncError
from ..models import ContextInfoResult, ContextSyncResult
from ._channel import SessionChannel

logger = logging.getLogger("aioagb")

SyncCallback = Callable[[bool], "Awaitable[object] | object"]
MODES = (p.SYNC_UPLOAD, p.SYNC_DOWNLOAD)
TOGETHER = (
    "context_id and path must be provided together or both omitted. "
    "If you want to sync a specific context, both context_id and path are required. "
    "If you want to sync all contexts, omit both parameters."
)


def _filter(name: str, value: object) -> str | None:
    if value is None:
        return None
    return v.check_text(name, value, allow_empty=True).strip() or None


class ContextManager:
    """The context sync of one session (the official `session.context`)."""

    def __init__(self, channel: SessionChannel) -> None:
        self._channel = channel

    async def info(
        self,
        context_id: str | None = None,
        path: str | None = None,
        task_type: str | None = None,
    ) -> ContextInfoResult:
        """The session's sync tasks (`GET /sdk/GetContextInfo`), each filter only when
        given: `context_status_data` lists `ContextStatusData(context_id, path, status,
        task_type, error_message, ...)`; `Success` and `Failed` are the final statuses."""
        filters = (
            _filter("context_id", context_id),
            _filter("path", path),
            _filter("task_type", task_type),
        )
        channel = self._channel
        return await seed(
            ContextInfoResult, _sync.context_info(channel, channel.session_id, *filters)
        )

    async def sync(
        self,
        context_id: str | None = None,
        path: str | None = None,
        mode: str | None = None,
        callback: SyncCallback | None = None,
        max_retries: int = _sync.SYNC_POLL_ATTEMPTS,
        retry_interval: int = 1500,
    ) -> ContextSyncResult:
        """Sync the session's mounts with their contexts and wait until it is done.

        `mode` is `"upload"` (session -> context; the server's default) or `"download"`
        (context -> session). `context_id` and `path` (a mount's path, or a folder under
        it) sync one mount; omit both for every mount. The wait polls GetContextInfo every
        `retry_interval` milliseconds, at most `max_retries` times: `success` is False when
        a task failed (`error_message` says which) or the polls ran out.

        `callback(success)` is the official SDK's form, which polls in a thread and returns
        at once. Here the call returns once the wait is over, after calling `callback` with
        the outcome (a coroutine function is awaited), with `success=True` as the official
        call reports. For "in the background", run the call in your task group:
        `tg.start_soon(functools.partial(session.context.sync, callback=done))`.
        """
        context_id, path = _filter("context_id", context_id), _filter("path", path)
        if (context_id is None) != (path is None):
            raise v.fail(TOGETHER)
        if mode is not None and mode not in MODES:
            raise v.fail(f"mode must be 'upload' or 'download', got {mode!r}")
        if callback is not None and not callable(callback):
            raise v.fail(f"callback must be callable, got {type(callback).__name__}")
        attempts = v.check_positive_int("max_retries", max_retries)
        interval = v.check_positive_int("retry_interval", retry_interval) / 1000
        if callback is None:
            operation = self._sync(context_id, path, mode, attempts, interval)
            return await seed(ContextSyncResult, operation)
        started = await seed(ContextSyncResult, self._start(context_id, path, mode))
        if not started.success:
            return started  # as the official client: no callback when SyncContext failed
        waited = await seed(
            ContextSyncResult,
            self._wait(context_id, path, attempts, interval, started.request_id),
        )
        outcome = callback(waited.success)
        if inspect.isawaitable(outcome):
            await outcome
        return started

    async def _sync(
        self,
        context_id: str | None,
        path: str | None,
        mode: str | None,
        attempts: int,
        interval: float,
    ) -> ContextSyncResult:
        """Raising style: SyncContext, then wait for its tasks (`ContextSyncError`)."""
        started = await self._start(context_id, path, mode)
        return await self._wait(context_id, path, attempts, interval, started.request_id)

    async def _start(
        self, context_id: str | None, path: str | None, mode: str | None
    ) -> ContextSyncResult:
        channel = self._channel
        request_id = await _sync.start_sync(channel, channel.session_id, context_id, path, mode)
        return ContextSyncResult(request_id=request_id, success=True)

    async def _wait(
        self,
        context_id: str | None,
        path: str | None,
        attempts: int,
        interval: float,
        request_id: str,
    ) -> ContextSyncResult:
        channel = self._channel
        try:
            await _sync.wait_for_sync(
                channel, channel.session_id, context_id, path, interval=interval, attempts=attempts
            )
        except ContextSyncError as exc:
            exc.request_id = exc.request_id or request_id  # the sync's, for the result
            raise
        return ContextSyncResult(request_id=request_id, success=True)
