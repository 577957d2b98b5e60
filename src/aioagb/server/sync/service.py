"""`SyncService`: the contexts of live sessions (agb-wire.md §13.6-§13.8, §14).

It keeps, per session, the mounts its create asked for, the status board GetContextInfo
reads, and its file-transfer context; it runs the downloads at create, the syncs SyncContext
asks for, and the uploads before release. A session's tasks run one at a time (a lock), each
in a worker thread; the request that asked waits for its end, so when SyncContext answers,
what it uploaded is committed (durable) and GetContextInfo already says `Success` or
`Failed`.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import anyio
import attrs

from ... import _protocol as p
from ..envelope import ApiError, bad_request, session_not_found
from ..registry import SessionRecord
from ..sandbox import SandboxError, SessionFiles
from ..store import ContextRecord, ContextStore
from ..store.paths import folder_key, relative
from .board import StatusBoard
from .engine import SyncFailed, SyncScope, download, upload
from .mounts import Mount
from .policy import PLAIN_COPY

log = logging.getLogger("aioagb.server.sync")

TRANSFER_PATH = "/tmp/file_transfer"  # where §14's context lives in the session
SYNC_MODES = (p.SYNC_UPLOAD, p.SYNC_DOWNLOAD)


@attrs.define
class SessionContexts:
    """One session's mounts, tasks and file-transfer context."""

    tenant: str
    mounts: list[Mount]
    board: StatusBoard = attrs.field(factory=StatusBoard)
    lock: anyio.Lock = attrs.field(factory=anyio.Lock)
    transfer_context: str | None = None


@attrs.frozen
class _Task:
    raw_path: str  # what the status entry says
    task_type: str
    scope: SyncScope


