"""Pre-signed URLs for context files (agb-wire.md §13.5), served by AGB Local itself.

A URL carries a token: the grant (tenant, context, file key, HTTP method, expiry) and an
HMAC-SHA256 of it under the store's secret key (kept in the data directory, so URLs outlive
a restart until they expire). Whoever holds the URL may do exactly that one thing, with no
API key, until it expires; a token altered in any byte, used with another method or past its
expiry gets a 403 envelope. The file name after the route is for people and download tools
only: the token alone says which file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable

import attrs

from .envelope import ApiError

TRANSFER_ROUTE = "/agb-local/transfer"
Q_TOKEN = "token"
CODE_BAD_SIGNATURE = "AccessDenied.SignatureMismatch"
CODE_EXPIRED = "AccessDenied.UrlExpired"
_VERSION = 1
_DOMAIN = b"aioagb presigned url\x00"  # keeps these MACs apart from any other use of the key


@attrs.frozen
class Grant:
    """What one URL allows."""

    tenant: str
    context_id: str
    path: str
    method: str  # "PUT" (upload) or "GET" (download)
    expires: int  # Unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused(message: str, code: str = CODE_BAD_SIGNATURE) -> ApiError:
    return ApiError(403, code, message)


class UrlSigner:
    """Issues and checks pre-signed URLs with the key `secret()` returns."""

    def __init__(self, secret: Callable[[], bytes], clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self.clock = clock  # Unix seconds; tests move it to expire URLs

    def issue(self, base_url: str, grant: Grant) -> str:
        """The URL (under `base_url`, e.g. `http://127.0.0.1:8000`) for `grant`."""
        payload = json.dumps(
            [_VERSION, grant.tenant, grant.context_id, grant.path, grant.method, grant.expires],
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        body = _b64(payload)
        token = f"{body}.{_b64(self._mac(body))}"
        name = urllib.parse.quote(grant.path.rsplit("/", 1)[-1], safe="")
        return f"{base_url}{TRANSFER_ROUTE}/{name}?{Q_TOKEN}={token}"

    def grant(self, tenant: str, context_id: str, path: str, method: str, ttl_s: float) -> Grant:
        """A grant of `method` on the file, valid for `ttl_s` from now."""
        return Grant(tenant, context_id, path, method, int(self.clock() + ttl_s))

    def verify(self, token: str, method: str) -> Grant:
        """The grant in `token`, if it is ours, unaltered, for `method` and not expired;
        otherwise a 403."""
        body, _, mac = token.partition(".")
        try:
            valid = hmac.compare_digest(_unb64(mac), self._mac(body))
            fields = json.loads(_unb64(body)) if valid else None
        except (ValueError, binascii.Error, UnicodeError):
            valid, fields = False, None
        if not valid or not isinstance(fields, list) or len(fields) != 6 or fields[0] != _VERSION:
            raise _refused("The URL's signature does not match: it was altered, or not issued here")
        grant = Grant(*fields[1:])
        if grant.method != method:
            raise _refused(f"This URL allows {grant.method}, not {method}")
        if self.clock() > grant.expires:
            raise _refused("This URL has expired; ask for a new one", CODE_EXPIRED)
        return grant

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._secret(), _DOMAIN + body.encode("ascii"), hashlib.sha256).digest()
