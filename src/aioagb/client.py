"""AsyncAGB: the client. Configuration, the request loop, and the session operations.

The rule of the two APIs (also in `aioagb.errors`): the seed-parity methods (`create`, `get`,
`get_session`, `list`, `delete`) return result objects and never raise for a failure the
server reports; the async-native API (`session`, `open_session`, and the concurrency layer)
raises typed exceptions. Invalid arguments and a closed client raise in both.
"""

from __future__ import annotations

import functools
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import stamina

from . import __version__
from . import _protocol as p
from . import _validate as v
from . import _wire as wire
from ._batch import DEFAULT_CONCURRENCY, BatchResult, create_many, delete_sessions
from ._config import ClientConfig, resolve
from ._hooks import Hooks, Observer, SessionEvent
from ._listing import DEFAULT_PAGE_SIZE, SessionInfo, delete_all, iter_sessions
from ._orphans import OrphanTracker
from ._retry import RetryableReply, RetryPolicy, backoff_hook, retryable_status
from ._transport import DEFAULT_CONNECTION_LIMIT, AiohttpTransport, ConnectError, Transport
from ._wire import Reply, Request
from .errors import (
    AGBError,
    APIError,
    AuthenticationError,
    ClientClosedError,
    InvalidArgumentError,
    RateLimitedError,
    RequestTimeoutError,
    SessionCreateError,
    SessionDeleteError,
    TransportError,
)
from .models import (
    CreateSessionParams,
    DeleteResult,
    GetSessionData,
    GetSessionResult,
    OperationResult,
    SessionListResult,
    SessionResult,
)
from .session import AsyncSession

if TYPE_CHECKING:
    from types import TracebackType

    from .server import LocalServer
    from .server.config import ServerConfig

logger = logging.getLogger("aioagb")

DEFAULT_CLEANUP_TIMEOUT_S = 30.0  # bound on a shielded delete during cleanup
DEFAULT_DELETE_TIMEOUT_S = 300.0  # how long delete polls for "gone", as the seed does
DEFAULT_ORPHAN_GRACE_S = 3.0
POLL_FIRST_S, POLL_MAX_S = 0.05, 1.0


