"""One sync task, blocking: copy a session's files into a context (upload) or a context's
files into a session (download), with the mount's policy (agb-wire.md §13.10).

An upload is all or nothing: every changed file is copied into a sealed blob first, then one
store commit puts them all and drops what the session deleted; a failure before that commit
changes nothing. Files whose size and mtime match what the context holds are not copied
again (downloads give files their stored mtime, so a round trip costs nothing the next time).

Run from a worker thread (`ContextStore.run`); errors the user can act on are `SyncFailed`,
whose message becomes the task's `errorMessage`.
"""

from __future__ import annotations

import time
from typing import BinaryIO

import attrs

from ..envelope import ApiError
from ..sandbox import HostFile, SandboxFileError, SessionFiles
from ..store import ContextStore, FilePut, FileRecord
from ..store.errors import storage_quota_exceeded
from ..store.paths import join, parent, relative
from .archive import ARCHIVE_NAME, ArchiveError, pack, unpack
from .policy import SyncPolicy


class SyncFailed(Exception):
    """A sync task failed for a reason its owner can read."""


@attrs.frozen
class SyncScope:
    """What one task syncs: part of a mount (or a plain path), with its policy."""

    tenant: str
    context_id: str
    mount_path: str  # the sandbox directory the policy's relative paths start from
    source: str  # the context folder downloads read (the mapping policy's, else mount_path)
    within: str  # the part synced, relative to mount_path ("": all of it)
    policy: SyncPolicy

    @property
    def local(self) -> str:
        """The sandbox path synced."""
        return join(self.mount_path, self.within)


def _rel(*parts: str) -> str:
    return "/".join(part for part in parts if part)


# --- session -> context ---------------------------------------------------------------------


def upload(store: ContextStore, files: SessionFiles, scope: SyncScope) -> None:
    """Copies the session's files of `scope` into the context (§13.10 items 4, 7, 8)."""
    if scope.policy.archive:
        _upload_archive(store, files, scope)
        return
    if files.kind(scope.local) is None:
        raise SyncFailed(f"No such file or directory in the session: {scope.local}")
    mine: dict[str, tuple[str, HostFile]] = {}
    for found in files.files(scope.local):
        rel = _rel(scope.within, found.rel)
        if scope.policy.includes(rel):
            mine[join(scope.mount_path, rel)] = (rel, found)
    stored = {r.path: r for r in store.files.within(scope.context_id, scope.local)}
    changed = [key for key, (_, f) in mine.items() if not _same(stored.get(key), f)]
    deletes = []
    if scope.policy.sync_local_deletes:
        deletes = [
            key
            for key in stored
            if key not in mine and scope.policy.includes(relative(key, scope.mount_path))
        ]
    added = sum(mine[key][1].size for key in changed)
    freed = sum(stored[key].size for key in [*changed, *deletes] if key in stored)
    _check_room(store, scope.tenant, added, freed)
    now = store.clock()
    puts: list[FilePut] = []
    try:
        for key in changed:
            rel, found = mine[key]
            put = _copy_in(store, files, key, found, scope.policy.expiry(rel, now))
            if put is not None:
                puts.append(put)
    except BaseException:
        for put in puts:
            store.blobs.remove(put.blob)
        raise
    _commit(store, scope, puts, deletes)


def _same(stored: FileRecord | None, found: HostFile) -> bool:
    return stored is not None and (stored.size, stored.mtime_ns) == (found.size, found.mtime_ns)


def _check_room(store: ContextStore, tenant: str, added: int, freed: int) -> None:
    """Fails early, before copying, when the upload cannot fit the quota (the commit checks
    again, exactly)."""
    quota = store.files.quota
    if quota is not None and added > freed and store.files.usage(tenant) - freed + added > quota:
        raise SyncFailed(storage_quota_exceeded(quota).message)


