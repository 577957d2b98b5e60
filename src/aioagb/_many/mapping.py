"""One session per item, pipelined: each task creates its session, runs the caller's function
in it and deletes it, `concurrency` tasks at a time.

Unlike a batch (`agb.sessions(count=N)`: every create, then the work, then every delete),
the creates, the work and the deletes of different items overlap, as they do for one thread
per session; on AGB Local, where each sandbox's start costs CPU, that keeps the machine busy
with starts while other sessions wait on the network (docs/benchmarks.md, "Sandboxes that are
ready at once").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .. import _validate as v
from ..errors import add_note
from ..models import CreateSessionParams
from .batch import check_concurrency

if TYPE_CHECKING:
    from ..session import AsyncSession

T = TypeVar("T")
R = TypeVar("R")

# `agb.session(params)`: the session, deleted on every way out of the block.
SessionScope = Callable[[CreateSessionParams], AbstractAsyncContextManager["AsyncSession"]]


async def map_sessions(
    session_scope: SessionScope,
    fn: Callable[[AsyncSession, T], Awaitable[R]],
    items: Iterable[T],
    params: CreateSessionParams,
    *,
    concurrency: int,
    return_exceptions: bool = False,
) -> list[Any]:
    """`[await fn(session, item) for item in items]`, each in a session of its own that is
    deleted when `fn` returns or raises, at most `concurrency` sessions at a time; the results
    in the items' order.

    The first exception (of a create, of `fn` or of a delete) cancels the other items (their
    sessions are deleted too) and is raised as it is, with a note naming its item; with
    `return_exceptions=True` nothing is cancelled and each failed item's exception takes its
    place in the results, as with `asyncio.gather`.
    """
    if not isinstance(params, CreateSessionParams):
        raise v.fail(f"params must be CreateSessionParams, got {type(params).__name__}")
    if not callable(fn):
        raise v.fail(f"fn must be a coroutine function (session, item), got {type(fn).__name__}")
    check_concurrency(concurrency)
    todo = list(items)
    results: list[Any] = [None] * len(todo)
    failed: list[tuple[int, Exception]] = []
    limiter = anyio.CapacityLimiter(concurrency)

    async def run_one(index: int, item: T, scope: anyio.CancelScope) -> None:
        async with limiter:
            try:
                async with session_scope(params) as session:
                    results[index] = await fn(session, item)
            except Exception as exc:
                if return_exceptions:
                    results[index] = exc
                    return
                failed.append((index, exc))
                scope.cancel()

    async with anyio.create_task_group() as tg:
        for index, item in enumerate(todo):
            tg.start_soon(run_one, index, item, tg.cancel_scope)
    if failed:
        index, exc = failed[0]
        add_note(
            exc,
            f"aioagb: raised for item {index} of {len(todo)} in map_sessions; the items "
            "still running were cancelled and their sessions deleted",
        )
        for other, later in failed[1:]:  # e.g. a delete that failed while cancelled
            add_note(exc, f"aioagb: item {other} failed too: {later!r}")
        raise exc
    return results
