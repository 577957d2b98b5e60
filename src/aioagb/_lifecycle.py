"""Creating and deleting sessions on the engine, leak-free, in raising style.

`Lifecycle` is what the facade, the sessions and the listing share: create (with the orphan
bookkeeping of `_many.orphans` and stamina's retries of doubtful creates), delete (release,
then poll until the server reports the session gone), and the sweep of orphans at close.
"""

from __future__ import annotations

import logging

import anyio
import attrs
import stamina

from . import _protocol as p
from ._engine import Engine
from ._hooks import SessionEvent
from ._many.orphans import OrphanTracker
from ._polling import poll
from ._protocol.replies import (
    Reply,
    SessionData,
    is_not_found,
    release_outcome,
    reply_error,
    session_data_from,
)
from ._protocol.requests import create_session, get_session_status, release_session
from ._retry import stamina_backoff
from ._sync import wait_for_initial_sync
from .context_sync import mounted
from .errors import (
    AGBError,
    ClientClosedError,
    ConnectError,
    RequestTimeoutError,
    SessionDeleteError,
    TransportError,
)
from .models import CreateSessionParams

logger = logging.getLogger("aioagb")

POLL_FIRST_S, POLL_MAX_S = 0.05, 1.0


@attrs.frozen(slots=True)
class LifecycleTimeouts:
    """How long cleanup may take: a shielded delete, delete's polling, the orphan grace."""

    cleanup: float = 30.0
    delete: float = 300.0
    orphan_grace: float = 3.0


@attrs.frozen(slots=True)
class Created:
    """A session the server made, and the request id of the create that made it."""

    data: SessionData
    request_id: str