def _copy_in(
    store: ContextStore, files: SessionFiles, key: str, found: HostFile, expires: float | None
) -> FilePut | None:
    try:
        source = files.open_read(key)
    except SandboxFileError:
        return None  # removed or replaced since it was listed: not the session's file now
    with source, store.blobs.stage() as staged:
        staged.copy_from(source)
        blob = staged.seal()
    return FilePut(key, blob, staged.size, found.mtime_ns, expires)


def _upload_archive(store: ContextStore, files: SessionFiles, scope: SyncScope) -> None:
    """Archive mode: the mount's whole tree as one zip at `<mount>/agb-archive.zip`."""
    mount = scope.mount_path
    if files.kind(mount) != "dir":
        raise SyncFailed(f"No such directory in the session: {mount}")
    members = [f for f in files.files(mount) if scope.policy.includes(f.rel)]
    _check_room(store, scope.tenant, sum(f.size for f in members), 0)
    key = join(mount, ARCHIVE_NAME)
    with store.blobs.stage() as staged:
        pack(files, mount, members, staged)
        blob = staged.seal()
    expires = scope.policy.expiry(ARCHIVE_NAME, store.clock())
    put = FilePut(key, blob, staged.size, time.time_ns(), expires)
    deletes = []
    if scope.policy.sync_local_deletes:
        deletes = [
            r.path
            for r in store.files.within(scope.context_id, mount)
            if r.path != key and scope.policy.includes(relative(r.path, mount))
        ]
    _commit(store, scope, [put], deletes)


def _commit(store: ContextStore, scope: SyncScope, puts: list[FilePut], deletes: list[str]) -> None:
    try:
        store.files.commit(scope.tenant, scope.context_id, puts, deletes, replace_conflicts=True)
    except ApiError as exc:  # quota, or the context deleted meanwhile
        raise SyncFailed(exc.message) from None


# --- context -> session ---------------------------------------------------------------------


def download(store: ContextStore, files: SessionFiles, scope: SyncScope, limit: int) -> int:
    """Copies the context's files of `scope` into the session (§13.10 items 3, 5, 7, 8);
    at most `limit` bytes (the session's workspace quota). Returns the files written."""
    source = join(scope.source, scope.within)
    wanted = [
        (rel, record)
        for record in store.files.within(scope.context_id, source)
        if scope.policy.includes(rel := relative(record.path, scope.source))
    ]
    total = sum(record.size for _, record in wanted)
    if total > limit:
        raise SyncFailed(
            f"The context's files ({total} bytes) do not fit the session's {limit} bytes"
        )
    if not any(record.path == source for _, record in wanted):
        files.make_dirs(scope.local)  # the path exists even when the context has nothing
    written = 0
    for rel, record in wanted:
        written += _place(store, files, scope, rel, record, limit)
    return written


def _place(
    store: ContextStore,
    files: SessionFiles,
    scope: SyncScope,
    rel: str,
    record: FileRecord,
    limit: int,
) -> int:
    dest = join(scope.mount_path, rel)
    policy = scope.policy
    blob = _open_blob(store, record)
    if blob is None:
        return 0
    with blob:
        try:
            if rel == ARCHIVE_NAME:  # the mount's own tree, back where it was
                return unpack(blob, files, scope.mount_path, limit)
            if policy.extract and record.path.lower().endswith(".zip"):
                into = parent(dest) if policy.extract_here else dest[: -len(".zip")]
                count = unpack(blob, files, into, limit)
                if not policy.delete_source:
                    blob.seek(0)
                    files.write(dest, blob, record.mtime_ns)
                    count += 1
                return count
        except ArchiveError as exc:
            raise SyncFailed(f"{record.path}: {exc}") from None
        files.write(dest, blob, record.mtime_ns)
        return 1


def _open_blob(store: ContextStore, record: FileRecord) -> BinaryIO | None:
    """The file's bytes; when a newer version replaced it meanwhile, that one's; None when
    the file is gone."""
    try:
        return store.blobs.open(record.blob)
    except FileNotFoundError:
        pass
    try:
        newer = store.files.get(record.context_id, record.path)
        return store.blobs.open(newer.blob)
    except (ApiError, FileNotFoundError):
        return None
