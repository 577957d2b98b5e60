"""The content of context files: one immutable blob file per stored version.

A blob is written to `staging/` first, fsynced, then renamed into `blobs/<2 hex>/<id>` and
the directory fsynced (`StagedBlob.seal`). Only then may metadata point at it, so every blob
the database names is whole on disk. Blobs are never rewritten: a new version of a file is
a new blob, and the old one goes to the trash when the metadata stops naming it. A crash can
leave only unreferenced blobs and staging files behind; `ContextStore.open` removes both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from .atomic import fsync_dir

CHUNK_BYTES = 1024 * 1024


class BlobTooLarge(Exception):
    """A copy into a blob went past its byte limit (the caller's quota)."""


class StagedBlob:
    """A blob being written. `seal()` makes it durable and returns its id; leaving a `with`
    block (or calling `abort()`) without sealing removes it."""

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self.blob_id = uuid.uuid4().hex
        self._path = store.staging_dir / self.blob_id
        self._file: BinaryIO | None = open(self._path, "xb")  # noqa: SIM115 - closed by seal/abort
        self.size = 0  # known once sealed
        self._sealed = False

    @property
    def file(self) -> BinaryIO:
        """The open temporary file (for writers that want a file object, like zipfile)."""
        assert self._file is not None, "the blob is sealed or aborted"
        return self._file

    def write(self, data: bytes) -> None:
        """Appends `data`."""
        self.file.write(data)

    def copy_from(self, source: BinaryIO, limit: int | None = None) -> int:
        """Appends everything `source` holds, in chunks; raises `BlobTooLarge` as soon as
        more than `limit` bytes came. Returns the bytes copied."""
        copied = 0
        while chunk := source.read(CHUNK_BYTES):
            copied += len(chunk)
            if limit is not None and copied > limit:
                raise BlobTooLarge(f"more than {limit} bytes")
            self.file.write(chunk)
        return copied

    def seal(self) -> str:
        """fsync, rename into place, fsync the directory: the blob is durable. Returns its id."""
        file = self.file
        self._file = None
        try:
            file.flush()
            self.size = os.fstat(file.fileno()).st_size
            os.fsync(file.fileno())
        finally:
            file.close()
        final = self._store.path(self.blob_id)
        os.rename(self._path, final)
        self._sealed = True
        fsync_dir(final.parent)
        return self.blob_id

    def abort(self) -> None:
        """Drops the blob unless it was sealed (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._sealed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)

    def __enter__(self) -> StagedBlob:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


class BlobStore:
    """Blob files under `root`: `blobs/` (sealed, immutable) and `staging/` (being written)."""

    def __init__(self, root: Path) -> None:
        self.blobs_dir = root / "blobs"
        self.staging_dir = root / "staging"

    def prepare(self) -> None:
        """Makes the directories and removes what a crashed run left in staging."""
        self.blobs_dir.mkdir(mode=0o700, exist_ok=True)
        # Every fan-out directory exists (and is durable) before any blob is sealed, so a
        # seal never has to make one and fsync its parent too.
        for n in range(256):
            (self.blobs_dir / f"{n:02x}").mkdir(exist_ok=True)
        fsync_dir(self.blobs_dir)
        if self.staging_dir.exists():
            shutil.rmtree(self.staging_dir)
        self.staging_dir.mkdir(mode=0o700)

    def stage(self) -> StagedBlob:
        """A new, empty blob to write."""
        return StagedBlob(self)

    def path(self, blob_id: str) -> Path:
        """Where a sealed blob lives."""
        return self.blobs_dir / blob_id[:2] / blob_id

    def open(self, blob_id: str) -> BinaryIO:
        """A sealed blob, opened for reading (the open file outlives a later removal)."""
        return open(self.path(blob_id), "rb")

    def remove(self, blob_id: str) -> None:
        """Removes a sealed blob; a missing one is fine (removal is retried after a crash)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(blob_id))

    def sealed_ids(self) -> Iterator[str]:
        """The id of every sealed blob on disk."""
        for fanout in self.blobs_dir.iterdir():
            if fanout.is_dir():
                for blob in fanout.iterdir():
                    yield blob.name
