"""A session's sync tasks as GetContextInfo reports them (agb-wire.md §13.7): the latest task
for each (context, path, task type), in progress until it ends `Success` or `Failed`.

Only the latest entry per key is kept: the clients wait for every entry they see to be
terminal, and an old `Failed` would fail every later sync of the same path (§13.10 item 6).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import attrs

from ... import _protocol as p

TASK_IN_PROGRESS = "InProgress"  # any non-terminal status keeps the clients polling


@attrs.define
class Task:
    """One sync task's entry."""

    context_id: str
    path: str  # echoed exactly as the client sent it
    task_type: str  # SYNC_UPLOAD or SYNC_DOWNLOAD
    status: str = TASK_IN_PROGRESS
    error: str = ""
    started: int = 0  # Unix seconds
    finished: int = 0

    def wire(self) -> dict[str, object]:
        return {
            "contextId": self.context_id,
            "path": self.path,
            "errorMessage": self.error,
            "status": self.status,
            "startTime": self.started,
            "finishTime": self.finished,
            "taskType": self.task_type,
        }


class StatusBoard:
    """The latest task per (context, path, task type) of one session."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tasks: dict[tuple[str, str, str], Task] = {}

    def start(self, context_id: str, path: str, task_type: str) -> Task:
        """Records a task starting now (replacing the previous one of its key)."""
        task = Task(context_id, path, task_type, started=int(self._clock()))
        self._tasks[(context_id, path, task_type)] = task
        return task

    def finish(self, task: Task, error: str | None = None) -> None:
        """Ends `task`: `Success`, or `Failed` with the error."""
        task.status = p.TASK_FAILED if error else p.TASK_SUCCESS
        task.error = error or ""
        task.finished = int(self._clock())

    def render(
        self,
        context_id: str | None = None,
        path: str | None = None,
        task_type: str | None = None,
    ) -> str:
        """`data.contextStatus`: "" when nothing matches, else a JSON string of one `data`
        item whose `data` is again a JSON string of the entries (§13.7's double encoding)."""
        entries = [
            task.wire()
            for task in self._tasks.values()
            if (context_id is None or task.context_id == context_id)
            and (path is None or task.path == path)
            and (task_type is None or task.task_type == task_type)
        ]
        if not entries:
            return ""
        return json.dumps([{"type": "data", "data": json.dumps(entries, ensure_ascii=False)}])
