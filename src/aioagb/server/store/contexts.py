"""The `contexts` table: a tenant's named contexts (get, get-or-create, list, rename, delete,
clear, §13.1-§13.4) and the per-session internal contexts of file transfer (§14).

Every lookup names the tenant: another tenant's context is "not found", exactly like one
that never existed. Blocking: call from a worker thread.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable

from ... import _protocol as p
from ..envelope import bad_request
from .database import Database
from .errors import context_name_taken, context_not_found
from .records import KIND_FILE_TRANSFER, KIND_USER, ContextRecord, from_row
from .trash import discard_files

MAX_NAME_CHARS = 255
Clock = Callable[[], float]


def checked_name(raw: str, what: str = "name") -> str:
    """A context name: trimmed (as the official client does), not empty, printable."""
    name = raw.strip()
    if not name:
        raise bad_request(f"{what} must not be empty")
    if len(name) > MAX_NAME_CHARS:
        raise bad_request(f"{what} is longer than {MAX_NAME_CHARS} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise bad_request(f"{what} must not contain control characters")
    return name


def _new_id() -> str:
    return f"SdkCtx-{secrets.token_hex(10)}"  # the cloud's ids look like `SdkCtx-...`


class ContextTable:
    """Contexts by tenant."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def get(self, tenant: str, context_id: str, *, internal_ok: bool = False) -> ContextRecord:
        """The tenant's context `context_id`; 404 for anything else (internal contexts only
        when `internal_ok`: the file routes reach them, the management routes do not)."""
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT * FROM contexts WHERE id = ? AND tenant = ?", (context_id, tenant)
            ).fetchone()
        if row is None:
            raise context_not_found()
        record = from_row(ContextRecord, row)
        if record.internal and not internal_ok:
            raise context_not_found()
        return record

    def get_by_name(self, tenant: str, name: str, *, create: bool) -> ContextRecord:
        """The tenant's context named `name`; made when missing and `create` (get-or-create:
        an existing name always gives the same id, §13.3)."""
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM contexts WHERE tenant = ? AND name = ?", (tenant, name)
            ).fetchone()
            if row is None:
                if not create:
                    raise context_not_found()
                row = self._insert(conn, tenant, name, KIND_USER, None)
        return from_row(ContextRecord, row)

    def _insert(
        self, conn: sqlite3.Connection, tenant: str, name: str | None, kind: str, owner: str | None
    ) -> sqlite3.Row:
        now, context_id = self._clock(), _new_id()
        conn.execute(
            "INSERT INTO contexts (id, tenant, name, kind, owner_session, state, created_at,"
            " last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (context_id, tenant, name, kind, owner, p.CONTEXT_AVAILABLE, now, now),
        )
        row: sqlite3.Row = conn.execute(
            "SELECT * FROM contexts WHERE id = ?", (context_id,)
        ).fetchone()
        return row

    def page(
        self, tenant: str, limit: int, after_seq: int
    ) -> tuple[list[ContextRecord], bool, int]:
        """One page of the tenant's contexts in creation order after `after_seq`: the
        records, whether more follow, and how many there are in all."""
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM contexts WHERE tenant = ? AND kind = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (tenant, KIND_USER, after_seq, limit + 1),
            ).fetchall()
            total = conn.execute(
                "SELECT COUNT(*) FROM contexts WHERE tenant = ? AND kind = ?", (tenant, KIND_USER)
            ).fetchone()[0]
        records = [from_row(ContextRecord, row) for row in rows]
        return records[:limit], len(records) > limit, int(total)

    def rename(self, tenant: str, context_id: str, name: str) -> None:
        """Gives the context a new name (409 when the tenant has another context by it)."""
        self.get(tenant, context_id)
        with self._db.transaction() as conn:
            clash = conn.execute(
                "SELECT id FROM contexts WHERE tenant = ? AND name = ? AND id != ?",
                (tenant, name, context_id),
            ).fetchone()
            if clash is not None:
                raise context_name_taken(name)
            updated = conn.execute(
                "UPDATE contexts SET name = ? WHERE id = ? AND tenant = ? AND kind = ?",
                (name, context_id, tenant, KIND_USER),
            ).rowcount
            if not updated:
                raise context_not_found()

    def delete(self, tenant: str, context_id: str, *, internal_ok: bool = False) -> None:
        """Removes the context and its files (their blobs go to the trash)."""
        kinds = (KIND_USER, KIND_FILE_TRANSFER if internal_ok else KIND_USER)
        with self._db.transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM contexts WHERE id = ? AND tenant = ? AND kind IN (?, ?)",
                (context_id, tenant, *kinds),
            ).rowcount
            if not deleted:
                raise context_not_found()
            discard_files(conn, "context_id = ?", (context_id,))

    def clear(self, tenant: str, context_id: str) -> None:
        """Drops every file of the context but keeps its id and name; the context is
        `clearing` until the trash is emptied (§13.4)."""
        with self._db.transaction() as conn:
            updated = conn.execute(
                "UPDATE contexts SET state = ? WHERE id = ? AND tenant = ? AND kind = ?",
                (p.CONTEXT_CLEARING, context_id, tenant, KIND_USER),
            ).rowcount
            if not updated:
                raise context_not_found()
            discard_files(conn, "context_id = ?", (context_id,))

    def touch(self, context_id: str) -> None:
        """Records that a session used the context now (its `lastUsedTime`)."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE contexts SET last_used_at = ? WHERE id = ?", (self._clock(), context_id)
            )

    # --- internal contexts (file transfer, §14) -----------------------------------------

    def internal_for(self, tenant: str, session_id: str) -> ContextRecord:
        """The session's file-transfer context, made on first use."""
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM contexts WHERE owner_session = ? AND kind = ?",
                (session_id, KIND_FILE_TRANSFER),
            ).fetchone()
            if row is None:
                row = self._insert(conn, tenant, None, KIND_FILE_TRANSFER, session_id)
        record = from_row(ContextRecord, row)
        if record.tenant != tenant:
            raise context_not_found()
        return record

    def drop_internal(self, session_id: str | None = None) -> int:
        """Deletes the internal contexts of `session_id` (of every session when None: at
        start-up, when no session of a previous run is alive). Returns how many."""
        with self._db.transaction() as conn:
            where, args = "kind = ?", [KIND_FILE_TRANSFER]
            if session_id is not None:
                where, args = where + " AND owner_session = ?", [*args, session_id]
            ids = [row[0] for row in conn.execute(f"SELECT id FROM contexts WHERE {where}", args)]
            for context_id in ids:
                discard_files(conn, "context_id = ?", (context_id,))
            conn.execute(f"DELETE FROM contexts WHERE {where}", args)
        return len(ids)
