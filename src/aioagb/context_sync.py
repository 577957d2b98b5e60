"""Sync policies: how a context is mounted in a session (docs/protocol.md §13.6). Pure.

A `ContextSync(context_id, path, policy)` in `CreateSessionParams(context_syncs=[...])` mounts
a context at `path` in the new session: its files are downloaded there when the session
starts, and uploaded back before the session is released. `SyncPolicy` says how, through one
sub-policy per concern; every sub-policy left out (or None) takes its defaults, as in the
official SDK, so `SyncPolicy()` is the usual choice.

The names, defaults, validation messages and `to_dict()` output are the official SDK's
(`agb.context_sync`). Every class is a frozen attrs class validated on construction: an invalid
value raises `InvalidArgumentError` (a `ValueError`, as the official SDK raises) before
anything is sent. Two differences: enum fields also accept their wire value (`"Archive"` for
`UploadMode.ARCHIVE`; the official SDK refuses the string with a message that lists it as
valid), and `ContextSync.with_policy` returns a new object instead of changing this one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import TypeVar

import attrs

from . import _protocol as p
from ._validate import check_text, fail

__all__ = [
    "BWList",
    "ContextSync",
    "DeletePolicy",
    "DownloadPolicy",
    "DownloadStrategy",
    "ExtractPolicy",
    "Lifecycle",
    "MappingPolicy",
    "RecyclePolicy",
    "SyncPolicy",
    "UploadMode",
    "UploadPolicy",
    "UploadStrategy",
    "WhiteList",
]


class UploadStrategy(Enum):
    """When a mount is uploaded: before the session is released (the only strategy)."""

    UPLOAD_BEFORE_RESOURCE_RELEASE = p.UPLOAD_STRATEGY_BEFORE_RELEASE


class DownloadStrategy(Enum):
    """How a mount is downloaded when the session starts (the only strategy)."""

    DOWNLOAD_ASYNC = p.DOWNLOAD_STRATEGY_ASYNC


class UploadMode(Enum):
    """`FILE` stores each file; `ARCHIVE` stores the mount's tree as one archive."""

    FILE = p.UPLOAD_MODE_FILE
    ARCHIVE = p.UPLOAD_MODE_ARCHIVE


class Lifecycle(Enum):
    """How long the context keeps the files under `RecyclePolicy.paths`."""

    LIFECYCLE_1DAY = "Lifecycle_1Day"
    LIFECYCLE_3DAYS = "Lifecycle_3Days"
    LIFECYCLE_5DAYS = "Lifecycle_5Days"
    LIFECYCLE_10DAYS = "Lifecycle_10Days"
    LIFECYCLE_15DAYS = "Lifecycle_15Days"
    LIFECYCLE_30DAYS = "Lifecycle_30Days"
    LIFECYCLE_90DAYS = "Lifecycle_90Days"
    LIFECYCLE_180DAYS = "Lifecycle_180Days"
    LIFECYCLE_360DAYS = "Lifecycle_360Days"
    LIFECYCLE_FOREVER = p.LIFECYCLE_FOREVER


E = TypeVar("E", bound=Enum)
_WILDCARD = re.compile(r"[*?\[\]]")


def _to_member(kind: type[E], name: str, value: object) -> E:
    """A member of `kind`, or the member whose wire value `value` is; anything else fails
    with the official message (`Invalid upload_mode value: X. Valid values are: File, ...`)."""
    if isinstance(value, kind):
        return value
    for member in kind:
        if isinstance(value, str) and value == member.value:
            return member
    valid = ", ".join(str(member.value) for member in kind)
    raise fail(f"Invalid {name} value: {value}. Valid values are: {valid}")


