"""The live sessions of one AGB Local server: who owns each, its labels, its idle deadline and
its sandbox; listing with label filters and pages; release, idle expiry and shutdown.

State is in memory only: a restart forgets every session (and `make_backend` then removes
the previous run's workspaces). Sessions are scoped by tenant: a lookup with another tenant's
id answers exactly like a session that does not exist.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager

import anyio
import attrs

from .. import _protocol as p
from .envelope import session_not_found
from .pagination import PageTokens
from .sandbox import Sandbox, SandboxBackend

log = logging.getLogger("aioagb.server")

Clock = Callable[[], float]
# Extension point for a per-key quota of live sessions: called with the tenant and its number
# of live sessions before a sandbox is made; raises `ApiError` (the cloud's limit error) to
# refuse. None: no quota (today's behaviour).
AdmissionCheck = Callable[[str, int], None]
# Work that must happen while a released session's sandbox still exists (uploading its
# contexts, §13.10 item 9). Runs shielded; a failure is logged and the release goes on.
ReleaseHook = Callable[["SessionRecord"], Awaitable[None]]


@attrs.define(eq=False)
class SessionRecord:
    """One live session: its owner, ids, labels, idle deadline, status and sandbox."""

    session_id: str
    tenant: str
    image_id: str
    seq: int  # creation order; the key pagination walks
    resource_id: str
    app_instance_id: str
    labels: dict[str, str]
    idle_timeout_s: float
    sandbox: Sandbox
    last_used: float
    status: str = p.STATUS_RUNNING
    in_flight: int = 0  # tool calls running now; a busy session is never idle

    def idle_expired(self, now: float) -> bool:
        """Whether the session is running, not busy, and idle past its timeout at `now`."""
        return (
            self.status == p.STATUS_RUNNING
            and self.in_flight == 0
            and now - self.last_used >= self.idle_timeout_s
        )


@attrs.frozen
class Page:
    """One page of a listing."""

    sessions: list[SessionRecord]
    next_token: str  # "" on the last page (§3.4: the client's page loop stops on "")
    count: int  # every match, on all pages


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(8)}"


class Registry:
    """Every live session of one server, by id, with their sandboxes from `backend`."""

    def __init__(
        self,
        backend: SandboxBackend,
        *,
        release_timeout_s: float = 30.0,
        clock: Clock = time.monotonic,
        admit: AdmissionCheck | None = None,
        before_release: ReleaseHook | None = None,
    ) -> None:
        self.backend = backend
        self._admit = admit
        self._before_release = before_release
        self._release_timeout_s = release_timeout_s
        self._clock = clock
        self._sessions: dict[str, SessionRecord] = {}
        self._creating: dict[str, int] = {}  # tenant -> creations between admission and insert
        self._next_seq = 0
        self._tokens = PageTokens()

    def __len__(self) -> int:
        return len(self._sessions)

    def count(self, tenant: str) -> int:
        """Sessions `tenant` holds, released ones excluded."""
        return sum(1 for record in self._sessions.values() if record.tenant == tenant)

    async def create(
        self,
        tenant: str,
        image_id: str,
        labels: Mapping[str, str],
        idle_timeout_s: float,
        sync_paths: Sequence[str] = (),
        *,
        browser: bool = False,
    ) -> SessionRecord:
        """Admits the tenant (quota), makes the session's sandbox (with directories at
        `sync_paths`, where contexts are mounted; a browser session's with `browser`) and
        records it as running."""
        if self._admit is not None:
            # Creations still in progress count too: the check and the insert are apart by
            # an await, and concurrent creates must not all pass the same check.
            self._admit(tenant, self.count(tenant) + self._creating.get(tenant, 0))
        session_id = _new_id("session")
        self._creating[tenant] = self._creating.get(tenant, 0) + 1
        try:
            sandbox = await self.backend.create(session_id, sync_paths, browser=browser)
        finally:
            self._creating[tenant] -= 1
            if not self._creating[tenant]:
                del self._creating[tenant]
        self._next_seq += 1
        record = SessionRecord(
            session_id=session_id,
            tenant=tenant,
            image_id=image_id,
            seq=self._next_seq,
            resource_id=_new_id("r"),
            app_instance_id=_new_id("ai"),
            labels=dict(labels),
            idle_timeout_s=idle_timeout_s,
            sandbox=sandbox,
            last_used=self._clock(),
        )
        self._sessions[session_id] = record
        log.info("session %s created for tenant %s (%s)", session_id, tenant, image_id)
        return record

    def lookup(
        self, tenant: str, session_id: str, *, deleting_ok: bool = False, touch: bool = True
    ) -> SessionRecord:
        """The caller's live session, touched unless `touch` is false (an API call on a
        session restarts its idle timer). Unknown, released, expired and other tenants'
        sessions are all "not found"."""
        record = self._sessions.get(session_id)
        if record is None or record.tenant != tenant:
            raise session_not_found()
        if record.status != p.STATUS_RUNNING and not deleting_ok:
            raise session_not_found()
        if touch:
            record.last_used = self._clock()
        return record

    @asynccontextmanager
    async def busy(self, record: SessionRecord) -> AsyncIterator[None]:
        """Marks a call in progress, so the reaper does not release a session mid-call."""
        record.in_flight += 1
        try:
            yield
        finally:
            record.in_flight -= 1
            record.last_used = self._clock()

    def set_labels(self, record: SessionRecord, labels: Mapping[str, str]) -> None:
        """Replaces the session's labels."""
        record.labels = dict(labels)  # replace, never merge (§3.5)

    def list(self, tenant: str, labels: Mapping[str, str], limit: int, token: str | None) -> Page:
        """The tenant's running sessions whose labels include every given pair, in creation
        order, one page after `token`."""
        after_seq = self._tokens.resolve(tenant, labels, token) if token else 0
        matches = [
            record
            for record in self._sessions.values()
            if record.tenant == tenant
            and record.status == p.STATUS_RUNNING
            and all(record.labels.get(key) == value for key, value in labels.items())
        ]
        rest = [record for record in matches if record.seq > after_seq]
        page = rest[:limit]
        more = len(rest) > limit
        next_token = self._tokens.issue(tenant, labels, page[-1].seq) if more else ""
        return Page(sessions=page, next_token=next_token, count=len(matches))

    async def release(self, record: SessionRecord) -> None:
        """RUNNING -> DELETING -> gone: ends the sandbox's processes and removes its files.
        Shielded and bounded, so neither a cancelled request nor a stuck sandbox leaves the
        session half-released."""
        if record.status != p.STATUS_RUNNING:
            return
        record.status = p.STATUS_DELETING
        with anyio.CancelScope(shield=True):
            if self._before_release is not None:
                try:
                    await self._before_release(record)
                except Exception:
                    log.exception("session %s: work before its release failed", record.session_id)
            try:
                with anyio.move_on_after(self._release_timeout_s) as scope:
                    await record.sandbox.aclose()
                if scope.cancelled_caught:
                    log.error("session %s: sandbox did not close in time", record.session_id)
            except Exception:
                log.exception("session %s: closing its sandbox failed", record.session_id)
            finally:
                self._sessions.pop(record.session_id, None)
        log.info("session %s released", record.session_id)

    async def release_idle(self) -> int:
        """Releases every session whose idle timeout has passed; returns how many."""
        now = self._clock()
        expired = [record for record in self._sessions.values() if record.idle_expired(now)]
        async with anyio.create_task_group() as tg:
            for record in expired:
                log.info("session %s idle for %.0f s", record.session_id, record.idle_timeout_s)
                tg.start_soon(self.release, record)
        return len(expired)

    async def aclose(self) -> None:
        """Server shutdown: releases every session, then ends the backend."""
        async with anyio.create_task_group() as tg:
            for record in list(self._sessions.values()):
                tg.start_soon(self.release, record)
        with anyio.CancelScope(shield=True), anyio.move_on_after(self._release_timeout_s):
            await self.backend.aclose()


async def reap_idle_sessions(registry: Registry, interval_s: float) -> None:
    """Runs until cancelled. A failing sweep is logged and retried: the reaper must outlive
    any one bad sandbox, and its failure must never take the server down."""
    while True:
        await anyio.sleep(interval_s)
        try:
            await registry.release_idle()
        except Exception:
            log.exception("idle sweep failed")
