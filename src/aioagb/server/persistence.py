"""What AGB Local keeps beyond a session (agb-wire.md §13, §14), built together from the
config: the durable context store, the syncs of live sessions, the pre-signed URL signer, the
store's upkeep job and the ListContexts page tokens."""

from __future__ import annotations

import attrs

from .config import ServerConfig
from .pagination import PageTokens
from .presign import UrlSigner
from .store import ContextStore, Maintenance
from .sync import SyncService


@attrs.frozen
class Persistence:
    """The store and everything that works on it."""

    store: ContextStore
    syncs: SyncService
    signer: UrlSigner
    maintenance: Maintenance
    tokens: PageTokens  # per run, like ListSession's: a listing does not outlive a restart

    @classmethod
    def from_config(cls, config: ServerConfig) -> Persistence:
        """Everything built, nothing opened: `store.open()` (blocking) comes at start-up."""
        store = ContextStore(config.data_dir, quota_bytes=config.storage_quota_bytes)
        return cls(
            store=store,
            syncs=SyncService(store, config.limits.workspace_quota_bytes),
            signer=UrlSigner(lambda: store.secret),
            maintenance=Maintenance(store, config.store_maintenance_interval_s),
            tokens=PageTokens(),
        )
