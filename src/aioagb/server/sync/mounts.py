"""createSession's `persistenceDataList` (agb-wire.md §13.6): which context is mounted where in
the session, with which policy. Checked whole before the session is made, so a bad item
refuses the create and leaves nothing behind."""

from __future__ import annotations

import attrs

from ... import _protocol as p
from ..envelope import bad_request
from ..params import optional, required_text
from ..sandbox import SandboxError, checked_sync_path
from ..store.paths import is_within
from .policy import SyncPolicy, parse_policy

MAX_MOUNTS = 16  # per session: each is a bind mount of the sandbox


@attrs.frozen
class Mount:
    """One context mounted in a session at `path`."""

    context_id: str
    path: str  # canonical sandbox path
    raw_path: str  # as the client sent it: status entries echo it (§13.10 item 6)
    policy: SyncPolicy

    @property
    def source(self) -> str:
        """The context folder downloads read: the mapping policy's, else the mount's own
        (§13.10 item 3)."""
        return self.policy.mapping_path or self.path

    def holds(self, path: str) -> bool:
        """Whether the canonical sandbox path `path` is the mount or inside it."""
        return is_within(path, self.path)


def parse_mounts(value: object) -> list[Mount]:
    """The mounts a create request asks for; a 400 naming the item for anything wrong."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"body.{p.B_PERSISTENCE_LIST} must be an array")
    if len(value) > MAX_MOUNTS:
        raise bad_request(f"body.{p.B_PERSISTENCE_LIST} has more than {MAX_MOUNTS} items")
    mounts: list[Mount] = []
    for n, item in enumerate(value):
        what = f"body.{p.B_PERSISTENCE_LIST}[{n}]"
        if not isinstance(item, dict):
            raise bad_request(f"{what} must be an object")
        context_id = required_text(item, p.B_PERSISTENCE_CONTEXT_ID, what).strip()
        raw_path = required_text(item, p.B_PERSISTENCE_PATH, what)
        try:
            path = checked_sync_path(raw_path.strip())
        except SandboxError as exc:
            raise bad_request(f"{what}.path: {exc}") from None
        optional(item, p.B_PERSISTENCE_POLICY, str, what)
        policy = parse_policy(item.get(p.B_PERSISTENCE_POLICY), f"{what}.policy")
        if any(mount.path == path for mount in mounts):
            raise bad_request(f"{what}.path: {path} is mounted twice")
        mounts.append(Mount(context_id, path, raw_path, policy))
    return mounts
