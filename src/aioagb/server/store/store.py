"""`ContextStore`: AGB Local's durable store of contexts (§13) under one data directory.

    DATA_DIR/
      lock            flock: one server per data directory
      store.sqlite3   metadata (`database`), WAL mode, synchronous=FULL
      blobs/ab/<id>   file contents, immutable, fsynced before any row names them (`blobs`)
      staging/        blobs being written; emptied at start-up
      secret.key      the HMAC key of pre-signed URLs and page tokens (kept across restarts)

The store's methods block (SQLite, files): call them from a worker thread (`run`). With no
data directory, a temporary one is made and removed on close (the embedded server's default).

Start-up recovery makes the directory consistent again after a crash, whatever the moment:
staging files are removed, blobs that no row names (sealed but never committed) are removed,
the trash is emptied, interrupted clears end, and internal contexts of sessions that died
with the previous run are dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from .atomic import fsync_dir, write_atomically
from .blobs import BlobStore
from .contexts import ContextTable
from .database import Database
from .files import FileTable
from .trash import Trash, discard_files

log = logging.getLogger("aioagb.server.store")

T = TypeVar("T")
Clock = Callable[[], float]
SECRET_BYTES = 32
# Store work in flight at once (each holds a worker thread; the copies of a large sync do).
STORE_THREADS = 8


class StoreError(Exception):
    """The store cannot be opened (a locked or unusable data directory)."""


class ContextStore:
    """Contexts and their files under `data_dir` (None: a temporary directory)."""

    def __init__(
        self,
        data_dir: Path | None,
        *,
        quota_bytes: int | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._given_dir = data_dir
        self._clock = clock
        self._quota = quota_bytes
        self._lock_fd = -1
        self._temporary = False
        self._limiter: anyio.CapacityLimiter | None = None
        self.secret = b""
        self._build(data_dir or Path())

    def _build(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db = Database(data_dir / "store.sqlite3")
        self.blobs = BlobStore(data_dir)
        self.trash = Trash(self.db, self.blobs)
        self.contexts = ContextTable(self.db, self._clock)
        self.files = FileTable(self.db, self.blobs, self.trash, self._clock, self._quota)

    @property
    def clock(self) -> Clock:
        """The store's clock (Unix seconds; tests replace it to expire files)."""
        return self._clock

    # --- lifetime --------------------------------------------------------------------------

    def open(self) -> None:
        """Takes the data directory (made if needed, mode 700), opens the database and
        recovers from whatever a crash left. Blocking."""
        if self._given_dir is None:
            self._build(Path(tempfile.mkdtemp(prefix="aioagb-data-")))
            self._temporary = True
        else:
            self._build(Path(self._given_dir).expanduser().resolve())
        try:
            self._take_directory()
            self.blobs.prepare()
            self.db.open()
            fsync_dir(self.data_dir)  # the database file's own entry
            self.secret = self._load_secret()
            self._recover()
        except BaseException:
            self.close()
            raise
        log.info("context store at %s", self.data_dir)

    def _take_directory(self) -> None:
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.data_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot use the data directory {self.data_dir}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(
                f"the data directory {self.data_dir} is in use by another AGB Local"
            ) from None
        self._lock_fd = fd

    def _load_secret(self) -> bytes:
        path = self.data_dir / "secret.key"
        with contextlib.suppress(FileNotFoundError):
            secret = path.read_bytes()
            if len(secret) == SECRET_BYTES:
                return secret
        secret = secrets.token_bytes(SECRET_BYTES)
        write_atomically(path, secret)
        return secret

    def _recover(self) -> None:
        dropped = self.contexts.drop_internal()
        with self.db.reading() as conn:
            named = {row[0] for row in conn.execute("SELECT blob FROM files")}
            named |= {row[0] for row in conn.execute("SELECT blob FROM trash")}
        orphans = [blob for blob in self.blobs.sealed_ids() if blob not in named]
        for blob in orphans:
            self.blobs.remove(blob)
        self.maintain()
        if dropped or orphans:
            log.info(
                "store recovery: %d internal contexts of a previous run, %d orphan blobs removed",
                dropped,
                len(orphans),
            )

    def close(self) -> None:
        """Closes the database and releases the directory (removed when temporary)."""
        self.db.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._temporary = False

    # --- upkeep ----------------------------------------------------------------------------

    def maintain(self) -> None:
        """Drops expired files, empties the trash and ends finished clears. Blocking."""
        with self.db.transaction() as conn:
            discard_files(conn, "expires_at IS NOT NULL AND expires_at <= ?", (self._clock(),))
        self.trash.empty()

    # --- from the event loop ---------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Runs a blocking store call in a worker thread. Not abandoned on cancellation: a
        commit under way finishes, so the store never sees half an operation."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(STORE_THREADS)
        call = partial(fn, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)