def _flag(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    """A validator: the field must be a bool (JSON true/false on the wire)."""
    if not isinstance(value, bool):
        raise fail(f"{attribute.name} must be a bool, got {value!r}")


def _to_paths(name: str, wildcard_message: str, value: object) -> list[str]:
    """A list of path strings without wildcards (`""` is allowed)."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise fail(f"{name} must be a list of paths, got {value!r}")
    paths = [check_text(f"{name}[]", path, allow_empty=True) for path in value]
    for path in paths:
        if path.strip() and _WILDCARD.search(path):
            raise fail(wildcard_message.format(path=path))
    return paths


_EXACT_PATHS = "Please use exact directory paths instead."


def _upload_strategy(value: object) -> UploadStrategy:
    return _to_member(UploadStrategy, "upload_strategy", value)


def _upload_mode(value: object) -> UploadMode:
    return _to_member(UploadMode, "upload_mode", value)


def _download_strategy(value: object) -> DownloadStrategy:
    return _to_member(DownloadStrategy, "download_strategy", value)


def _lifecycle(value: object) -> Lifecycle:
    return _to_member(Lifecycle, "lifecycle", value)


def _recycle_paths(value: object) -> list[str]:
    message = "Wildcard patterns are not supported in recycle policy paths. Got: {path}. "
    return _to_paths("paths", message + _EXACT_PATHS, value)


def _white_path(value: object) -> str:
    path = check_text("path", value, allow_empty=True)
    if _WILDCARD.search(path):
        message = f"Wildcard patterns are not supported in path. Got: {path}. "
        raise fail(message + _EXACT_PATHS)
    return path


def _exclude_paths(value: object) -> list[str]:
    message = "Wildcard patterns are not supported in exclude_paths. Got: {path}. "
    return _to_paths("exclude_paths", message + _EXACT_PATHS, value)


def _mapping_path(value: object) -> str:
    return check_text("path", value, allow_empty=True)


@attrs.frozen(slots=True)
class UploadPolicy:
    """How a mount is uploaded to its context: `auto_upload` (before the session is
    released), the `upload_strategy` and the `upload_mode` (`UploadMode.FILE` or
    `UploadMode.ARCHIVE`, which cannot be switched later for the same context)."""

    auto_upload: bool = attrs.field(default=True, validator=_flag)
    upload_strategy: UploadStrategy = attrs.field(
        default=UploadStrategy.UPLOAD_BEFORE_RESOURCE_RELEASE, converter=_upload_strategy
    )
    upload_mode: UploadMode = attrs.field(default=UploadMode.FILE, converter=_upload_mode)

    def to_dict(self) -> dict[str, object]:
        """The policy's JSON object (§13.6)."""
        return {
            "autoUpload": self.auto_upload,
            "uploadStrategy": self.upload_strategy.value,
            "uploadMode": self.upload_mode.value,
        }


@attrs.frozen(slots=True)
class DownloadPolicy:
    """Whether the context is downloaded into the mount when the session starts."""

    auto_download: bool = attrs.field(default=True, validator=_flag)
    download_strategy: DownloadStrategy = attrs.field(
        default=DownloadStrategy.DOWNLOAD_ASYNC, converter=_download_strategy
    )

    def to_dict(self) -> dict[str, object]:
        """The policy's JSON object (§13.6)."""
        return {
            "autoDownload": self.auto_download,
            "downloadStrategy": self.download_strategy.value,
        }


@attrs.frozen(slots=True)
class DeletePolicy:
    """`sync_local_file`: a file deleted in the session is deleted from the context at the
    next upload (False: the context keeps it)."""

    sync_local_file: bool = attrs.field(default=True, validator=_flag)

    def to_dict(self) -> dict[str, object]:
        """The policy's JSON object (§13.6)."""
        return {"syncLocalFile": self.sync_local_file}


@attrs.frozen(slots=True)
class ExtractPolicy:
    """What a download does with archives: `extract` them, `delete_src_file` afterwards,
    and `extract_current_folder` (into the archive's own folder)."""

    extract: bool = attrs.field(default=True, validator=_flag)
    delete_src_file: bool = attrs.field(default=True, validator=_flag)
    extract_current_folder: bool = attrs.field(default=False, validator=_flag)

    def to_dict(self) -> dict[str, object]:
        """The policy's JSON object (§13.6): note `extractToCurrentFolder`."""
        return {
            "extract": self.extract,
            "deleteSrcFile": self.delete_src_file,
            "extractToCurrentFolder": self.extract_current_folder,
        }


@attrs.frozen(slots=True)
class RecyclePolicy:
    """How long the context keeps the files under `paths` (relative to the mount; `""`
    means all of them). Exact paths only: wildcards (`* ? [ ]`) are refused."""

    lifecycle: Lifecycle = attrs.field(default=Lifecycle.LIFECYCLE_FOREVER, converter=_lifecycle)
    paths: list[str] = attrs.field(factory=lambda: [""], converter=_recycle_paths)

    def to_dict(self) -> dict[str, object]:
        """The policy's JSON object (§13.6)."""
        return {"lifecycle": self.lifecycle.value, "paths": list(self.paths)}


@attrs.frozen(slots=True)
class WhiteList:
    """A sub-path of the mount to sync (relative to it), minus `exclude_paths`."""

    path: str = attrs.field(default="", converter=_white_path)
    exclude_paths: list[str] = attrs.field(factory=list, converter=_exclude_paths)

    def to_dict(self) -> dict[str, object]:
        """The list entry's JSON object (§13.6)."""
        return {"path": self.path, "excludePaths": list(self.exclude_paths)}


def _white_lists(value: object) -> list[WhiteList]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise fail(f"white_lists must be a list of WhiteList, got {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, WhiteList):
            raise fail(f"white_lists must hold WhiteList objects, got {item!r}")
    return items


@attrs.frozen(slots=True)
class BWList:
    """The sub-paths of the mount that are synced; an empty list syncs everything."""

    white_lists: list[WhiteList] = attrs.field(factory=list, converter=_white_lists)

    def to_dict(self) -> dict[str, object]:
        """The policy's JSON object (§13.6)."""
        return {"whiteLists": [white.to_dict() for white in self.white_lists]}


@attrs.frozen(slots=True)
class MappingPolicy:
    """`path`: where the context's files were stored from (another image's mount path); the
    session receives them at its own mount path."""

    path: str = attrs.field(default="", converter=_mapping_path)

    @classmethod
    def default(cls) -> MappingPolicy:
        """A mapping policy with the default (empty) path."""
        return cls()

    def to_dict(self) -> dict[str, object]:
        """The policy's JSON object (§13.6)."""
        return {"path": self.path}


P = TypeVar("P")


def _to_policy(kind: type[P], name: str, value: object) -> P | None:
    if value is not None and not isinstance(value, kind):
        raise fail(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _upload_policy(value: object) -> UploadPolicy:
    return _to_policy(UploadPolicy, "upload_policy", value) or UploadPolicy()


def _download_policy(value: object) -> DownloadPolicy:
    return _to_policy(DownloadPolicy, "download_policy", value) or DownloadPolicy()


def _delete_policy(value: object) -> DeletePolicy:
    return _to_policy(DeletePolicy, "delete_policy", value) or DeletePolicy()


def _extract_policy(value: object) -> ExtractPolicy:
    return _to_policy(ExtractPolicy, "extract_policy", value) or ExtractPolicy()


def _recycle_policy(value: object) -> RecyclePolicy:
    return _to_policy(RecyclePolicy, "recycle_policy", value) or RecyclePolicy()


def _bw_list(value: object) -> BWList:
    return _to_policy(BWList, "bw_list", value) or BWList()


def _mapping_policy(value: object) -> MappingPolicy | None:
    return _to_policy(MappingPolicy, "mapping_policy", value)


@attrs.frozen(slots=True)
class SyncPolicy:
    """Every sub-policy of a mount; each one left out (or None) takes its defaults, except
    `mapping_policy`, which is sent only when given."""

    upload_policy: UploadPolicy = attrs.field(default=None, converter=_upload_policy)
    download_policy: DownloadPolicy = attrs.field(default=None, converter=_download_policy)
    delete_policy: DeletePolicy = attrs.field(default=None, converter=_delete_policy)
    extract_policy: ExtractPolicy = attrs.field(default=None, converter=_extract_policy)
    recycle_policy: RecyclePolicy = attrs.field(default=None, converter=_recycle_policy)
    bw_list: BWList = attrs.field(default=None, converter=_bw_list)
    mapping_policy: MappingPolicy | None = attrs.field(default=None, converter=_mapping_policy)

    def to_dict(self) -> dict[str, object]:
        """The policy's JSON object, keys in the official order (§13.6)."""
        result: dict[str, object] = {
            p.POLICY_UPLOAD: self.upload_policy.to_dict(),
            p.POLICY_DOWNLOAD: self.download_policy.to_dict(),
            p.POLICY_DELETE: self.delete_policy.to_dict(),
            p.POLICY_EXTRACT: self.extract_policy.to_dict(),
            p.POLICY_RECYCLE: self.recycle_policy.to_dict(),
            p.POLICY_BW_LIST: self.bw_list.to_dict(),
        }
        if self.mapping_policy is not None:
            result[p.POLICY_MAPPING] = self.mapping_policy.to_dict()
        return result


def _context_id(value: object) -> str:
    return check_text("context_id", value)


def _mount_path(value: object) -> str:
    return check_text("path", value)


def _sync_policy(value: object) -> SyncPolicy | None:
    return _to_policy(SyncPolicy, "policy", value)


@attrs.frozen(slots=True)
class ContextSync:
    """Mount the context `context_id` at `path` (an absolute path in the session) with
    `policy`. A ContextSync without a policy mounts nothing: like the official SDK, create
    leaves it out (pass `SyncPolicy()` for the defaults)."""

    context_id: str = attrs.field(converter=_context_id)
    path: str = attrs.field(converter=_mount_path)
    policy: SyncPolicy | None = attrs.field(default=None, converter=_sync_policy)

    @classmethod
    def new(cls, context_id: str, path: str, policy: SyncPolicy | None = None) -> ContextSync:
        """A context sync (the official constructor)."""
        return cls(context_id=context_id, path=path, policy=policy)

    def with_policy(self, policy: SyncPolicy) -> ContextSync:
        """A copy of this sync with `policy` (the official method changes the object in
        place and returns it; this one is frozen, so use the value it returns)."""
        return attrs.evolve(self, policy=policy)


def check_context_syncs(value: object) -> list[ContextSync]:
    """`CreateSessionParams.context_syncs`: None or a list of `ContextSync`."""
    if value is None:
        return []
    if isinstance(value, str | bytes | ContextSync) or not isinstance(value, Iterable):
        raise fail(f"context_syncs must be a list of ContextSync, got {type(value).__name__}")
    syncs = list(value)
    for sync in syncs:
        if not isinstance(sync, ContextSync):
            raise fail(f"context_syncs must hold ContextSync objects, got {sync!r}")
    return syncs


def mounted(syncs: Sequence[ContextSync]) -> list[ContextSync]:
    """The syncs create sends: those with a policy (the others are dropped, §13.6)."""
    return [sync for sync in syncs if sync.policy is not None]
