"""The store's metadata: one SQLite database in WAL mode with `synchronous=FULL`, so a commit
returns only once it is in the fsynced log: what a transaction committed survives a crash
of the server (and of the machine).

The schema:

* `contexts`: one row per context. `seq` orders listings; `name` is unique per tenant and
  NULL for internal contexts (the per-session file-transfer context of §14, which belongs to
  `owner_session`); `state` is `available` or `clearing` (§13.4).
* `files`: one row per stored file: its key (`path`, §13.10), the blob holding its bytes,
  size, the source file's mtime (so an unchanged file is not copied again), and an optional
  expiry from the mount's recycle policy.
* `trash`: blobs no row names any more, removed from disk after the commit (and again at
  start-up, if a crash came first).

One connection serves every thread, behind a lock: the server's writes are small and the
bulk of the work (file contents) happens outside it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS contexts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    name TEXT,
    kind TEXT NOT NULL DEFAULT 'user',
    owner_session TEXT,
    state TEXT NOT NULL DEFAULT 'available',
    created_at REAL NOT NULL,
    last_used_at REAL NOT NULL,
    UNIQUE (tenant, name)
);
CREATE INDEX IF NOT EXISTS contexts_by_tenant ON contexts (tenant, kind, seq);
CREATE TABLE IF NOT EXISTS files (
    context_id TEXT NOT NULL,
    path TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL,
    expires_at REAL,
    PRIMARY KEY (context_id, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_by_expiry ON files (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS trash (
    blob TEXT PRIMARY KEY,
    context_id TEXT
);
"""


class Database:
    """The SQLite file at `path`, opened by `open()`; every use goes through `transaction()`
    (writes) or `reading()` (reads), which hold the one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Opens (or makes) the database and brings its schema up to date."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot use WAL mode here (got {mode})")
            # FULL: the WAL is fsynced at every commit, so an acknowledged write survives a
            # crash; NORMAL would only survive a crash of the process.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute("PRAGMA busy_timeout=5000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.OperationalError(
                    f"{self.path} was written by a newer AGB Local (schema {version})"
                )
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        """Closes the connection (a checkpoint folds the WAL into the database file)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the context store is not open")
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed (durably) when the block ends, rolled back when it
        raises."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads (each statement sees committed data)."""
        with self._lock:
            yield self._connection()
