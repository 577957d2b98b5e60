"""AsyncAGB: the facade. Configuration, and the session operations users call.

The rule of the two APIs (also in `aioagb.errors`): the seed-parity methods (`create`, `get`,
`get_session`, `list`, `delete`) return result objects and never raise for a failure the
server reports; the async-native API (`session`, `open_session`, and the concurrency layer)
raises typed exceptions. Invalid arguments and a closed client raise in both.

The facade holds no request logic of its own: requests go through the engine (`_engine`),
creates and deletes through the lifecycle (`_lifecycle`), batches, listings and the pool
through `_many`, each handed what it needs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs

from . import _protocol as p
from . import _validate as v
from ._config import ClientConfig, resolve
from ._engine import Engine
from ._hooks import Hooks
from ._lifecycle import Lifecycle, LifecycleTimeouts
from ._many.batch import DEFAULT_CONCURRENCY, BatchResult, create_many, delete_sessions
from ._many.listing import DEFAULT_PAGE_SIZE, SessionInfo, delete_all, iter_sessions
from ._many.mapping import map_sessions
from ._protocol import requests as rq
from ._protocol.replies import (
    Reply,
    SessionData,
    int_field,
    reply_error,
    session_data_from,
    session_ids_from,
)
from ._results import seed
from ._retry import RetryPolicy
from .context import ContextService
from .context_sync import ContextSync
from .errors import (
    AGBError,
    APIError,
    AuthenticationError,
    ClientClosedError,
    InvalidArgumentError,
    RateLimitedError,
    SessionCreateError,
    SessionDeleteError,
    TransportError,
    add_note,
)
from .models import (
    CreateSessionParams,
    DeleteResult,
    GetSessionData,
    GetSessionResult,
    SessionListResult,
    SessionResult,
)
from .session import AsyncSession
from .transports import DEFAULT_CONNECTION_LIMIT, AiohttpTransport, Transport

if TYPE_CHECKING:
    from .server import LocalServer
    from .server.config import ServerConfig

DEFAULT_CLEANUP_TIMEOUT_S = 30.0  # bound on a shielded delete during cleanup
DEFAULT_DELETE_TIMEOUT_S = 300.0  # how long delete polls for "gone", as the seed does
DEFAULT_ORPHAN_GRACE_S = 3.0

T = TypeVar("T")  # map_sessions' items
R = TypeVar("R")  # and what its function returns for each


class AsyncAGB:
    """An async client for the AGB cloud (or AGB Local). Use one per event loop.

    `timeout` is the **request** timeout in seconds (default 60, or `AGB_TIMEOUT_MS`); code and
    command execution timeouts are per call, and the idle-release timeout is per session.
    Every request, its retries included, ends within `retry.budget` seconds (default 60);
    see docs/sdk.md for the bound of each operation.
    """

    local_server: LocalServer | None = None  # set on a client made by `AsyncAGB.local()`

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
        timeouts = LifecycleTimeouts(
            cleanup=v.check_seconds("cleanup_timeout", cleanup_timeout),
            delete=v.check_seconds("delete_timeout", delete_timeout),
            orphan_grace=v.check_seconds("orphan_grace", orphan_grace),
        )
        transport = transport or AiohttpTransport(connection_limit=connection_limit)
        engine = Engine(self.config, transport, retry=retry, hooks=hooks)
        # The lower layers (requests, creates and deletes) for sessions made from this
        # client: `AsyncSession(agb, id)` takes them from here.
        self.lifecycle = Lifecycle(engine, timeouts)
        # The API key's contexts (docs/guides/persistence.md): the official `agb.context`.
        self.context = ContextService(engine)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<AsyncAGB endpoint={self.config.endpoint!r} {state}>"

    @property
    def closed(self) -> bool:
        """Whether `aclose()` was called."""
        return self.lifecycle.engine.closed

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every request (settable)."""
        return self.lifecycle.engine.retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        if not isinstance(policy, RetryPolicy):
            raise v.fail(f"retry must be a RetryPolicy, got {type(policy).__name__}")
        self.lifecycle.engine.retry = policy

    @property
    def cleanup_timeout(self) -> float:
        """Seconds a shielded delete may take when a session context is left."""
        return self.lifecycle.timeouts.cleanup

    @property
    def delete_timeout(self) -> float:
        """Seconds `delete` polls for the session to be gone."""
        return self.lifecycle.timeouts.delete

    @property
    def orphan_grace(self) -> float:
        """Seconds `aclose()` waits for a doubtful create to show up before its sweep."""
        return self.lifecycle.timeouts.orphan_grace

    async def __aenter__(self) -> AsyncAGB:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Delete orphans of doubtful creates (see docs/concurrency.md), then close the HTTP
        session. Shielded and bounded; safe to call twice."""
        if self.closed:
            return
        await self.lifecycle.sweep()
        await self.lifecycle.engine.aclose()

    @classmethod
    @asynccontextmanager
    async def local(
        cls,
        config: ServerConfig | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        **client_options: Any,
    ) -> AsyncIterator[AsyncAGB]:
        """Start AGB Local in-process (loopback, ephemeral port, a fresh random key) and yield
        a client bound to it; leaving the block closes the client and stops the server.

        `data_dir`: where the server keeps contexts, so that they outlive the block (another
        `local(data_dir=...)` on the same directory serves them again, to the same key, kept
        in the directory's `local-api-key` unless `config.api_keys` names one); without it,
        a temporary directory removed on exit. It overrides `config.data_dir`. Without a
        `config`, the server keeps `LOCAL_WARM_SANDBOXES` sandboxes started ahead of demand,
        so the first sessions' first calls answer at once."""
        from .server import LocalServer
        from .server.config import LOCAL_WARM_SANDBOXES, ServerConfig, local_api_key

        if config is None:
            config = ServerConfig(warm_sandboxes=LOCAL_WARM_SANDBOXES)
        if data_dir is not None:
            config = attrs.evolve(config, data_dir=data_dir)
        if config.data_dir is not None and not config.api_keys:
            # The same key with the same directory: contexts belong to the key that made them.
            key = await anyio.to_thread.run_sync(local_api_key, config.data_dir)
            config = attrs.evolve(config, api_keys=(key,))
        async with (
            LocalServer(config) as server,
            cls(server.api_key, endpoint=server.endpoint, **client_options) as agb,
        ):
            agb.local_server = server
            yield agb

    # --- create ------------------------------------------------------------------------------

    def _session_for(
        self,
        data: SessionData,
        image_id: str = "",
        context_syncs: Sequence[ContextSync] = (),
    ) -> AsyncSession:
        """A handle with what the server said about the session (create or getSession)."""
        fields = attrs.asdict(data)
        del fields["session_id"], fields["status"]
        return AsyncSession(
            self, data.session_id, image_id=image_id, context_syncs=context_syncs, **fields
        )

    async def create(self, params: CreateSessionParams | None = None) -> SessionResult:
        """Create a session (seed parity: a result, `success` False on failure)."""
        checked = _check_params(params)
        return await seed(SessionResult, self._create(checked))

    async def _create(self, params: CreateSessionParams) -> SessionResult:
        created = await self.lifecycle.create(params)
        session = self._session_for(created.data, params.image_id, params.all_context_syncs())
        return SessionResult(request_id=created.request_id, success=True, session=session)

    async def open_session(self, params: CreateSessionParams | None = None) -> AsyncSession:
        """Create a session or raise: `SessionCreateError` when the server refused it;
        `AuthenticationError`, `RateLimitedError` and transport errors as they are."""
        params = _check_params(params)
        try:
            created = await self.lifecycle.create(params)
        except (AuthenticationError, RateLimitedError, TransportError):
            raise
        except APIError as exc:
            message = f"Could not create a session: {exc.message}"
            raise SessionCreateError.caused_by(message, exc) from exc
        return self._session_for(created.data, params.image_id, params.all_context_syncs())

    @asynccontextmanager
    async def session(
        self, params: CreateSessionParams | None = None
    ) -> AsyncIterator[AsyncSession]:
        """`async with agb.session(params) as session:` — deleted on every way out.

        The body's exception propagates unchanged; a failed delete is logged and attached to
        it as a note. Without a body exception, a failed delete raises SessionDeleteError.
        Deletion runs shielded from cancellation, bounded by `cleanup_timeout`.

        With `params.context_syncs`, entering waits until the contexts are downloaded into
        the session, and leaving uploads each mount whose policy auto-uploads
        (`UploadPolicy(auto_upload=True)`, the default), then deletes the session, as the
        cloud does before it releases one:

        * the body ended normally: the upload is awaited (SyncContext, then polling, up to
          150 x 1.5 s) and may be cancelled; if it fails, the session is still deleted and
          `ContextSyncError` is raised: the last changes may not be in the context.
        * the body raised: the files are uploaded as they are (a half-done step included),
          shielded and bounded by `cleanup_timeout`; the body's exception propagates, with
          an upload failure attached as a note.
        * the body was cancelled: the same, shielded, so what the body wrote before the
          cancellation is saved when the upload fits in `cleanup_timeout`; the cancellation
          propagates. Past that bound the session is deleted anyway (the cloud's own
          upload-before-release still applies there).

        Mounts with `auto_upload=False` are never uploaded: their files in the session are
        lost with it.
        """
        session = await self.open_session(params)
        async with session:
            yield session

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
        session created is deleted and `SessionBatchError` lists each cause (and which
        sessions could not be deleted). With `partial=True` the result holds the sessions
        created and the failures. The sessions are yours to delete (`delete_sessions`), or
        use `agb.sessions(...)`.
        """
        _check_params(params)
        return await create_many(
            self.open_session, params, count, concurrency=concurrency, partial=partial
        )

    @asynccontextmanager
    async def sessions(
        self,
        params: CreateSessionParams,
        *,
        count: int,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> AsyncIterator[list[AsyncSession]]:
        """`create_many` (all-or-nothing) as a context: every session is deleted concurrently
        on exit, also on error and cancellation. A failed delete is handled as in
        `agb.session()`: attached as a note to the body's exception, or raised as
        `SessionDeleteError` (listing every session it could not delete) when there is none."""
        batch = await self.create_many(params, count, concurrency=concurrency)
        try:
            yield list(batch.sessions)
        except BaseException as body_error:
            failures = await delete_sessions(batch.sessions, concurrency=concurrency)
            for failure in failures:
                add_note(body_error, f"aioagb: {failure.error}")
            raise
        failures = await delete_sessions(batch.sessions, concurrency=concurrency)
        if failures:
            ids = [batch.sessions[f.index].session_id for f in failures]
            raise SessionDeleteError(
                f"Could not delete {len(ids)} of {len(batch.sessions)} sessions "
                f"({', '.join(ids)}); they may still exist. First error: {failures[0].error}",
                session_id=ids[0],
            )

    async def map_sessions(
        self,
        fn: Callable[[AsyncSession, T], Awaitable[R]],
        items: Iterable[T],
        params: CreateSessionParams,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
    ) -> list[R]:
        """`await fn(session, item)` for each item, each in a session of its own (created,
        used, then deleted as by `agb.session()`), at most `concurrency` sessions at a time;
        the results in the items' order.

        Pipelined: each task takes its session from create to delete before the next item,
        so creates, work and deletes of different items overlap (a `sessions(count=N)`
        batch does every create first, then the work, then every delete). The first
        exception cancels the items still running (their sessions are deleted too) and is
        raised as it is, with a note naming its item; with `return_exceptions=True` nothing
        is cancelled and a failed item's exception takes its place in the list (typed
        `list[R]` for the common case; check with `isinstance(r, Exception)`).
        """
        _check_params(params)
        return await map_sessions(
            self.session,
            fn,
            items,
            params,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
        )

    async def delete_sessions(
        self, sessions: Iterable[AsyncSession], *, concurrency: int = DEFAULT_CONCURRENCY
    ) -> int:
        """Delete sessions concurrently (shielded); returns how many could not be deleted."""
        return len(await delete_sessions(sessions, concurrency=concurrency))

    def iter_sessions(
        self, labels: Mapping[str, str] | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[SessionInfo]:
        """Every session whose labels include `labels`, one request per page."""
        return iter_sessions(self.lifecycle.engine, labels, page_size)

    async def delete_all(
        self,
        labels: Mapping[str, str] | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> int:
        """Delete every session whose labels include `labels`; returns how many were deleted.
        Without labels that is every session of this API key."""
        return await delete_all(
            self.lifecycle.engine, self.lifecycle.delete_quietly, labels, concurrency, page_size
        )

    # --- get, list, delete -------------------------------------------------------------------

    async def get_session(self, session_id: str) -> GetSessionResult:
        """`POST /mcp/getSession` with the raw details (HTTP status, code) of the answer."""
        session_id = v.check_session_id(session_id)
        return await seed(GetSessionResult, self._get_session(session_id))

    async def _get_session(self, session_id: str) -> GetSessionResult:
        reply, data = await self._fetch(session_id)
        return GetSessionResult(
            request_id=reply.request_id,
            success=True,
            data=GetSessionData(**attrs.asdict(data), success=True),
            http_status_code=reply.status,
            code=reply.code,
        )

    async def _fetch(self, session_id: str) -> tuple[Reply, SessionData]:
        """getSession (§3.2): the reply and what it says, or the typed error (with the HTTP
        status and code as details)."""
        reply = await self.lifecycle.engine.send(rq.get_session(session_id))
        if not reply.success:
            error = reply_error(reply, reply.error_text("Unknown error"))
            error.details = {"http_status_code": reply.status, "code": reply.code}
            raise error
        return reply, session_data_from(reply.data_object())

    async def get(self, session_id: str) -> SessionResult:
        """A handle on an existing session (seed parity), with its details."""
        session_id = v.check_session_id(session_id)
        return await seed(SessionResult, self._get(session_id))

    async def _get(self, session_id: str) -> SessionResult:
        try:
            reply, data = await self._fetch(session_id)
        except ClientClosedError:
            raise
        except AGBError as exc:
            raise exc.prefixed(f"Failed to get session {session_id}: ") from exc.__cause__
        if not data.session_id:  # a success without data: the handle keeps the asked id
            data = attrs.evolve(data, session_id=session_id)
        session = self._session_for(data)
        return SessionResult(request_id=reply.request_id, success=True, session=session)

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
        return await seed(SessionListResult, self._list(wanted, page, limit))

    async def _list(self, labels: Mapping[str, str], page: int, limit: int) -> SessionListResult:
        token = ""
        for _ in range(page - 1):
            reply = await self._list_page(labels, limit, token, f"Cannot reach page {page}: ")
            token = str(reply.field(p.KEY_NEXT_TOKEN) or "")
            if not token:
                error = reply_error(reply, f"Cannot reach page {page}: No more pages available")
                error.details = {"total_count": int_field(reply, p.KEY_COUNT)}
                raise error
        reply = await self._list_page(labels, limit, token, "Failed to list sessions: ")
        return SessionListResult(
            request_id=reply.request_id,
            success=True,
            session_ids=session_ids_from(reply),
            next_token=str(reply.field(p.KEY_NEXT_TOKEN) or ""),
            max_results=int_field(reply, p.KEY_MAX_RESULTS, limit),
            total_count=int_field(reply, p.KEY_COUNT),
        )

    async def _list_page(
        self, labels: Mapping[str, str], limit: int, token: str, prefix: str
    ) -> Reply:
        engine = self.lifecycle.engine
        try:
            return await engine.expect(
                rq.list_sessions(labels, limit, token), "HTTP {status} error", exactly_200=True
            )
        except ClientClosedError:
            raise
        except AGBError as exc:
            raise exc.prefixed(prefix) from exc.__cause__

    async def delete(self, session: AsyncSession, sync_context: bool = False) -> DeleteResult:
        """Delete a session and wait until the server reports it gone (seed parity);
        `sync_context=True` uploads its mounted contexts first (`session.delete`)."""
        if not isinstance(session, AsyncSession):
            raise v.fail(f"session must be an AsyncSession, got {type(session).__name__}")
        return await session.delete(sync_context=sync_context)


def _check_params(params: object) -> CreateSessionParams:
    # The official client defaults `params` to None and then refuses the missing image id;
    # the same words here, instead of Python's "missing 1 required positional argument".
    if params is None:
        raise InvalidArgumentError(
            "image_id is required and cannot be empty or None "
            f'(pass params, e.g. CreateSessionParams(image_id="{p.DEFAULT_IMAGE}"))'
        )
    if not isinstance(params, CreateSessionParams):
        raise InvalidArgumentError(
            f"params must be CreateSessionParams, got {type(params).__name__}"
        )
    return params
