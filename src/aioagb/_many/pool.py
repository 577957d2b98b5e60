"""SessionPool: a bounded pool of warm sessions, handed out first come, first served.

    async with SessionPool(agb, params, min_size=2, max_size=8) as pool:
        async with pool.session() as session:
            await session.code.run("print(1)", "python")

A session goes back to the pool when the body ends normally. It is deleted (and, while the
pool is below `min_size`, replaced) when the body raised or was cancelled, when it failed a
health check, or when it reached `max_uses`, `max_age` or `max_idle`. Deletions and
replacements run in the pool's own task group, never in the caller's time.

Fairness: callers that find no free session wait in one FIFO queue. A returned session, or
the capacity freed by a deleted one, always goes to the longest waiter; a new caller never
overtakes a waiting one.

Closing the pool (leaving its `async with`) deletes every idle session, waits up to
`close_timeout` for sessions in use to come back, and then deletes those too, so the pool
leaves nothing behind on the server. The close is shielded from cancellation and bounded.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import stamina
from anyio.abc import TaskGroup

from .. import _protocol as p
from .. import _validate as v
from ..errors import AGBError, PoolClosedError, PoolTimeoutError
from ..models import CreateSessionParams

if TYPE_CHECKING:
    from ..client import AsyncAGB
    from ..session import AsyncSession

log = logging.getLogger("aioagb.pool")

HealthCheck = Callable[["AsyncSession"], Awaitable[bool]]


@attrs.frozen(slots=True)
class PoolStats:
    """A snapshot of a pool: what it owns now and what it did over its life."""

    size: int  # sessions the pool owns: idle + in use + being created
    idle: int
    in_use: int
    waiting: int  # callers queued for a session
    created: int  # sessions created over the pool's life
    recycled: int  # sessions deleted by policy (raised body, max_uses, age, idle, health)
    failed: int  # creations that failed


async def session_is_running(session: AsyncSession) -> bool:
    """The default health check: the server still reports the session as running."""
    result = await session.get_status()
    return bool(result.success) and result.status == p.STATUS_RUNNING


@attrs.define(eq=False)
class _Pooled:
    session: AsyncSession
    created_at: float
    idle_since: float
    last_keep_alive: float
    uses: int = 0


@attrs.define(eq=False)
class _Waiter:
    event: anyio.Event = attrs.field(factory=anyio.Event)
    handed: _Pooled | None = None  # a session passed straight from a release
    may_create: bool = False  # capacity reserved for this waiter to create a session
    closed: bool = False  # the pool closed while it waited


def _check_pool_arguments(agb: object, params: object, **options: object) -> None:
    """Every SessionPool argument, before the pool exists (nothing is sent for a bad one)."""
    # Structural: the client layer sits above this one (import-linter keeps it so).
    if not callable(getattr(agb, "open_session", None)) or not hasattr(agb, "cleanup_timeout"):
        raise v.fail(f"agb must be an AsyncAGB client, got {type(agb).__name__}")
    if not isinstance(params, CreateSessionParams):
        raise v.fail(f"params must be CreateSessionParams, got {type(params).__name__}")
    max_size = v.check_positive_int("max_size", options["max_size"])
    min_size = v.check_non_negative_int("min_size", options["min_size"])
    if min_size > max_size:
        raise v.fail(f"min_size must be in [0, max_size={max_size}], got {min_size}")
    if options["max_uses"] is not None:
        v.check_positive_int("max_uses", options["max_uses"])
    for name in ("max_age", "max_idle", "keep_alive_interval"):
        v.check_optional_seconds(name, options[name])
    v.check_seconds("acquire_timeout", options["acquire_timeout"])
    for name in ("close_timeout", "health_check_after"):
        if options[name] != 0:
            v.check_seconds(name, options[name])  # 0 is allowed: "at once" / "every time"
    health_check = options["health_check"]
    if health_check is not None and not callable(health_check):
        raise v.fail(f"health_check must be an async callable or None, got {health_check!r}")


class SessionPool:
    """A bounded pool of warm sessions, handed out first come, first served (module
    docstring: what happens to a session after use, fairness, closing).

    `min_size` sessions are created on entry and kept; at most `max_size` exist at once.
    A session is replaced after `max_uses` uses, `max_age` seconds, `max_idle` idle seconds,
    a failed `health_check` (run when it was idle `health_check_after` seconds), or a call
    that found it gone; idle ones are kept alive every `keep_alive_interval` seconds.
    `acquire_timeout` bounds the wait for a session (`PoolTimeoutError`), `close_timeout`
    the wait for sessions in use when the pool closes.
    """

    def __init__(
        self,
        agb: AsyncAGB,
        params: CreateSessionParams,
        *,
        min_size: int = 0,
        max_size: int = 10,
        max_uses: int | None = None,
        max_age: float | None = None,
        max_idle: float | None = None,
        acquire_timeout: float = 30.0,
        health_check: HealthCheck | None = session_is_running,
        health_check_after: float = 5.0,
        keep_alive_interval: float | None = 60.0,
        close_timeout: float = 30.0,
    ) -> None:
        _check_pool_arguments(
            agb,
            params,
            min_size=min_size,
            max_size=max_size,
            max_uses=max_uses,
            max_age=max_age,
            max_idle=max_idle,
            acquire_timeout=acquire_timeout,
            health_check=health_check,
            health_check_after=health_check_after,
            keep_alive_interval=keep_alive_interval,
            close_timeout=close_timeout,
        )
        self._agb = agb
        self._params = params
        self.min_size = min_size
        self.max_size = max_size
        self.max_uses = max_uses
        self.max_age = max_age
        self.max_idle = max_idle
        self.acquire_timeout = acquire_timeout
        self._health_check = health_check
        self.health_check_after = health_check_after
        self.keep_alive_interval = keep_alive_interval
        self.close_timeout = close_timeout

        self._idle: deque[_Pooled] = deque()
        self._in_use: set[_Pooled] = set()
        self._creating = 0  # sessions being created (capacity reserved)
        self._deleting = 0  # sessions being deleted still count against max_size
        self._force_deleted: set[_Pooled] = set()  # deleted at close while still in use
        self._maintenance = anyio.CancelScope()
        self._waiters: deque[_Waiter] = deque()
        self._returned = anyio.Event()  # set whenever an in-use session comes back
        self._tg: TaskGroup | None = None
        self._closed = False
        self._created = self._recycled = self._failed = 0
        self._replenish_wait = 0.0  # the backoff after the last failed replenish
        # A session the server lost hints that it lost the others too (a restart): idle
        # sessions are then health-checked before they are handed out, however fresh.
        self._suspect_idle = False

    # --- public API ---------------------------------------------------------------------

    def stats(self) -> PoolStats:
        """What the pool owns now (idle, in use, being made) and what it did so far."""
        return PoolStats(
            size=self._size,
            idle=len(self._idle),
            in_use=len(self._in_use),
            waiting=len(self._waiters),
            created=self._created,
            recycled=self._recycled,
            failed=self._failed,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Borrows a session for the body; see the module docstring for what happens after."""
        entry = await self._acquire()
        reusable = False
        try:
            yield entry.session
            reusable = True
        finally:
            self._release(entry, reusable=reusable)

    async def __aenter__(self) -> SessionPool:
        if self._tg is not None:
            raise RuntimeError("a SessionPool can be entered only once")
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            await self._prewarm()
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._tg.start_soon(self._maintain)
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        assert self._tg is not None
        try:
            with anyio.CancelScope(shield=True):
                await self._close()
        finally:
            self._maintenance.cancel()
            # Leaving the task group waits for the background deletions still running; they
            # are shielded (see _delete), so a cancelled caller still waits for them.
            suppress = await self._tg.__aexit__(*exc_info)
        return suppress

    # --- acquiring ------------------------------------------------------------------------

    @property
    def _size(self) -> int:
        return len(self._idle) + len(self._in_use) + self._creating + self._deleting

    async def _acquire(self) -> _Pooled:
        if self._tg is None or self._closed:
            raise PoolClosedError("the pool is closed" if self._closed else "enter the pool first")
        if not self._waiters:
            entry = await self._take_idle()
            if entry is not None:
                return entry
            if self._size < self.max_size and not self._waiters:
                self._creating += 1
                return await self._create_reserved()
        return await self._wait_in_line()

    async def _wait_in_line(self) -> _Pooled:
        waiter = _Waiter()
        self._waiters.append(waiter)
        try:
            with anyio.fail_after(self.acquire_timeout):
                await waiter.event.wait()
        except BaseException as exc:
            self._abandon(waiter)
            if isinstance(exc, TimeoutError):
                raise PoolTimeoutError(
                    f"no session became free within {self.acquire_timeout} s "
                    f"(max_size={self.max_size}, {len(self._waiters)} still waiting)"
                ) from None
            raise
        if waiter.closed:
            raise PoolClosedError("the pool closed while waiting for a session")
        if waiter.handed is not None:
            return waiter.handed
        return await self._create_reserved()

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gave up (timeout, cancellation): pass on whatever it was given."""
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        if waiter.handed is not None:
            self._in_use.discard(waiter.handed)
            self._hand_over(waiter.handed)
        elif waiter.may_create:
            self._creating -= 1
            self._capacity_freed()

    async def _take_idle(self) -> _Pooled | None:
        while self._idle:
            entry = self._idle.popleft()
            self._in_use.add(entry)
            if self._expired(entry):
                self._retire(entry)
                continue
            idle_for = anyio.current_time() - entry.idle_since
            due = self._health_check is not None and (
                self._suspect_idle or idle_for >= self.health_check_after
            )
            try:
                healthy = not due or await self._healthy(entry)
            except BaseException:  # cancelled mid-check: the session goes back, unharmed
                self._in_use.discard(entry)
                self._hand_over(entry)
                raise
            if not healthy:
                self._retire(entry)
                continue
            if due:
                self._suspect_idle = False  # this one is fine: the server did not restart
            return entry
        return None

    async def _healthy(self, entry: _Pooled) -> bool:
        assert self._health_check is not None
        try:
            return await self._health_check(entry.session)
        except AGBError as exc:
            log.info("session %s failed its health check: %s", entry.session.session_id, exc)
            return False

    async def _create_reserved(self) -> _Pooled:
        """Creates a session for capacity already counted in `_creating`."""
        try:
            session = await self._agb.open_session(self._params)
        except BaseException:
            self._creating -= 1
            self._failed += 1
            self._capacity_freed()
            raise
        self._creating -= 1
        self._created += 1
        now = anyio.current_time()
        entry = _Pooled(session=session, created_at=now, idle_since=now, last_keep_alive=now)
        self._in_use.add(entry)
        return entry

    # --- releasing ------------------------------------------------------------------------

    def _release(self, entry: _Pooled, *, reusable: bool) -> None:
        """Synchronous on purpose: it runs in `finally` blocks, also under cancellation."""
        if entry in self._force_deleted:
            return  # the closing pool already deleted it
        entry.uses += 1
        self._in_use.discard(entry)
        self._returned.set()
        if reusable and not self._closed and not self._expired(entry):
            self._hand_over(entry)
        else:
            self._retire(entry)

    def _hand_over(self, entry: _Pooled) -> None:
        if self._closed:
            self._retire(entry)
            return
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.handed = entry
            self._in_use.add(entry)
            waiter.event.set()
            return
        entry.idle_since = anyio.current_time()
        self._idle.append(entry)

    def _expired(self, entry: _Pooled) -> bool:
        now = anyio.current_time()
        return (
            entry.session.gone  # not found, or its connection failed: never handed out again
            or (self.max_uses is not None and entry.uses >= self.max_uses)
            or (self.max_age is not None and now - entry.created_at >= self.max_age)
            or (self.max_idle is not None and now - entry.idle_since >= self.max_idle)
        )

    def _retire(self, entry: _Pooled) -> None:
        """Deletes a session in the background and gives its capacity to the next in line."""
        if entry.session.gone:
            self._suspect_idle = True
        self._in_use.discard(entry)
        self._recycled += 1
        self._deleting += 1
        assert self._tg is not None
        self._tg.start_soon(self._delete_then_free, entry.session)

    async def _delete_then_free(self, session: AsyncSession) -> None:
        await self._delete(session)
        self._deleting -= 1
        self._capacity_freed()

    def _capacity_freed(self) -> None:
        if self._closed:
            return
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.may_create = True
            self._creating += 1
            waiter.event.set()
        elif self._size < self.min_size and self._tg is not None:
            self._creating += 1
            self._tg.start_soon(self._replenish)

    # --- background work ------------------------------------------------------------------

    async def _prewarm(self) -> None:
        self._creating += self.min_size
        async with anyio.create_task_group() as tg:
            for _ in range(self.min_size):
                tg.start_soon(self._prewarm_one)

    async def _prewarm_one(self) -> None:
        entry = await self._create_reserved()
        self._in_use.discard(entry)
        self._hand_over(entry)

    async def _replenish(self) -> None:
        """Creates one session (capacity already reserved) to get back to `min_size`.

        A failing backend is retried with stamina's backoff (0.5 s, doubling, at most 30 s)
        instead of hammered; a caller waiting for a session gets the capacity at once and
        tries (and sees the error) itself."""
        try:
            async for attempt in stamina.retry_context(
                on=self._retry_replenish, attempts=None, timeout=None
            ):
                with attempt:
                    session = await self._agb.open_session(self._params)
        except BaseException as exc:
            self._creating -= 1
            self._capacity_freed()
            if isinstance(exc, AGBError):
                return  # logged by _retry_replenish; a background task never kills the pool
            raise
        self._replenish_wait = 0.0
        self._creating -= 1
        self._created += 1
        now = anyio.current_time()
        entry = _Pooled(session=session, created_at=now, idle_since=now, last_keep_alive=now)
        self._hand_over(entry)

    def _retry_replenish(self, exc: Exception) -> bool | float:
        """stamina's `on=` for `_replenish`: the wait before the next try, or False."""
        if not isinstance(exc, AGBError):
            return False
        self._failed += 1
        if self._closed or self._waiters:
            log.warning("pool could not replace a session: %s", exc)
            return False
        self._replenish_wait = min(max(self._replenish_wait * 2, 0.5), 30.0)
        log.warning(
            "pool could not replace a session (next try in %.1f s): %s", self._replenish_wait, exc
        )
        return self._replenish_wait

    async def _maintain(self) -> None:
        """Retires sessions idle past `max_idle`/`max_age` and keeps the others alive."""
        periods = [v for v in (self.max_idle, self.max_age, self.keep_alive_interval) if v]
        tick = min([*periods, 5.0]) / 2 if periods else math.inf
        with self._maintenance:
            await self._maintain_every(tick)

    async def _maintain_every(self, tick: float) -> None:
        while True:
            await anyio.sleep(tick)
            now = anyio.current_time()
            for entry in list(self._idle):
                if self._expired(entry):
                    self._idle.remove(entry)
                    self._retire(entry)
                elif (
                    self.keep_alive_interval is not None
                    and now - entry.last_keep_alive >= self.keep_alive_interval
                ):
                    entry.last_keep_alive = now
                    await self._keep_alive(entry)

    async def _keep_alive(self, entry: _Pooled) -> None:
        result = await entry.session.keep_alive()
        if result.success:
            return
        log.info(
            "keep-alive of pooled session %s failed: %s",
            entry.session.session_id,
            result.error_message,
        )
        if entry.session.gone and entry in self._idle:
            self._idle.remove(entry)  # the server no longer has it: replace it now
            self._retire(entry)

    async def _delete(self, session: AsyncSession) -> None:
        """Cleanup: shielded from cancellation, bounded by the client's cleanup timeout."""
        with anyio.move_on_after(self._agb.cleanup_timeout, shield=True) as scope:
            try:
                await session.aclose()
            except Exception as exc:  # logged: a background task must never kill the pool
                log.warning("pool could not delete session %s: %s", session.session_id, exc)
        if scope.cancelled_caught:
            log.warning("pool gave up deleting session %s (timeout)", session.session_id)

    # --- closing --------------------------------------------------------------------------

    async def _close(self) -> None:
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            waiter.closed = True
            waiter.event.set()
        async with anyio.create_task_group() as tg:
            while self._idle:
                tg.start_soon(self._delete, self._idle.popleft().session)
            with anyio.move_on_after(self.close_timeout):
                while self._in_use:
                    self._returned = anyio.Event()
                    await self._returned.wait()
            for entry in list(self._in_use):
                log.warning(
                    "pool closing: deleting session %s still in use", entry.session.session_id
                )
                self._force_deleted.add(entry)
                self._in_use.discard(entry)
                tg.start_soon(self._delete, entry.session)
