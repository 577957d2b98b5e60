"""A mount's sync policy (agb-wire.md §13.6): the JSON string the client sends, checked field by
field into a `SyncPolicy`, with the official client's defaults for what is missing.

Paths inside a policy (white lists, their exclusions, recycle paths) are relative to the
mount, with or without a leading `/`; they are kept normalised without one ("" is the whole
mount). A field of the wrong type, an unknown mode or lifecycle, a wildcard or a `..` is a
400 naming the field: the official client refuses most of these itself, other clients may not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from ... import _protocol as p
from ..envelope import ApiError, bad_request
from ..params import optional, parse_json_object
from ..store.paths import folder_key

CODE_INVALID_POLICY = "InvalidParameter.Policy"
_WILDCARD = re.compile(r"[*?\[\]]")
DAY_S = 86_400


def _invalid(what: str, why: str) -> ApiError:
    return bad_request(f"{what} {why}", CODE_INVALID_POLICY)


@attrs.frozen
class WhiteList:
    """Sync only `path` (relative to the mount; "" is all of it) minus `excludes`."""

    path: str
    excludes: tuple[str, ...] = ()

    def covers(self, rel: str) -> bool:
        """Whether the mount-relative path `rel` is in this white list."""
        if not _within(rel, self.path):
            return False
        # An exclusion reads relative to the white-listed path or to the mount: the
        # official docs show both (`{path: "/src", excludePaths: ["/node_modules"]}`).
        return not any(
            _within(rel, _join(self.path, ex)) or _within(rel, ex) for ex in self.excludes
        )


def _within(rel: str, top: str) -> bool:
    return top == "" or rel == top or rel.startswith(top + "/")


def _join(top: str, rel: str) -> str:
    return f"{top}/{rel}" if top and rel else top or rel


@attrs.frozen
class SyncPolicy:
    """What a mount syncs and how; the defaults are `SyncPolicy()`'s on the official client."""

    auto_upload: bool = True
    archive: bool = False  # uploadMode Archive: the mount's tree as one zip object
    auto_download: bool = True
    sync_local_deletes: bool = True  # deletePolicy.syncLocalFile
    extract: bool = True
    delete_source: bool = True  # extractPolicy.deleteSrcFile
    extract_here: bool = False  # extractPolicy.extractToCurrentFolder
    lifecycle_days: int | None = None  # None: Lifecycle_Forever
    recycle_paths: tuple[str, ...] = ("",)
    white_lists: tuple[WhiteList, ...] = ()
    mapping_path: str | None = None  # downloads read the context from here instead

    def includes(self, rel: str) -> bool:
        """Whether the mount-relative path `rel` is synced (no white list: everything)."""
        return not self.white_lists or any(wl.covers(rel) for wl in self.white_lists)

    def expiry(self, rel: str, now: float) -> float | None:
        """When a file uploaded now at `rel` expires (None: never)."""
        if self.lifecycle_days is None:
            return None
        if any(_within(rel, top) for top in self.recycle_paths):
            return now + self.lifecycle_days * DAY_S
        return None


# Syncs of a path that is no mount (file transfer, §14): a plain copy both ways. A download
# that unpacked and deleted a user's own `.zip` there would be a surprise, not a policy.
PLAIN_COPY = SyncPolicy(sync_local_deletes=False, extract=False)


