"""AGB Local's durable store of contexts (agb-wire.md §13): metadata in SQLite, file contents
as immutable blobs on disk, every write atomic and fsynced before it is acknowledged.

`ContextStore` (store.py) owns a data directory; `contexts`/`files` are its tables, `blobs`
the contents, `trash` the blobs on their way out, `paths` the checks of context file keys,
`maintenance` the background upkeep.
"""

from __future__ import annotations

from .blobs import BlobTooLarge, StagedBlob
from .contexts import checked_name
from .maintenance import Maintenance
from .records import ContextRecord, FilePut, FileRecord, FolderEntry
from .store import ContextStore, StoreError

__all__ = [
    "BlobTooLarge",
    "ContextRecord",
    "ContextStore",
    "FilePut",
    "FileRecord",
    "FolderEntry",
    "Maintenance",
    "StagedBlob",
    "StoreError",
    "checked_name",
]