class AsyncAGB:
    """An async client for the AGB cloud (or AGB Local). Use one per event loop.

    `timeout` is the **request** timeout in seconds (default 60, or `AGB_TIMEOUT_MS`); code and
    command execution timeouts are per call, and the idle-release timeout is per session.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        endpoint: str | None = None,
        timeout: float | None = None,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
        retry: RetryPolicy | None = None,
        cleanup_timeout: float = DEFAULT_CLEANUP_TIMEOUT_S,
        delete_timeout: float = DEFAULT_DELETE_TIMEOUT_S,
        orphan_grace: float = DEFAULT_ORPHAN_GRACE_S,
        transport: Transport | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.config: ClientConfig = resolve(api_key, endpoint, timeout)
        v.check_positive_int("connection_limit", connection_limit)
        self.cleanup_timeout = v.check_seconds("cleanup_timeout", cleanup_timeout)
        self.delete_timeout = v.check_seconds("delete_timeout", delete_timeout)
        self.orphan_grace = v.check_seconds("orphan_grace", orphan_grace)
        self.retry = retry or RetryPolicy()
        self._transport = transport or AiohttpTransport(connection_limit=connection_limit)
        self._headers = {
            p.HEADER_AUTHORIZATION: p.BEARER_PREFIX + self.config.api_key,
            "Content-Type": "application/json",
            "User-Agent": f"aioagb/{__version__}",
        }
        self._orphans = OrphanTracker()
        self._observer = Observer(hooks)
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<AsyncAGB endpoint={self.config.endpoint!r} {state}>"

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> AsyncAGB:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Delete orphans of doubtful creates (see docs/concurrency.md), then close the HTTP
        session. Shielded and bounded; safe to call twice."""
        if self._closed:
            return
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(self.cleanup_timeout + self.orphan_grace):
                try:
                    await self._orphans.sweep(self._send, self._delete_quietly, self.orphan_grace)
                except Exception:
                    logger.warning("the orphan sweep failed", exc_info=True)
            self._closed = True
            await self._transport.aclose()

    @classmethod
    @asynccontextmanager
    async def local(
        cls, config: ServerConfig | None = None, **client_options: Any
    ) -> AsyncIterator[AsyncAGB]:
        """Start AGB Local in-process (loopback, ephemeral port, a fresh random key) and yield
        a client bound to it; leaving the block closes the client and stops the server."""
        from .server import LocalServer

        async with (
            LocalServer(config) as server,
            cls(server.api_key, endpoint=server.endpoint, **client_options) as agb,
        ):
            agb.local_server = server
            yield agb

    local_server: LocalServer | None = None  # set on a client made by `AsyncAGB.local()`

    # --- the request loop --------------------------------------------------------------------

    async def _send(self, request: Request, *, request_timeout: float | None = None) -> Reply:
        """Send with retries (see `_retry`); any HTTP answer is returned, transport failures
        that outlast the retries raise."""
        if self._closed:
            raise ClientClosedError("This AsyncAGB client is closed; create a new one.")
        url = request.url(self.config.endpoint)
        per_request = request_timeout or self.config.request_timeout_s
        policy = self.retry
        attempts = self._observer.attempts(request)
        send = functools.partial(self._transport.send, request, url, self._headers, per_request)
        # The first attempt runs outside stamina: setting up its retry loop costs more than a
        # loopback request (benchmarks/, docs/benchmarks.md), and most requests need no retry.
        # A failure is replayed as stamina's first attempt, so it decides and waits as before.
        started = time.monotonic()
        first_failure: Exception
        try:
            reply = await attempts.send(1, send)
        except AGBError as exc:
            first_failure = exc
        else:
            if not retryable_status(request, reply):
                return reply
            first_failure = RetryableReply(reply)
        try:
            async for attempt in stamina.retry_context(
                on=backoff_hook(request, policy),  # type: ignore[arg-type]
                attempts=policy.attempts,
                timeout=max(policy.budget - (time.monotonic() - started), 0.0),
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    if attempt.num == 1:
                        raise first_failure
                    reply = await attempts.send(attempt.num, send)
                    if retryable_status(request, reply):
                        raise RetryableReply(reply)
                    return reply
        except RetryableReply as exhausted:
            return exhausted.reply
        raise AssertionError("unreachable: stamina re-raises the last failure")

    async def _attempt(
        self, request: Request, *, request_timeout: float | None = None
    ) -> Reply | AGBError:
        """`_send` for the seed-parity methods: transport failures become values."""
        try:
            return await self._send(request, request_timeout=request_timeout)
        except (ClientClosedError, InvalidArgumentError):
            raise
        except AGBError as exc:
            return exc

    async def _operation(
        self, request: Request, fallback: str, *, exactly_200: bool = False
    ) -> OperationResult[None]:
        reply = await self._attempt(request)
        if isinstance(reply, AGBError):
            return OperationResult(
                request_id=reply.request_id, error_message=reply.message, exception=reply
            )
        if reply.success and (reply.status == 200 or not exactly_200):
            return OperationResult(request_id=reply.request_id, success=True)
        message = reply.error_text(fallback.format(status=reply.status))
        return OperationResult(
            request_id=reply.request_id,
            error_message=message,
            exception=wire.reply_error(reply, message),
        )

    # --- create ------------------------------------------------------------------------------

    async def _create(self, params: CreateSessionParams) -> tuple[AsyncSession, str]:
        """Create a session; the session and the request id. Raises; never leaks (_orphans).

        A create that failed in a way that leaves its outcome unknown (5xx without a session
        id, a dropped connection) is cleaned up through its token and then tried again with a
        new token, up to `retry.attempts` times. Timeouts and cancellation are not retried.
        """
        if not isinstance(params, CreateSessionParams):
            raise v.fail(f"params must be CreateSessionParams, got {type(params).__name__}")
        policy = self.retry
        for attempt in range(1, policy.attempts + 1):
            try:
                return await self._create_once(params)
            except _DoubtfulCreate as doubtful:
                if attempt == policy.attempts:
                    raise doubtful.error from None
                wait = min(policy.wait_max, policy.wait_initial * 2 ** (attempt - 1))
                await anyio.sleep(wait + random.uniform(0, policy.wait_jitter))
        raise AssertionError("unreachable")

    async def _create_once(self, params: CreateSessionParams) -> tuple[AsyncSession, str]:
        token = self._orphans.new_token()
        labels = {**params.labels, **self._orphans.labels(token)}
        request = wire.create_session(
            params.image_id, labels, params.idle_release_timeout, params.policy_id
        )
        try:
            reply = await self._send(request)
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
        data = reply.data_object()
        session_id = data.get(p.B_SESSION_ID)
        # Like the official client (§3.1), a session id means a session, whatever the status:
        # refusing it would leak it.
        if isinstance(session_id, str) and session_id and data.get("success") is not False:
            session = AsyncSession(
                self,
                session_id,
                image_id=params.image_id,
                resource_url=str(data.get("resourceUrl") or ""),
                app_instance_id=str(data.get("appInstanceId") or ""),
                resource_id=str(data.get("resourceId") or ""),
            )
            self._orphans.handed_out.add(session_id)
            self._observer.session_created(
                SessionEvent(session_id, reply.request_id, params.image_id)
            )
            return session, reply.request_id
        message = str(data.get("errMsg") or reply.message or "Unknown error")
        error = wire.reply_error(reply, message)
        if reply.status >= 500 or reply.body is None:
            await self._recover(token)  # a 5xx may come after the session was made
            raise _DoubtfulCreate(error)
        raise error

    async def _recover(self, token: str) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.cleanup_timeout):
            deleted = await self._orphans.recover(token, self._send, self._delete_quietly)
            if deleted:
                logger.info("deleted %d session(s) of an interrupted create", deleted)

    async def create(self, params: CreateSessionParams) -> SessionResult:
        """Create a session (seed parity: a result, `success` False on failure)."""
        try:
            session, request_id = await self._create(params)
        except (ClientClosedError, InvalidArgumentError):
            raise
        except AGBError as exc:
            return SessionResult(
                request_id=exc.request_id, error_message=exc.message, exception=exc
            )
        return SessionResult(request_id=request_id, success=True, session=session)

    async def open_session(self, params: CreateSessionParams) -> AsyncSession:
        """Create a session or raise: `SessionCreateError` when the server refused it;
        `AuthenticationError`, `RateLimitedError` and transport errors as they are."""
        try:
            session, _ = await self._create(params)
        except (
            AuthenticationError,
            RateLimitedError,
            TransportError,
            ClientClosedError,
            InvalidArgumentError,
        ):
            raise
        except APIError as exc:
            raise SessionCreateError(
                f"Could not create a session: {exc.message}",
                request_id=exc.request_id,
                code=exc.code,
                http_status=exc.http_status,
            ) from exc
        return session

    @asynccontextmanager
    async def session(self, params: CreateSessionParams) -> AsyncIterator[AsyncSession]:
        """`async with agb.session(params) as session:` — deleted on every way out.

        The body's exception propagates unchanged; a failed delete is logged and attached to
        it as a note. Without a body exception, a failed delete raises SessionDeleteError.
        Deletion runs shielded from cancellation, bounded by `cleanup_timeout`.
        """
        session = await self.open_session(params)
        try:
            yield session
        except BaseException as exc:
            await self._close_session(session, exc)
            raise
        await self._close_session(session, None)

    async def _close_session(self, session: AsyncSession, body_error: BaseException | None) -> None:
        failure: AGBError | None = None
        with anyio.move_on_after(self.cleanup_timeout, shield=True) as scope:
            try:
                await session.aclose()
            except AGBError as exc:
                failure = exc
        if scope.cancelled_caught:
            failure = SessionDeleteError(
                f"Deleting session {session.session_id} took longer than "
                f"{self.cleanup_timeout:g} s; it may still exist",
                session_id=session.session_id,
            )
        if failure is None:
            return
        if body_error is None:
            raise failure
        logger.warning("could not delete session %s: %s", session.session_id, failure)
        _add_note(body_error, f"aioagb: deleting session {session.session_id} failed: {failure}")

    # --- many sessions (docs/concurrency.md) -------------------------------------------------

    async def create_many(
        self,
        params: CreateSessionParams,
        count: int,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        partial: bool = False,
    ) -> BatchResult:
        """Create `count` sessions, at most `concurrency` requests at a time.

        All-or-nothing by default: on the first failure the others are cancelled, every
        session created is deleted and `SessionBatchError` lists each cause. With
        `partial=True` the result holds the sessions created and the failures. The sessions
        are yours to delete (`delete_sessions`), or use `agb.sessions(...)`.
        """
        return await create_many(self, params, count, concurrency=concurrency, partial=partial)

    @asynccontextmanager
    async def sessions(
        self,
        params: CreateSessionParams,
        *,
        count: int,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> AsyncIterator[list[AsyncSession]]:
        """`create_many` (all-or-nothing) as a context: every session is deleted concurrently
        on exit, also on error and cancellation."""
        batch = await create_many(self, params, count, concurrency=concurrency)
        try:
            yield list(batch.sessions)
        finally:
            await delete_sessions(batch.sessions, concurrency=concurrency)

    async def delete_sessions(
        self, sessions: Iterable[AsyncSession], *, concurrency: int = DEFAULT_CONCURRENCY
    ) -> int:
        """Delete sessions concurrently (shielded); returns how many could not be deleted."""
        return len(await delete_sessions(sessions, concurrency=concurrency))

    def iter_sessions(
        self, labels: Mapping[str, str] | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[SessionInfo]:
        """Every session whose labels include `labels`, one request per page."""
        return iter_sessions(self, labels, page_size)

    async def delete_all(
        self,
        labels: Mapping[str, str] | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> int:
        """Delete every session whose labels include `labels`; returns how many were deleted.
        Without labels that is every session of this API key."""
        return await delete_all(self, labels, concurrency, page_size)

    # --- get, list, delete -------------------------------------------------------------------

    async def get_session(self, session_id: str) -> GetSessionResult:
        """`POST /mcp/getSession` with the raw details (HTTP status, code) of the answer."""
        session_id = v.check_session_id(session_id)
        reply = await self._attempt(wire.get_session(session_id))
        if isinstance(reply, AGBError):
            return GetSessionResult(
                request_id=reply.request_id, error_message=reply.message, exception=reply
            )
        data = reply.data_object()
        ok = reply.success
        message = "" if ok else reply.error_text("Unknown error")
        return GetSessionResult(
            request_id=reply.request_id,
            success=ok,
            error_message=message,
            http_status_code=reply.status,
            code=reply.code,
            data=GetSessionData(
                session_id=str(data.get("sessionId") or ""),
                app_instance_id=str(data.get("appInstanceId") or ""),
                resource_id=str(data.get("resourceId") or ""),
                resource_url=str(data.get("resourceUrl") or ""),
                status=str(data.get("status") or ""),
                success=ok,
            )
            if ok
            else None,
            exception=None if ok else wire.reply_error(reply, message),
        )

    async def get(self, session_id: str) -> SessionResult:
        """A handle on an existing session (seed parity)."""
        detail = await self.get_session(session_id)
        if not detail.success or detail.data is None:
            message = f"Failed to get session {session_id}: {detail.error_message}"
            return SessionResult(
                request_id=detail.request_id, error_message=message, exception=detail.exception
            )
        data = detail.data
        session = AsyncSession(
            self,
            data.session_id or session_id,
            resource_url=data.resource_url,
            app_instance_id=data.app_instance_id,
            resource_id=data.resource_id,
        )
        return SessionResult(request_id=detail.request_id, success=True, session=session)

    async def list(
        self,
        labels: Mapping[str, str] | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> SessionListResult:
        """One page of the sessions whose labels include `labels` (seed parity).

        Page N costs N requests, as in the official client (it walks the tokens from page 1);
        `iter_sessions` follows `next_token` instead.
        """
        wanted = v.check_labels(labels, allow_empty=True)
        page, limit = v.check_list_args(page, limit)
        token = ""
        for _ in range(page - 1):
            reply = await self._attempt(wire.list_sessions(wanted, limit, token))
            if isinstance(reply, AGBError) or not (reply.status == 200 and reply.success):
                why = (
                    reply.message
                    if isinstance(reply, AGBError)
                    else reply.error_text(f"HTTP {reply.status} error")
                )
                return _list_failure(reply, f"Cannot reach page {page}: {why}")
            token = str(reply.field(p.KEY_NEXT_TOKEN) or "")
            if not token:
                result = _list_failure(reply, f"Cannot reach page {page}: No more pages available")
                return SessionListResult(
                    request_id=result.request_id,
                    error_message=result.error_message,
                    exception=result.exception,
                    total_count=wire.int_field(reply, p.KEY_COUNT),
                )
        reply = await self._attempt(wire.list_sessions(wanted, limit, token))
        if isinstance(reply, AGBError) or not (reply.status == 200 and reply.success):
            why = (
                reply.message
                if isinstance(reply, AGBError)
                else reply.error_text(f"HTTP {reply.status} error")
            )
            return _list_failure(reply, f"Failed to list sessions: {why}")
        return SessionListResult(
            request_id=reply.request_id,
            success=True,
            session_ids=wire.session_ids_from(reply),
            next_token=str(reply.field(p.KEY_NEXT_TOKEN) or ""),
            max_results=wire.int_field(reply, p.KEY_MAX_RESULTS, limit),
            total_count=wire.int_field(reply, p.KEY_COUNT),
        )

    async def delete(self, session: AsyncSession) -> DeleteResult:
        """Delete a session and wait until the server reports it gone (seed parity)."""
        if not isinstance(session, AsyncSession):
            raise v.fail(f"session must be an AsyncSession, got {type(session).__name__}")
        return await session.delete()

    async def _delete_session(self, session_id: str) -> DeleteResult:
        """Release, then poll the status until FINISH or not-found (§3.7).

        Unlike the seed, a session that is already gone counts as deleted, and polling starts
        at 50 ms and backs off to 1 s, so a prompt server gets a prompt answer.
        """
        reply = await self._attempt(wire.release_session(session_id))
        if isinstance(reply, AGBError):
            return DeleteResult(
                request_id=reply.request_id, error_message=reply.message, exception=reply
            )
        released = wire.release_outcome(reply)
        if not released.ok and not wire.is_not_found(released.as_reply(reply.status)):
            message = (
                f"[{released.code or 'Unknown'}] {released.message or 'Failed to delete session'}"
            )
            return DeleteResult(
                request_id=released.request_id,
                error_message=message,
                exception=wire.reply_error(released.as_reply(reply.status), message),
            )
        if released.ok and not await self._wait_until_gone(session_id):
            message = f"Timeout waiting for session deletion after {self.delete_timeout:.1f}s"
            return DeleteResult(
                request_id=released.request_id,
                error_message=message,
                exception=SessionDeleteError(message, session_id=session_id),
            )
        self._orphans.handed_out.discard(session_id)
        self._observer.session_deleted(SessionEvent(session_id, released.request_id))
        return DeleteResult(request_id=released.request_id, success=True)

    async def _wait_until_gone(self, session_id: str) -> bool:
        interval = POLL_FIRST_S
        with anyio.move_on_after(self.delete_timeout):
            while True:
                reply = await self._attempt(wire.get_session_status(session_id))
                if isinstance(reply, Reply):
                    status = reply.data_object().get("status")
                    if reply.success and status == p.STATUS_FINISH:
                        return True
                    if not reply.success and wire.is_not_found(reply):
                        return True
                await anyio.sleep(interval)
                interval = min(interval * 2, POLL_MAX_S)
        return False

    async def _delete_quietly(self, session_id: str) -> bool:
        result = await self._delete_session(session_id)
        if not result.success:
            logger.warning("could not delete session %s: %s", session_id, result.error_message)
        return result.success


class _DoubtfulCreate(Exception):
    """A create whose outcome was unknown; its token was recovered, it may be tried again."""

    def __init__(self, error: AGBError) -> None:
        super().__init__(str(error))
        self.error = error


def _list_failure(reply: Reply | AGBError, message: str) -> SessionListResult:
    request_id = reply.request_id
    exception = reply if isinstance(reply, AGBError) else wire.reply_error(reply, message)
    return SessionListResult(request_id=request_id, error_message=message, exception=exception)


def _add_note(error: BaseException, note: str) -> None:
    if sys.version_info >= (3, 11):
        error.add_note(note)
    else:  # pragma: no cover - Python 3.10
        setattr(error, "__notes__", [*getattr(error, "__notes__", []), note])  # noqa: B010