def parse_policy(raw: object, what: str) -> SyncPolicy:
    """The policy string of one `persistenceDataList` item; missing or empty: the defaults."""
    if raw is None or raw == "":
        return SyncPolicy()
    if not isinstance(raw, str):
        raise _invalid(what, "must be a JSON string of the sync policy")
    policy = parse_json_object(raw, what)
    upload = _section(policy, p.POLICY_UPLOAD, what)
    download = _section(policy, p.POLICY_DOWNLOAD, what)
    delete = _section(policy, p.POLICY_DELETE, what)
    extract = _section(policy, p.POLICY_EXTRACT, what)
    recycle = _section(policy, p.POLICY_RECYCLE, what)
    where = f"{what}.{p.POLICY_UPLOAD}"
    _choice(upload, "uploadStrategy", (p.UPLOAD_STRATEGY_BEFORE_RELEASE,), where)
    mode = _choice(upload, "uploadMode", (p.UPLOAD_MODE_FILE, p.UPLOAD_MODE_ARCHIVE), where)
    _choice(download, "downloadStrategy", (p.DOWNLOAD_STRATEGY_ASYNC,), f"{what}.downloadPolicy")
    return SyncPolicy(
        auto_upload=_flag(upload, "autoUpload", True, where),
        archive=mode == p.UPLOAD_MODE_ARCHIVE,
        auto_download=_flag(download, "autoDownload", True, f"{what}.{p.POLICY_DOWNLOAD}"),
        sync_local_deletes=_flag(delete, "syncLocalFile", True, f"{what}.{p.POLICY_DELETE}"),
        extract=_flag(extract, "extract", True, f"{what}.{p.POLICY_EXTRACT}"),
        delete_source=_flag(extract, "deleteSrcFile", True, f"{what}.{p.POLICY_EXTRACT}"),
        extract_here=_flag(extract, "extractToCurrentFolder", False, f"{what}.extractPolicy"),
        lifecycle_days=_lifecycle(recycle, f"{what}.{p.POLICY_RECYCLE}"),
        recycle_paths=_recycle_paths(recycle, f"{what}.{p.POLICY_RECYCLE}"),
        white_lists=_white_lists(policy, f"{what}.{p.POLICY_BW_LIST}"),
        mapping_path=_mapping(policy, f"{what}.{p.POLICY_MAPPING}"),
    )


def _section(policy: Mapping[str, object], key: str, what: str) -> Mapping[str, object]:
    value = optional(policy, key, dict, what)
    return value if value is not None else {}


def _flag(section: Mapping[str, object], key: str, default: bool, what: str) -> bool:
    value = optional(section, key, bool, what)
    return default if value is None else value


def _choice(
    section: Mapping[str, object], key: str, allowed: tuple[str, ...], what: str
) -> str | None:
    value = optional(section, key, str, what)
    if value is not None and value not in allowed:
        raise _invalid(f"{what}.{key}", f"must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _relative(raw: str, what: str) -> str:
    """A mount-relative path, normalised without a leading `/`."""
    if _WILDCARD.search(raw):
        raise _invalid(what, f"must be an exact path; wildcards are not supported: {raw!r}")
    return folder_key(raw, what).lstrip("/")


def _lifecycle(recycle: Mapping[str, object], what: str) -> int | None:
    value = optional(recycle, "lifecycle", str, what)
    if value is None or value == p.LIFECYCLE_FOREVER:
        return None
    if value not in p.LIFECYCLE_DAYS:
        allowed = ", ".join([*p.LIFECYCLE_DAYS, p.LIFECYCLE_FOREVER])
        raise _invalid(f"{what}.lifecycle", f"must be one of {allowed}, not {value!r}")
    return p.LIFECYCLE_DAYS[value]


def _recycle_paths(recycle: Mapping[str, object], what: str) -> tuple[str, ...]:
    value = optional(recycle, "paths", list, what)
    if value is None:
        return ("",)
    if not all(isinstance(item, str) for item in value):
        raise _invalid(f"{what}.paths", "must be a list of strings")
    return tuple(_relative(item, f"{what}.paths") for item in value) or ("",)


def _white_lists(policy: Mapping[str, object], what: str) -> tuple[WhiteList, ...]:
    section = _section(policy, p.POLICY_BW_LIST, what)
    items = optional(section, "whiteLists", list, what)
    lists: list[WhiteList] = []
    for n, item in enumerate(items or ()):
        where = f"{what}.whiteLists[{n}]"
        if not isinstance(item, dict):
            raise _invalid(where, "must be an object")
        path = optional(item, "path", str, where) or ""
        excludes = optional(item, "excludePaths", list, where) or []
        if not all(isinstance(ex, str) for ex in excludes):
            raise _invalid(f"{where}.excludePaths", "must be a list of strings")
        lists.append(
            WhiteList(
                _relative(path, f"{where}.path"),
                tuple(
                    rel
                    for ex in excludes
                    if (rel := _relative(ex, f"{where}.excludePaths"))  # "" excludes nothing
                ),
            )
        )
    return tuple(lists)


def _mapping(policy: Mapping[str, object], what: str) -> str | None:
    section = _section(policy, p.POLICY_MAPPING, what)
    path = optional(section, "path", str, what)
    if not path or not path.strip():
        return None
    if not path.startswith("/"):
        raise _invalid(f"{what}.path", f"must be an absolute path, not {path!r}")
    return folder_key(path, f"{what}.path")