class SyncService:
    """The contexts of every live session of one server."""

    def __init__(self, store: ContextStore, download_limit: int) -> None:
        self._store = store
        self._download_limit = download_limit  # bytes one download may write (workspace quota)
        self._sessions: dict[str, SessionContexts] = {}

    # --- create (§13.6) --------------------------------------------------------------------

    async def check_mounts(self, tenant: str, mounts: Sequence[Mount]) -> None:
        """Every mounted context must be the tenant's (§13.10 item 2); 400 otherwise."""
        for mount in mounts:
            try:
                await self._store.run(self._store.contexts.get, tenant, mount.context_id)
            except ApiError as exc:
                raise bad_request(
                    f"persistenceDataList: context {mount.context_id!r}: {exc.message}"
                ) from None

    async def attach(self, record: SessionRecord, mounts: Sequence[Mount]) -> None:
        """A new session's mounts: each path made, and the contexts with autoDownload copied
        in before the create answers (their status entries are terminal by then)."""
        if not mounts:
            return
        async with self._locked(record) as state:
            state.mounts = list(mounts)
            files = await self._files(record)
            for mount in mounts:
                if mount.policy.auto_download:
                    task = _Task(mount.raw_path, p.SYNC_DOWNLOAD, self._scope(state, mount, ""))
                    await self._run(state, files, task)
                elif files is not None:
                    await self._quietly(files.make_dirs, mount.path)

    # --- SyncContext (§13.8) and GetContextInfo (§13.7) ------------------------------------

    async def sync(
        self, record: SessionRecord, context_id: str | None, path: str | None, mode: str
    ) -> None:
        """Runs the syncs SyncContext asks for and records their tasks."""
        async with self._locked(record) as state:
            tasks = await self._plan(state, context_id, path, mode)
            files = await self._files(record)
            for task in tasks:
                await self._run(state, files, task)

    def info(
        self,
        record: SessionRecord,
        context_id: str | None,
        path: str | None,
        task_type: str | None,
    ) -> str:
        """GetContextInfo's `contextStatus` for the session."""
        state = self._sessions.get(record.session_id)
        return "" if state is None else state.board.render(context_id, path, task_type)

    async def _plan(
        self, state: SessionContexts, context_id: str | None, path: str | None, mode: str
    ) -> list[_Task]:
        if context_id is None or path is None:
            # A session-wide sync: every mount, except (for uploads) those whose policy
            # keeps them read-only (autoUpload off: the browser's extension and fingerprint
            # mounts, §13.10 item 4).
            return [
                _Task(m.raw_path, mode, self._scope(state, m, ""))
                for m in state.mounts
                if mode == p.SYNC_DOWNLOAD or m.policy.auto_upload
            ]
        canonical = folder_key(path, "path")
        mounts = [m for m in state.mounts if m.context_id == context_id and m.holds(canonical)]
        if mounts:
            mount = max(mounts, key=lambda m: len(m.path))
            within = relative(canonical, mount.path)
            return [_Task(path, mode, self._scope(state, mount, within))]
        # A path no mount of this context covers (file transfer's sub-directories, §14.4): a
        # plain copy, for a context the caller owns.
        await self._store.run(self._store.contexts.get, state.tenant, context_id, internal_ok=True)
        scope = SyncScope(state.tenant, context_id, canonical, canonical, "", PLAIN_COPY)
        return [_Task(path, mode, scope)]

    @staticmethod
    def _scope(state: SessionContexts, mount: Mount, within: str) -> SyncScope:
        return SyncScope(state.tenant, mount.context_id, mount.path, mount.source, within,
                         mount.policy)  # fmt: skip

    # --- running tasks ---------------------------------------------------------------------

    async def _files(self, record: SessionRecord) -> SessionFiles | None:
        try:
            return await record.sandbox.host_files()
        except SandboxError as exc:
            log.warning("session %s: its files are not reachable: %s", record.session_id, exc)
            return None

    async def _run(self, state: SessionContexts, files: SessionFiles | None, task: _Task) -> None:
        """Runs one task to its end and records how it ended on the session's board."""
        scope = task.scope
        entry = state.board.start(scope.context_id, task.raw_path, task.task_type)
        error: str | None = None
        try:
            if files is None:
                raise SyncFailed("the session's files are not reachable")
            if task.task_type == p.SYNC_UPLOAD:
                await self._store.run(upload, self._store, files, scope)
            else:
                await self._store.run(download, self._store, files, scope, self._download_limit)
            await self._store.run(self._store.contexts.touch, scope.context_id)
        except (SyncFailed, SandboxError) as exc:
            error = str(exc)
        except ApiError as exc:
            error = exc.message
        except (OSError, zipfile.BadZipFile) as exc:
            log.exception("sync task of %s failed", scope.context_id)
            error = f"I/O error: {exc.strerror if isinstance(exc, OSError) else exc}"
        state.board.finish(entry, error)
        if error:
            log.info("%s %s of %s failed: %s", task.task_type, task.raw_path, scope.context_id,
                     error)  # fmt: skip

    async def _quietly(self, make_dirs: Callable[[str], None], path: str) -> None:
        try:
            await self._store.run(make_dirs, path)
        except (SandboxError, OSError) as exc:
            log.info("could not make the sync path %s: %s", path, exc)

    @asynccontextmanager
    async def _locked(self, record: SessionRecord) -> AsyncIterator[SessionContexts]:
        """The session's state, its lock held, while the session still runs: a request that
        passed its lookup just before a release must not bring the state back after
        `detach` (the release marks the session DELETING before it takes the lock)."""
        state = self._sessions.get(record.session_id)
        if state is None and record.status == p.STATUS_RUNNING:
            state = self._sessions[record.session_id] = SessionContexts(record.tenant, [])
        if state is None:
            raise session_not_found()
        async with state.lock:
            if record.status != p.STATUS_RUNNING:
                raise session_not_found()
            yield state

    # --- file transfer (§14.1) -------------------------------------------------------------

    async def transfer_context(self, record: SessionRecord) -> tuple[ContextRecord, str]:
        """The session's file-transfer context (made on first use) and its path."""
        async with self._locked(record) as state:
            context = await self._store.run(
                self._store.contexts.internal_for, record.tenant, record.session_id
            )
            if state.transfer_context is None:
                files = await self._files(record)
                if files is not None:
                    await self._quietly(files.make_dirs, TRANSFER_PATH)
                state.transfer_context = context.id
        return context, TRANSFER_PATH

    # --- release (§13.10 item 9) -----------------------------------------------------------

    async def detach(self, record: SessionRecord) -> None:
        """Before a session's sandbox goes: uploads its mounts with autoUpload
        (UploadBeforeResourceRelease), then drops its file-transfer context."""
        state = self._sessions.get(record.session_id)
        if state is None:
            return
        try:
            async with state.lock:
                uploads = [
                    _Task(m.raw_path, p.SYNC_UPLOAD, self._scope(state, m, ""))
                    for m in state.mounts
                    if m.policy.auto_upload
                ]
                if uploads:
                    files = await self._files(record)
                    for task in uploads:
                        await self._run(state, files, task)
                if state.transfer_context is not None:
                    await self._store.run(self._store.contexts.drop_internal, record.session_id)
        finally:
            self._sessions.pop(record.session_id, None)
