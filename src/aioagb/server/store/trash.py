"""Blobs that no file row names any more: recorded in the `trash` table in the same
transaction that drops the rows, removed from disk after the commit. A crash between the two
leaves a trash row, and the next `empty()` (at start-up at the latest) finishes the job.

Emptying the trash also ends clears (§13.4): a context is `clearing` from the ClearContext
request until the blobs of its old files are gone, then `available` again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ... import _protocol as p
from .blobs import BlobStore
from .database import Database


def discard_files(conn: sqlite3.Connection, where: str, args: Sequence[object]) -> int:
    """Inside the caller's transaction: moves the blobs of the `files` rows matching `where`
    (a fixed SQL fragment with `?` parameters) to the trash and deletes those rows."""
    conn.execute(
        f"INSERT OR IGNORE INTO trash (blob, context_id) SELECT blob, context_id FROM files "
        f"WHERE {where}",
        args,
    )
    return conn.execute(f"DELETE FROM files WHERE {where}", args).rowcount


class Trash:
    """Removes trashed blobs from disk and forgets them."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs

    def empty(self) -> int:
        """Removes every trashed blob; returns how many. Contexts whose clear is done become
        available."""
        with self._db.reading() as conn:
            trashed = [row[0] for row in conn.execute("SELECT blob FROM trash")]
        for blob in trashed:
            self._blobs.remove(blob)
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM trash WHERE blob = ?", [(b,) for b in trashed])
            conn.execute(
                "UPDATE contexts SET state = ? WHERE state = ? AND id NOT IN "
                "(SELECT context_id FROM trash WHERE context_id IS NOT NULL)",
                (p.CONTEXT_AVAILABLE, p.CONTEXT_CLEARING),
            )
        return len(trashed)
