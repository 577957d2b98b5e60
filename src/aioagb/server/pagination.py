"""Opaque ListSession page tokens (agb-wire.md §3.4).

A token names the last session of the previous page by its creation sequence number
(keyset pagination: releasing sessions between two pages neither skips nor repeats one).
It is signed with a per-server secret over the tenant and the label filter, so a token that
was forged, altered, made by another server run, or belongs to another key or another filter
is refused instead of silently giving a wrong page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

from .envelope import bad_request

_VERSION = "v1"
_MAC_BYTES = 16


class PageTokens:
    """Issues and checks signed page tokens with one secret per server run."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def issue(self, tenant: str, labels: Mapping[str, str], after_seq: int) -> str:
        """A token that continues after `after_seq`, valid only for this tenant and filter."""
        body = f"{_VERSION}.{after_seq}"
        raw = f"{body}.{self._mac(tenant, labels, body)}"
        return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")

    def resolve(self, tenant: str, labels: Mapping[str, str], token: str) -> int:
        """The sequence number a token continues after; 400 for any token not issued by us
        for this tenant and filter."""
        try:
            padded = token + "=" * (-len(token) % 4)
            raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
            version, seq, mac = raw.split(".")
            after_seq = int(seq)
        except (ValueError, UnicodeError):
            raise _invalid() from None
        expected = self._mac(tenant, labels, f"{version}.{seq}")
        if version != _VERSION or not hmac.compare_digest(mac, expected):
            raise _invalid()
        return after_seq

    def _mac(self, tenant: str, labels: Mapping[str, str], body: str) -> str:
        scope = json.dumps([tenant, sorted(labels.items()), body], separators=(",", ":"))
        digest = hmac.new(self._secret, scope.encode("utf-8"), hashlib.sha256).digest()
        return digest[:_MAC_BYTES].hex()


def _invalid() -> Exception:
    return bad_request("nextToken is invalid for this listing", "InvalidParameter.NextToken")
