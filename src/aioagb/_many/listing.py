"""Every matching session, page by page, and bulk deletion of what matches.

`AsyncAGB.list()` mirrors the official client, which reaches page N by walking from page 1
(N requests, §3.4). `iter_sessions` follows `next_token` instead: one request per page, each
session exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import anyio
import attrs

from .. import _protocol as p
from .. import _validate as v
from .._engine import Engine
from .._protocol.replies import reply_error
from .._protocol.requests import list_sessions

DeleteById = Callable[[str], Awaitable[bool]]

DEFAULT_PAGE_SIZE = 50


@attrs.frozen(slots=True)
class SessionInfo:
    """One entry of a listing: the session id and the status the server reported."""

    session_id: str
    status: str


async def iter_sessions(
    engine: Engine, labels: Mapping[str, str] | None, page_size: int
) -> AsyncIterator[SessionInfo]:
    """Every session whose labels include `labels`, following `nextToken` to the end."""
    wanted = v.check_labels(labels, allow_empty=True)
    v.check_positive_int("page_size", page_size, maximum=v.MAX_LIST_LIMIT)
    token = ""
    while True:
        reply = await engine.send(list_sessions(wanted, page_size, token))
        if not (reply.status == 200 and reply.success):
            raise reply_error(reply, reply.error_text("Failed to list sessions"))
        for item in reply.data if isinstance(reply.data, list) else []:
            session_id = item.get(p.B_SESSION_ID) if isinstance(item, dict) else None
            if isinstance(session_id, str) and session_id:  # skip entries without an id (§3.4)
                yield SessionInfo(session_id, str(item.get("sessionStatus") or ""))
        token = str(reply.field(p.KEY_NEXT_TOKEN) or "")
        if not token:
            return


async def delete_all(
    engine: Engine,
    delete: DeleteById,
    labels: Mapping[str, str] | None,
    concurrency: int,
    page_size: int,
) -> int:
    """Collect the matching ids first (deleting while paging would move page boundaries),
    then delete them, `concurrency` at a time. Returns how many were deleted."""
    v.check_positive_int("concurrency", concurrency)
    ids = [info.session_id async for info in iter_sessions(engine, labels, page_size)]
    deleted = 0
    limiter = anyio.CapacityLimiter(concurrency)

    async def delete_one(session_id: str) -> None:
        nonlocal deleted
        async with limiter:
            if await delete(session_id):  # a failure is logged with its reason
                deleted += 1

    async with anyio.create_task_group() as tg:
        for session_id in ids:
            tg.start_soon(delete_one, session_id)
    return deleted
