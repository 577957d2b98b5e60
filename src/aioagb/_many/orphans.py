"""Finding sessions whose create reached the server but whose answer the client never saw.

Every create carries two labels: `aioagb-client=<this client's random id>` and
`aioagb-create=<a random token for this create>`. When a create is cancelled, times out, loses
its connection or gets a 5xx without a session id, the client cannot know whether the server
made the session. It then, shielded and bounded:

1. lists the sessions labelled with that create token and deletes them (`recover`);
2. remembers the token if nothing was found: the server may still be working on the request
   (a slow create, or a create that waits behind others). On `aclose()`, the client lists the
   sessions labelled with its own id and deletes every one it never handed out (`sweep`),
   and does so again after a grace period if some tokens are still unaccounted for.

A session the client handed out (returned from `create`/`open_session`) is never touched by
the sweep, even if the user keeps it beyond the client's life.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import anyio

from .._protocol.replies import Reply, reply_error, session_ids_from
from .._protocol.requests import ApiRequest, list_sessions

logger = logging.getLogger("aioagb.orphans")

CLIENT_LABEL = "aioagb-client"
CREATE_LABEL = "aioagb-create"
LIST_PAGE = 100

Send = Callable[[ApiRequest], Awaitable[Reply]]
Delete = Callable[[str], Awaitable[bool]]


class OrphanTracker:
    """The create tokens of one client and the sessions it handed out (module docstring)."""

    def __init__(self) -> None:
        self.client_id = secrets.token_hex(8)
        self.handed_out: set[str] = set()  # ids returned to the user and not deleted by us
        self._unresolved: dict[str, float] = {}  # token -> when its create was sent

    def new_token(self) -> str:
        return secrets.token_hex(8)

    def labels(self, token: str) -> dict[str, str]:
        return {CLIENT_LABEL: self.client_id, CREATE_LABEL: token}

    @property
    def unresolved(self) -> int:
        return len(self._unresolved)

    async def recover(self, token: str, send: Send, delete: Delete) -> int:
        """Delete what a doubtful create made; remember the token if nothing turned up."""
        self._unresolved[token] = time.monotonic()
        try:
            found = await _list_all(send, {CREATE_LABEL: token})
        except Exception:  # recovery is best effort; the sweep tries again
            logger.debug("orphan lookup for a create failed", exc_info=True)
            return 0
        deleted = 0
        for session_id in found:
            if session_id not in self.handed_out and await delete(session_id):
                deleted += 1
        if found:
            del self._unresolved[token]
        return deleted

    async def sweep(self, send: Send, delete: Delete, grace_s: float) -> int:
        """Delete every session of this client that was never handed out (see module doc)."""
        if not self._unresolved:
            return 0
        deleted = await self._sweep_once(send, delete)
        wait = max(self._unresolved.values(), default=0.0) + grace_s - time.monotonic()
        if wait > 0:
            await anyio.sleep(wait)
            deleted += await self._sweep_once(send, delete)
        if self._unresolved:
            logger.debug(
                "%d create(s) left no trace on the server; they most likely never reached it",
                len(self._unresolved),
            )
            self._unresolved.clear()
        return deleted

    async def _sweep_once(self, send: Send, delete: Delete) -> int:
        try:
            found = await _list_all(send, {CLIENT_LABEL: self.client_id})
        except Exception:
            logger.warning("could not list this client's sessions to delete orphans", exc_info=True)
            return 0
        orphans = [i for i in found if i not in self.handed_out]
        return sum([await delete(session_id) for session_id in orphans])


async def _list_all(send: Send, labels: dict[str, str]) -> list[str]:
    found: list[str] = []
    token = ""
    while True:
        reply = await send(list_sessions(labels, LIST_PAGE, token))
        if not reply.success:
            raise reply_error(reply, reply.error_text("Failed to list sessions"))
        found += session_ids_from(reply)
        token = str(reply.field("nextToken") or "")
        if not token:
            return found
