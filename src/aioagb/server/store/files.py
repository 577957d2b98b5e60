"""The `files` table: a context's files by key (§13.5, §13.10), folder listings, the
tenant's storage quota, and the one way files change: `commit`, a single transaction that
puts new versions (blobs sealed beforehand) and drops old ones.

Expired files (a recycle policy's lifecycle ran out) are invisible to every read and are
dropped by the next commit to their context or by the store's maintenance. Blocking: call
from a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence

from .blobs import BlobStore
from .database import Database
from .errors import context_not_found, file_conflict, file_not_found, storage_quota_exceeded
from .paths import ancestors, join, range_under
from .records import FilePut, FileRecord, FolderEntry, from_row
from .trash import Trash, discard_files

Clock = Callable[[], float]
_ALIVE = "(expires_at IS NULL OR expires_at > ?)"


class FileTable:
    """Context files, their quota and their changes."""

    def __init__(
        self, db: Database, blobs: BlobStore, trash: Trash, clock: Clock, quota: int | None
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._trash = trash
        self._clock = clock
        self.quota = quota  # bytes one tenant's contexts may hold; None: no limit

    # --- reads -----------------------------------------------------------------------------

    def get(self, context_id: str, path: str) -> FileRecord:
        """The file at `path`; 404 when there is none (or it expired)."""
        with self._db.reading() as conn:
            row = conn.execute(
                f"SELECT * FROM files WHERE context_id = ? AND path = ? AND {_ALIVE}",
                (context_id, path, self._clock()),
            ).fetchone()
        if row is None:
            raise file_not_found(path)
        return from_row(FileRecord, row)

    def within(self, context_id: str, folder: str) -> list[FileRecord]:
        """The files at `folder` (when it is a file) and below it, by key."""
        lo, hi = range_under(folder)
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT * FROM files WHERE context_id = ? AND (path = ? OR (path >= ? AND "
                f"path < ?)) AND {_ALIVE} ORDER BY path",
                (context_id, folder, lo, hi, self._clock()),
            ).fetchall()
        return [from_row(FileRecord, row) for row in rows]

    def folder_page(
        self, context_id: str, folder: str, page_number: int, page_size: int
    ) -> tuple[list[FolderEntry], int]:
        """The entries directly in `folder` (files, and folders implied by deeper keys), one
        page of them (pages count from 1), and how many there are in all."""
        entries: dict[str, FolderEntry] = {}
        for record in self.within(context_id, folder):
            if record.path == folder:
                continue  # `folder` names a file: it has no entries
            rest = record.path[len(range_under(folder)[0]) :]
            first, _, deeper = rest.partition("/")
            key = join(folder, first)
            if key not in entries:
                entries[key] = FolderEntry(key, None if deeper else record)
        listed = list(entries.values())
        start = (page_number - 1) * page_size
        return listed[start : start + page_size], len(listed)

    def usage(self, tenant: str) -> int:
        """Bytes the tenant's contexts hold (internal ones included)."""
        with self._db.reading() as conn:
            return self._usage(conn, tenant)

    @staticmethod
    def _usage(conn: sqlite3.Connection, tenant: str) -> int:
        row = conn.execute(
            "SELECT COALESCE(SUM(f.size), 0) FROM files f JOIN contexts c ON c.id = f.context_id"
            " WHERE c.tenant = ?",
            (tenant,),
        ).fetchone()
        return int(row[0])

    def room(self, tenant: str, context_id: str, path: str) -> int | None:
        """How many bytes a new version of `path` may have within the quota (None: no
        limit). A check ahead of a copy; `commit` checks again."""
        if self.quota is None:
            return None
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT size FROM files WHERE context_id = ? AND path = ?", (context_id, path)
            ).fetchone()
            used = self._usage(conn, tenant)
        return max(0, self.quota - used + (row[0] if row else 0))

    # --- the one way files change --------------------------------------------------------

    def commit(
        self,
        tenant: str,
        context_id: str,
        puts: Sequence[FilePut],
        deletes: Iterable[str] = (),
        *,
        replace_conflicts: bool = False,
    ) -> None:
        """In one transaction: stores `puts` (whose blobs are sealed) and drops `deletes`,
        within the tenant's quota. A key that would be both a file and a folder is a 409,
        unless `replace_conflicts` (a sync from a real tree: the tree is the truth) drops
        the old key. On any failure nothing changes and the new blobs are removed; on
        success the old versions' blobs are removed."""
        try:
            with self._db.transaction() as conn:
                self._check_context(conn, tenant, context_id)
                now = self._clock()
                discard_files(
                    conn, "context_id = ? AND NOT " + _ALIVE, (context_id, now)
                )  # expired files are gone: they neither conflict nor count
                drop = set(deletes) - {put.path for put in puts}
                drop |= self._conflicts(conn, context_id, puts, drop, replace_conflicts)
                self._check_quota(conn, tenant, context_id, puts, drop)
                for path in drop:
                    discard_files(conn, "context_id = ? AND path = ?", (context_id, path))
                for put in puts:
                    self._put(conn, context_id, put, now)
                conn.execute("UPDATE contexts SET last_used_at = ? WHERE id = ?", (now, context_id))
        except BaseException:
            for put in puts:
                self._blobs.remove(put.blob)
            raise
        self._trash.empty()

    def delete(self, tenant: str, context_id: str, path: str) -> int:
        """Drops the file at `path`, or every file in the folder `path`; 404 when there is
        neither. Returns how many files went."""
        lo, hi = range_under(path)
        with self._db.transaction() as conn:
            self._check_context(conn, tenant, context_id)
            gone = discard_files(
                conn,
                "context_id = ? AND (path = ? OR (path >= ? AND path < ?))",
                (context_id, path, lo, hi),
            )
            if not gone:
                raise file_not_found(path)
        self._trash.empty()
        return gone

    # --- inside a commit ------------------------------------------------------------------

    @staticmethod
    def _check_context(conn: sqlite3.Connection, tenant: str, context_id: str) -> None:
        found = conn.execute(
            "SELECT 1 FROM contexts WHERE id = ? AND tenant = ?", (context_id, tenant)
        ).fetchone()
        if found is None:
            raise context_not_found()  # deleted meanwhile, or never the tenant's

    @staticmethod
    def _conflicts(
        conn: sqlite3.Connection,
        context_id: str,
        puts: Sequence[FilePut],
        drop: set[str],
        replace: bool,
    ) -> set[str]:
        """Keys that clash with a put (a file above it, or files below it)."""
        putting = {put.path for put in puts}
        clashes: set[str] = set()
        for put in puts:
            above = [a for a in ancestors(put.path) if a in putting]
            if above:
                raise file_conflict(put.path, above[0])
            lo, hi = range_under(put.path)
            rows = conn.execute(
                "SELECT path FROM files WHERE context_id = ? AND (path >= ? AND path < ?"
                f" OR path IN ({','.join('?' * len(ancestors(put.path))) or 'NULL'}))",
                (context_id, lo, hi, *ancestors(put.path)),
            ).fetchall()
            for (other,) in rows:
                if other in drop or other in clashes:
                    continue
                if not replace:
                    raise file_conflict(put.path, other)
                clashes.add(other)
        return clashes

    def _check_quota(
        self,
        conn: sqlite3.Connection,
        tenant: str,
        context_id: str,
        puts: Sequence[FilePut],
        drop: set[str],
    ) -> None:
        if self.quota is None:
            return
        replaced = {put.path for put in puts} | drop
        freed = 0
        for path in replaced:
            row = conn.execute(
                "SELECT size FROM files WHERE context_id = ? AND path = ?", (context_id, path)
            ).fetchone()
            freed += row[0] if row else 0
        added = sum(put.size for put in puts)
        used = self._usage(conn, tenant)
        # A change that frees space always passes, so a tenant over its quota (after the
        # quota was lowered) can still clean up.
        if added > freed and used - freed + added > self.quota:
            raise storage_quota_exceeded(self.quota)

    @staticmethod
    def _put(conn: sqlite3.Connection, context_id: str, put: FilePut, now: float) -> None:
        old = conn.execute(
            "SELECT created_at FROM files WHERE context_id = ? AND path = ?",
            (context_id, put.path),
        ).fetchone()
        discard_files(conn, "context_id = ? AND path = ?", (context_id, put.path))
        conn.execute(
            "INSERT INTO files (context_id, path, blob, size, mtime_ns, created_at,"
            " modified_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                context_id,
                put.path,
                put.blob,
                put.size,
                put.mtime_ns,
                old[0] if old else now,
                now,
                put.expires_at,
            ),
        )
