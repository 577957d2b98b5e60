"""Many sessions at once: batch creation and deletion, bounded and leak-free.

All of it runs in anyio task groups under a `CapacityLimiter`, so `concurrency` requests at
most are in flight, and every session a batch created is either handed to the caller or
deleted before the call returns or raises, also when the caller is cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import anyio
import attrs

from . import _validate as v
from .errors import AGBError, SessionBatchError
from .models import CreateSessionParams
from .session import AsyncSession

if TYPE_CHECKING:
    from .client import AsyncAGB

log = logging.getLogger("aioagb.batch")

DEFAULT_CONCURRENCY = 16


@attrs.frozen(slots=True)
class BatchFailure:
    index: int  # which of the `count` creations failed
    error: Exception


@attrs.frozen(slots=True)
class BatchResult:
    """What a partial batch produced: the sessions created, in order, and the failures."""

    sessions: Sequence[AsyncSession]
    failures: Sequence[BatchFailure]


def check_concurrency(concurrency: object) -> int:
    return v.check_positive_int("concurrency", concurrency)


async def create_many(
    agb: AsyncAGB,
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
                created[index] = await agb.open_session(params)
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
        await delete_sessions(created.values(), concurrency=concurrency)
        failures.sort(key=lambda f: f.index)
        raise SessionBatchError(
            f"{len(failures)} of {count} session creations failed; the "
            f"{len(created)} sessions already created were deleted. First error: "
            f"{failures[0].error}",
            failures,
        )
    return BatchResult(
        sessions=[created[i] for i in sorted(created)],
        failures=sorted(failures, key=lambda f: f.index),
    )


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
    if not all(isinstance(session, AsyncSession) for session in sessions):
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
