"""The store's refusals, as the envelope errors a handler answers with."""

from __future__ import annotations

from ..envelope import ApiError

CODE_CONTEXT_NOT_FOUND = "InvalidContext.NotFound"
CODE_CONTEXT_NAME_TAKEN = "InvalidContext.NameConflict"
CODE_FILE_NOT_FOUND = "InvalidContextFile.NotFound"
CODE_FILE_CONFLICT = "InvalidContextFile.Conflict"
CODE_STORAGE_QUOTA = "QuotaExceeded.Storage"


def context_not_found() -> ApiError:
    """An unknown context, or another tenant's: both are simply not there."""
    return ApiError(404, CODE_CONTEXT_NOT_FOUND, "Context not found")


def context_name_taken(name: str) -> ApiError:
    """Names are unique per API key (§13.3)."""
    return ApiError(409, CODE_CONTEXT_NAME_TAKEN, f"A context named {name!r} exists already")


def file_not_found(path: str) -> ApiError:
    """No file (and no folder) at `path` in the context."""
    return ApiError(404, CODE_FILE_NOT_FOUND, f"No such file in the context: {path}")


def file_conflict(path: str, other: str) -> ApiError:
    """A key cannot be a file and a folder at once (a file at `/a` and one at `/a/b`)."""
    return ApiError(
        409, CODE_FILE_CONFLICT, f"{path} conflicts with {other} (a path is a file or a folder)"
    )


def storage_quota_exceeded(quota: int) -> ApiError:
    """The tenant's contexts would hold more than `quota` bytes."""
    return ApiError(
        413, CODE_STORAGE_QUOTA, f"Storage quota exceeded: at most {quota} bytes per API key"
    )
