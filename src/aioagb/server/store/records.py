"""What the store hands out: immutable snapshots of rows, and the changes it is given."""

from __future__ import annotations

import sqlite3
from typing import TypeVar

import attrs

R = TypeVar("R", "ContextRecord", "FileRecord")

KIND_USER = "user"
KIND_FILE_TRANSFER = "file_transfer"  # a session's internal context (§14)


@attrs.frozen
class ContextRecord:
    """One context: its owner (a tenant), name and state (§13.1's context object)."""

    id: str
    tenant: str
    name: str | None  # None for internal contexts
    kind: str
    state: str
    created_at: float  # Unix seconds
    last_used_at: float
    seq: int  # creation order, for listings

    @property
    def internal(self) -> bool:
        """A session's own context, not one the user made (never listed or named)."""
        return self.kind != KIND_USER


@attrs.frozen
class FileRecord:
    """One stored file: its key, the blob with its bytes, and its times."""

    context_id: str
    path: str
    blob: str
    size: int
    mtime_ns: int  # of the file it was copied from (or of its upload)
    created_at: float
    modified_at: float
    expires_at: float | None  # from a recycle policy; None: kept forever


@attrs.frozen
class FolderEntry:
    """One entry of a folder listing: a file, or a folder implied by the keys below it."""

    path: str
    file: FileRecord | None  # None for a folder

    @property
    def is_folder(self) -> bool:
        return self.file is None


@attrs.frozen
class FilePut:
    """A new version of the file at `path`, whose blob is sealed already."""

    path: str
    blob: str
    size: int
    mtime_ns: int
    expires_at: float | None = None


def from_row(kind: type[R], row: sqlite3.Row) -> R:
    """A record from its table's row: every field is the column of the same name."""
    return kind(**{field.name: row[field.name] for field in attrs.fields(kind)})
