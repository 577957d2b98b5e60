"""The per-session tokens of the streaming channel (agb-wire.md §5.2): the secret a client
sends in `X-Access-Token` to open its session's `wsUrl`.

A token is `<tenant>.<HMAC of tenant and session id>` under a random key of this server
process: nothing is stored, a token opens exactly one session, and a guess or another
tenant's token is refused in constant time. The tenant part is the loggable digest prefix
that `auth` uses, never an API key. A restart makes new keys (and forgets every session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


class StreamTokens:
    """Issues and checks stream tokens with one secret key."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def _mac(self, tenant: str, session_id: str) -> str:
        message = f"{tenant}\0{session_id}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, tenant: str, session_id: str) -> str:
        """The token of `tenant`'s session `session_id`."""
        return f"{tenant}.{self._mac(tenant, session_id)}"

    def tenant_of(self, token: str | None, session_id: str) -> str | None:
        """The tenant that `token` opens `session_id` for; None for a missing or wrong one."""
        if not token:
            return None
        tenant, _, mac = token.partition(".")
        try:
            expected = self._mac(tenant, session_id)
            ok = hmac.compare_digest(mac.encode("ascii"), expected.encode("ascii"))
        except UnicodeEncodeError:
            return None  # header bytes that are not ASCII: never a token of ours
        return tenant if ok and tenant else None
