"""Many sessions at once: batch creation and deletion, bounded and leak-free.

All of it runs in anyio task groups under a `CapacityLimiter`, so `concurrency` requests at
most are in flight, and every session a batch created is either handed to the caller or
deleted before the call returns or raises, also when the caller is cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import anyio
import attrs

from .. import _validate as v
from ..errors import AGBError, BatchFailure, SessionBatchError
from ..models import CreateSessionParams

if TYPE_CHECKING:
    from ..session import AsyncSession

log = logging.getLogger("aioagb.batch")

DEFAULT_CONCURRENCY = 16

OpenSession = Callable[[CreateSessionParams], Awaitable["AsyncSession"]]

__all__ = ["BatchFailure", "BatchResult", "create_many", "delete_sessions"]


@attrs.frozen(slots=True)
class BatchResult:
    """What a partial batch produced: the sessions created, in order, and the failures."""

    sessions: Sequence[AsyncSession]
    failures: Sequence[BatchFailure]


def check_concurrency(concurrency: object) -> int:
    return v.check_positive_int("concurrency", concurrency)


async def create_many(
    open_session: OpenSession,
    params: CreateSessionParams,
    count: int,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    partial: bool = False,
) -> BatchResult:
    """Creates `count` sessions, `concurrency` at a time.

    All-or-nothing (the default): the first failure cancels the creations still running,
    every session already created is deleted, and `SessionBatchError` lists each cause.
    With `partial=True` nothing is cancelled or deleted: the result holds the sessions that
    were created and the failures.
    """
    if not isinstance(params, CreateSessionParams):
        raise v.fail(f"params must be CreateSessionParams, got {type(params).__name__}")
    v.check_non_negative_int("count", count)
    check_concurrency(concurrency)
    created: dict[int, AsyncSession] = {}
    failures: list[BatchFailure] = []
    limiter = anyio.CapacityLimiter(concurrency)

    async def create_one(index: int, tg_scope: anyio.CancelScope) -> None:
        async with limiter:
            try:
                created[index] = await open_session(params)
            except AGBError as exc:
                failures.append(BatchFailure(index, exc))
                if not partial:
                    tg_scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            for index in range(count):
                tg.start_soon(create_one, index, tg.cancel_scope)
    except BaseException:
        await delete_sessions(created.values(), concurrency=concurrency)
        raise
    if failures and not partial:
        made = list(created.values())
        cleanup = await delete_sessions(made, concurrency=concurrency)
        undeleted = {made[f.index].session_id for f in cleanup}
        deleted = [s.session_id for s in made if s.session_id not in undeleted]
        failures.sort(key=lambda f: f.index)
        raise SessionBatchError(
            f"{len(failures)} of {count} session creations failed; "
            + _cleanup_report(deleted, sorted(undeleted))
            + f" First error: {failures[0].error}",
            failures,
            deleted=deleted,
            not_deleted=sorted(undeleted),
        )
    return BatchResult(
        sessions=[created[i] for i in sorted(created)],
        failures=sorted(failures, key=lambda f: f.index),
    )


def _is_session(obj: object) -> bool:
    # Structural: the session layer sits above this one (import-linter keeps it so).
    return isinstance(getattr(obj, "session_id", None), str) and callable(
        getattr(obj, "aclose", None)
    )


def _cleanup_report(deleted: Sequence[str], undeleted: Sequence[str]) -> str:
    """What became of the sessions a failed batch had created, with their ids."""
    report = f"of the {len(deleted) + len(undeleted)} sessions already created, "
    report += f"{len(deleted)} were deleted"
    if undeleted:
        report += f" and {len(undeleted)} could not be and may still exist ({', '.join(undeleted)})"
    return report + "."


async def delete_sessions(
    sessions: Iterable[AsyncSession],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[BatchFailure]:
    """Deletes sessions concurrently, shielded from cancellation. Returns the failures.

    Shielded because this is cleanup: a cancelled caller must not leave sessions behind.
    Each delete is bounded by the client's own delete timeout.
    """
    sessions = list(sessions)
    if not all(_is_session(session) for session in sessions):
        raise v.fail("sessions must be AsyncSession objects")
    # Checked here, not by CapacityLimiter: 0 would wait forever, shielded.
    check_concurrency(concurrency)
    failures: list[BatchFailure] = []
    limiter = anyio.CapacityLimiter(concurrency)

    async def delete_one(index: int, session: AsyncSession) -> None:
        async with limiter:
            try:
                await session.aclose()
            except AGBError as exc:
                log.warning("could not delete session %s: %s", session.session_id, exc)
                failures.append(BatchFailure(index, exc))

    with anyio.CancelScope(shield=True):
        async with anyio.create_task_group() as tg:
            for index, session in enumerate(sessions):
                tg.start_soon(delete_one, index, session)
    return failures