class Lifecycle:
    """Creates and deletes the sessions of one client (see the module docstring)."""

    def __init__(self, engine: Engine, timeouts: LifecycleTimeouts) -> None:
        self.engine = engine
        self.timeouts = timeouts
        self.orphans = OrphanTracker()

    # --- create ------------------------------------------------------------------------------

    async def create(self, params: CreateSessionParams) -> Created:
        """Create a session or raise; never leaks one (see `_many.orphans`).

        A create whose outcome is unknown (5xx without a session id, a dropped connection) is
        cleaned up through its token and tried again with a new token, with stamina's
        backoff, up to `RetryPolicy.attempts` times. Timeouts and cancellation are not retried.

        With mounted contexts, it then waits for their download (`_sync`), as the official
        client does. The session exists by then: if the wait is cancelled (or the client
        closed), the session is deleted, shielded, before the cancellation goes on.
        """
        created = await self._create_retrying(params)
        if mounted(params.all_context_syncs()):
            try:
                await wait_for_initial_sync(self.engine, created.data.session_id)
            except BaseException:
                await self._delete_created(created.data.session_id)
                raise
        return created

    async def _delete_created(self, session_id: str) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.timeouts.cleanup):
            try:
                await self.delete_quietly(session_id)
            except ClientClosedError:
                logger.warning("session %s may still exist: the client is closed", session_id)

    async def _create_retrying(self, params: CreateSessionParams) -> Created:
        policy = self.engine.retry
        try:
            async for attempt in stamina.retry_context(
                on=_DoubtfulCreate, timeout=policy.budget, **stamina_backoff(policy)
            ):
                with attempt:
                    return await self._create_once(params)
        except _DoubtfulCreate as doubtful:
            raise doubtful.error from None
        raise AssertionError("unreachable: stamina re-raises the last failure")

    async def _create_once(self, params: CreateSessionParams) -> Created:
        token = self.orphans.new_token()
        labels = {**params.labels, **self.orphans.labels(token)}
        mounts = [
            (sync.context_id, sync.path, sync.policy.to_dict())
            for sync in params.all_context_syncs()
            if sync.policy is not None  # a sync without a policy mounts nothing (§13.6)
        ]
        request = create_session(
            params.image_id, labels, params.idle_release_timeout, params.policy_id, mounts
        )
        try:
            reply = await self.engine.send(request)
        except (ConnectError, ClientClosedError):
            raise  # nothing reached the server
        except TransportError as exc:
            await self._recover(token)
            if isinstance(exc, RequestTimeoutError):
                raise
            raise _DoubtfulCreate(exc) from None
        except BaseException:  # cancelled: the server may have made the session
            await self._recover(token)
            raise
        data = session_data_from(reply.data_object())
        # Like the official client (§3.1), a session id means a session, whatever the status:
        # refusing it would leak it.
        if data.session_id and reply.data_object().get("success") is not False:
            self.orphans.handed_out.add(data.session_id)
            event = SessionEvent(data.session_id, reply.request_id, params.image_id)
            self.engine.observer.session_created(event)
            return Created(data, reply.request_id)
        message = str(reply.data_object().get("errMsg") or reply.message or "Unknown error")
        error = reply_error(reply, message)
        if reply.status >= 500 or reply.body is None:
            await self._recover(token)  # a 5xx may come after the session was made
            raise _DoubtfulCreate(error)
        raise error

    async def _recover(self, token: str) -> None:
        # Bounded by the request timeout too: against a server that does not answer, the
        # lookup cannot succeed, and the sweep at `aclose()` tries again.
        bound = min(self.timeouts.cleanup, self.engine.request_timeout)
        with anyio.CancelScope(shield=True), anyio.move_on_after(bound):
            deleted = await self.orphans.recover(token, self.engine.send, self.delete_quietly)
            if deleted:
                logger.info("deleted %d session(s) of an interrupted create", deleted)

    async def sweep(self) -> None:
        """Delete orphans of doubtful creates (client close); shielded, bounded, quiet."""
        grace = self.timeouts.orphan_grace
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.timeouts.cleanup + grace):
            try:
                await self.orphans.sweep(self.engine.send, self.delete_quietly, grace)
            except Exception:
                logger.warning("the orphan sweep failed", exc_info=True)

    # --- delete ------------------------------------------------------------------------------

    async def delete(self, session_id: str) -> str:
        """Release, then poll the status until FINISH or not-found (§3.7); the request id.

        Unlike the official client, a session that is already gone counts as deleted, and
        polling starts at 50 ms and backs off to 1 s, so a prompt server gets a prompt answer.
        Raises the release's typed error, or `SessionDeleteError` when polling times out.
        """
        reply = await self.engine.send(release_session(session_id))
        released = release_outcome(reply)
        as_reply = released.as_reply(reply.status)
        if not released.ok and not is_not_found(as_reply):
            message = (
                f"[{released.code or 'Unknown'}] {released.message or 'Failed to delete session'}"
            )
            raise reply_error(as_reply, message)
        if released.ok and not await self._wait_until_gone(session_id):
            raise SessionDeleteError(
                f"Timeout waiting for session deletion after {self.timeouts.delete:.1f}s",
                session_id=session_id,
                request_id=released.request_id,
            )
        self.orphans.handed_out.discard(session_id)
        self.engine.observer.session_deleted(SessionEvent(session_id, released.request_id))
        return released.request_id

    async def _wait_until_gone(self, session_id: str) -> bool:
        """Poll until gone, waiting POLL_FIRST_S, doubling up to POLL_MAX_S; False when
        `timeouts.delete` runs out first."""

        async def gone() -> bool | None:
            return True if await self._gone(session_id) else None

        found = await poll(
            gone,
            interval=POLL_FIRST_S,
            max_interval=POLL_MAX_S,
            attempts=None,
            timeout=self.timeouts.delete,
        )
        return found is True

    async def _gone(self, session_id: str) -> bool:
        try:
            reply: Reply = await self.engine.send(get_session_status(session_id))
        except ClientClosedError:
            raise
        except AGBError:
            return False  # no answer this time: poll again
        status = reply.data_object().get("status")
        if reply.success:
            return status == p.STATUS_FINISH
        return is_not_found(reply)

    async def delete_quietly(self, session_id: str) -> bool:
        """`delete`, with a failure logged instead of raised; whether it was deleted."""
        try:
            await self.delete(session_id)
        except ClientClosedError:
            raise
        except AGBError as exc:
            logger.warning("could not delete session %s: %s", session_id, exc.message)
            return False
        return True


class _DoubtfulCreate(Exception):
    """A create whose outcome was unknown; its token was recovered, it may be tried again."""

    def __init__(self, error: AGBError) -> None:
        super().__init__(str(error))
        self.error = error
