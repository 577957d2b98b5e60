"""What the store hands out: immutable snapshots of rows, and the changes it is given."""

from __future__ import annotations

import sqlite3

import attrs

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

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ContextRecord:
        return cls(
            id=row["id"],
            tenant=row["tenant"],
            name=row["name"],
            kind=row["kind"],
            state=row["state"],
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            seq=row["seq"],
        )


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

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> FileRecord:
        return cls(
            context_id=row["context_id"],
            path=row["path"],
            blob=row["blob"],
            size=row["size"],
            mtime_ns=row["mtime_ns"],
            created_at=row["created_at"],
            modified_at=row["modified_at"],
            expires_at=row["expires_at"],
        )


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
