"""API keys and tenants: who is calling, answered in constant time and without keeping keys.

Only SHA-256 digests of the configured keys are kept. A caller's key is hashed and compared
with every digest using `hmac.compare_digest` (no early exit), so neither the comparison nor
the number of keys tried leaks how close a guess was. A tenant is named by a short prefix of
its digest: safe to log, stable across restarts, and never the key itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from .. import _protocol as p

TENANT_ID_CHARS = 12


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def tenant_id_of(key: str) -> str:
    """The loggable tenant id for `key` (a digest prefix, not the key)."""
    return _digest(key).hex()[:TENANT_ID_CHARS]


class KeyRing:
    """The accepted API keys, as digests."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple({_digest(key) for key in keys if key})
        if not self._digests:
            raise ValueError("AGB Local needs at least one non-empty API key")

    def __len__(self) -> int:
        return len(self._digests)

    def tenant_for(self, authorization: str | None) -> str | None:
        """The tenant id behind an `authorization` header value, or None when unknown."""
        if not authorization:
            return None
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != p.BEARER_PREFIX.strip().lower() or not key.strip():
            return None
        try:
            candidate = _digest(key.strip())
        except UnicodeEncodeError:
            # aiohttp decodes header bytes that are not UTF-8 as lone surrogates; such a key
            # can't be one we issued, and must not become a 500.
            return None
        found = None
        for digest in self._digests:
            if hmac.compare_digest(candidate, digest):
                found = digest
        return None if found is None else found.hex()[:TENANT_ID_CHARS]
