"""Context sync between the store and live sessions (agb-wire.md §13.6-§13.10, §14).

`mounts` parses createSession's `persistenceDataList`, `policy` the sync policies, `board`
keeps the tasks GetContextInfo reports, `archive` packs and unpacks zips, `engine` runs one
upload or download, and `service` ties them to the sessions.
"""

from __future__ import annotations

from .mounts import Mount, parse_mounts
from .policy import SyncPolicy, parse_policy
from .service import SYNC_MODES, TRANSFER_PATH, SyncService

__all__ = [
    "SYNC_MODES",
    "TRANSFER_PATH",
    "Mount",
    "SyncPolicy",
    "SyncService",
    "parse_mounts",
    "parse_policy",
]
