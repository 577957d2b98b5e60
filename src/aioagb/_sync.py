"""A session's context sync on the engine (docs/protocol.md §13.6–§13.8, §14), raising style.

What `session.context`, create (the wait for the first download), delete with
`sync_context=True`, the auto-upload when a session context ends, and file transfer share:
read the sync tasks (GetContextInfo), start a sync (SyncContext) and wait for tasks to end.
Each function takes a `Sender`: the client's engine, or a session's channel (which also
notes a session found gone).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from . import _protocol as p
from ._polling import poll
from ._protocol import requests as rq
from ._protocol.replies import Reply, context_status_from, reply_error
from .errors import APIError, ContextSyncError, TransportError
from .models import ContextInfoResult, ContextStatusData

logger = logging.getLogger("aioagb")

SYNC_TASK_TYPES = frozenset({p.SYNC_UPLOAD, p.SYNC_DOWNLOAD})
TERMINAL = frozenset({p.TASK_SUCCESS, p.TASK_FAILED})
# The official defaults: a sync polls every 1.5 s, at most 150 times (§13.8); the wait after
# create every 2 s, at most 150 times (§13.6).
SYNC_POLL_INTERVAL_S, SYNC_POLL_ATTEMPTS = 1.5, 150
CREATE_POLL_INTERVAL_S, CREATE_POLL_ATTEMPTS = 2.0, 150
# The file-transfer wait's idea of "done" (§14.2 step 5), compared in lower case.
FINISHED_STATES = frozenset(
    {"success", "successful", "ok", "finished", "done", "completed", "complete"}
)


class Sender(Protocol):
    """What the functions here send with: `Engine` or `SessionChannel`."""

    async def expect(
        self, request: rq.ApiRequest, fallback: str, *, exactly_200: bool = False
    ) -> Reply: ...


async def context_info(
    sender: Sender,
    session_id: str,
    context_id: str | None = None,
    path: str | None = None,
    task_type: str | None = None,
) -> ContextInfoResult:
    """GetContextInfo (§13.7): the session's sync tasks, filtered as given."""
    request = rq.get_context_info(session_id, context_id, path, task_type)
    reply = await sender.expect(request, "HTTP {status} error", exactly_200=True)
    try:
        tasks = context_status_from(reply)
    except ValueError as exc:
        raise reply_error(reply, f"Unexpected error parsing context status: {exc}") from None
    return ContextInfoResult(request_id=reply.request_id, success=True, context_status_data=tasks)


async def start_sync(
    sender: Sender,
    session_id: str,
    context_id: str | None = None,
    path: str | None = None,
    mode: str | None = None,
) -> str:
    """SyncContext (§13.8); the request id. Without `mode` the server uploads."""
    request = rq.sync_context(session_id, context_id, path, mode)
    reply = await sender.expect(request, "HTTP {status} error", exactly_200=True)
    return reply.request_id


async def wait_for_sync(
    sender: Sender,
    session_id: str,
    context_id: str | None = None,
    path: str | None = None,
    *,
    interval: float = SYNC_POLL_INTERVAL_S,
    attempts: int = SYNC_POLL_ATTEMPTS,
) -> list[ContextStatusData]:
    """Poll GetContextInfo (with the same filters, no task type) until every upload and
    download task is `Success` or `Failed` (§13.8); the tasks. No task at all counts as done.

    Raises `ContextSyncError` when a task failed or the polls ran out, and the typed error of
    a GetContextInfo that fails (the official client reads that as "no tasks": success)."""

    last: list[ContextStatusData] = []

    async def tasks_if_done() -> list[ContextStatusData] | None:
        nonlocal last
        info = await context_info(sender, session_id, context_id, path)
        last = [t for t in info.context_status_data if t.task_type in SYNC_TASK_TYPES]
        return last if all(t.status in TERMINAL for t in last) else None

    tasks = await poll(tasks_if_done, interval=interval, attempts=attempts)
    if tasks is None:
        raise ContextSyncError(
            f"Context sync did not finish after {attempts} polls ({interval:g} s apart)",
            details={"context_status_data": last},
        )
    raise_if_failed(tasks)
    return tasks


def raise_if_failed(tasks: Sequence[ContextStatusData]) -> None:
    """`ContextSyncError` naming the first `Failed` task, if any."""
    failed = [t for t in tasks if t.status == p.TASK_FAILED]
    if failed:
        first = failed[0]
        reason = first.error_message or "no reason given"
        raise ContextSyncError(
            f"Context sync failed ({first.task_type} of {first.context_id} at {first.path}): "
            f"{reason}",
            details={"context_status_data": list(tasks)},
        )


async def wait_for_task(
    sender: Sender,
    session_id: str,
    context_id: str,
    path: str,
    task_type: str,
    *,
    interval: float,
    timeout: float,
) -> None:
    """The file-transfer wait (§14.2 step 5): poll GetContextInfo filtered by context, path
    and task type every `interval` seconds until the task whose path is exactly `path` is
    finished. Raises `ContextSyncError` ("Task error: ..." or "task not finished")."""

    async def done() -> bool | None:
        info = await context_info(sender, session_id, context_id, path, task_type)
        for task in info.context_status_data:
            if (task.context_id, task.path, task.task_type) != (context_id, path, task_type):
                continue
            if task.error_message or task.status == p.TASK_FAILED:
                raise ContextSyncError(f"Task error: {task.error_message or task.status}")
            if task.status.lower() in FINISHED_STATES:
                return True
        return None

    attempts = int(timeout / interval) + 1
    if await poll(done, interval=interval, attempts=attempts, timeout=timeout) is None:
        raise ContextSyncError("task not finished")


async def wait_for_initial_sync(sender: Sender, session_id: str) -> list[ContextStatusData]:
    """The wait after a create that mounted contexts (§3.1, §13.6): poll GetContextInfo at
    once, then every 2 s, at most 150 times, until every task (of any type) is terminal or
    there are none. A failing call ends the wait, and `Failed` tasks do not fail the create,
    as in the official client; both are logged. Returns the tasks as last read."""
    last: list[ContextStatusData] = []

    async def settled() -> bool | None:
        nonlocal last
        last = (await context_info(sender, session_id)).context_status_data
        return True if all(t.status in TERMINAL for t in last) else None

    try:
        done = await poll(settled, interval=CREATE_POLL_INTERVAL_S, attempts=CREATE_POLL_ATTEMPTS)
    except (APIError, TransportError) as exc:
        logger.warning("session %s: could not read its context sync status: %s", session_id, exc)
        return last
    if done is None:
        logger.warning("session %s: its contexts were still downloading after the wait", session_id)
    for task in last:
        if task.status == p.TASK_FAILED:
            logger.warning(
                "session %s: downloading context %s to %s failed: %s",
                session_id,
                task.context_id,
                task.path,
                task.error_message,
            )
    return last
