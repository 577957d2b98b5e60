"""Admission of TCP connections, in front of aiohttp: at most so many open connections per
client address and in total, a clear refusal past either cap, and a deadline for a new
connection's first request head.

Anyone who can reach the port can open connections, key or no key: 1,100 idle sockets once
locked every real client out of a server. aiohttp has no connection cap, and it closes a
connection that never sends a request only since 3.14.4 (aioagb supports older releases), so
`ConnectionGate` is the protocol factory of the listening socket itself. An admitted
connection is handed to aiohttp's own protocol (`AppRunner.server`) and every event passes
through untouched; once its first request head is in, aiohttp's `keepalive_timeout` bounds
each later wait. A refused connection never reaches aiohttp: it is sent one fixed 503
envelope (written here because no request has been parsed yet) and closed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import cast

from .. import _protocol as p
from .envelope import CODE_TOO_MANY_CONNECTIONS, ApiError, failure_body
from .log_throttle import Throttle
from .middleware import new_request_id

log = logging.getLogger("aioagb.server")

# A refused connection stays open this long (its reply sent, our side shut) so that the
# client reads the 503 before the close; closing at once could reset the connection under a
# request the client already sent, and it would see a bare reset instead of the reason.
REFUSAL_LINGER_S = 1.0
# Past this many refused connections lingering at once, a refusal is closed as soon as its
# reply is written: under a flood, refusals must not hold the open files the caps protect.
MAX_LINGERING_REFUSALS = 64
RETRY_AFTER_S = 1
END_OF_HEAD = b"\r\n\r\n"


def client_address(transport: asyncio.BaseTransport) -> str:
    """The peer's address without its port: what "per client" counts."""
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "")


def refusal_reply(error: ApiError) -> bytes:
    """A whole HTTP/1.1 reply carrying `error`'s envelope, closing the connection."""
    request_id = new_request_id()
    body = json.dumps(failure_body(request_id, error)).encode()
    head = (
        f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{p.HEADER_REQUEST_ID}: {request_id}\r\n"
        f"Retry-After: {RETRY_AFTER_S}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class ConnectionGate:
    """The listening socket's protocol factory: admits a connection to `serve()` (aiohttp's
    protocol factory) while its client holds fewer than `per_client` and everyone fewer than
    `total` connections; refuses it otherwise."""

    def __init__(
        self,
        serve: Callable[[], asyncio.BaseProtocol],
        *,
        per_client: int,
        total: int,
        first_request_timeout_s: float,
    ) -> None:
        self._serve = serve
        self.per_client = per_client
        self.total = total
        self.first_request_timeout_s = first_request_timeout_s
        self._open: collections.Counter[str] = collections.Counter()
        self._open_total = 0
        self._lingering: set[asyncio.BaseTransport] = set()
        self.refused = 0  # since start, for operators and tests
        self._log_throttle = Throttle()

    def __call__(self) -> asyncio.Protocol:
        return _GatedConnection(self)

    @property
    def open_connections(self) -> int:
        """Admitted connections open now."""
        return self._open_total

    def admit(self, client: str) -> ApiError | None:
        """Counts a new connection from `client` in, or says why it is refused."""
        if self.open_connections >= self.total:
            return _refusal(
                f"AGB Local has {self.total} connections open, its limit "
                "(aioagb serve --max-connections); try again shortly"
            )
        if self._open[client] >= self.per_client:
            return _refusal(
                f"Too many connections from {client}: at most {self.per_client} per client "
                "(aioagb serve --max-connections-per-client); close idle ones or try again"
            )
        self._open[client] += 1
        self._open_total += 1
        return None

    def leave(self, client: str) -> None:
        """An admitted connection from `client` has closed."""
        self._open[client] -= 1
        self._open_total -= 1
        if self._open[client] <= 0:
            del self._open[client]

    def refuse(self, transport: asyncio.Transport, error: ApiError) -> None:
        """Sends `error` as the connection's only reply and closes it (after a short linger)."""
        self.refused += 1
        left_out = self._log_throttle.admit()
        if left_out is not None:
            more = f" ({left_out} more refused since the last report)" if left_out else ""
            log.warning("connection refused: %s%s", error.message, more)
        transport.write(refusal_reply(error))
        if transport.can_write_eof():
            transport.write_eof()
        if len(self._lingering) >= MAX_LINGERING_REFUSALS:
            transport.close()
            return
        self._lingering.add(transport)
        asyncio.get_running_loop().call_later(REFUSAL_LINGER_S, transport.close)

    def refusal_closed(self, transport: asyncio.BaseTransport) -> None:
        self._lingering.discard(transport)

    def close_refusals(self) -> None:
        """Closes the refused connections still lingering (the server is stopping)."""
        for transport in list(self._lingering):
            transport.close()


def _refusal(message: str) -> ApiError:
    return ApiError(HTTPStatus.SERVICE_UNAVAILABLE.value, CODE_TOO_MANY_CONNECTIONS, message)


class _GatedConnection(asyncio.Protocol):
    """One connection: aiohttp's protocol behind a pass-through, or a refusal."""

    def __init__(self, gate: ConnectionGate) -> None:
        self._gate = gate
        self._inner: asyncio.Protocol | None = None
        self._client = ""
        self._transport: asyncio.Transport | None = None
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_tail = b""  # the last bytes seen, for an end of head split across reads

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._client = client_address(transport)
        refusal = self._gate.admit(self._client)
        if refusal is not None:
            self._gate.refuse(self._transport, refusal)
            return
        loop = asyncio.get_running_loop()
        timeout = self._gate.first_request_timeout_s
        self._head_deadline = loop.call_later(timeout, self._transport.close)
        self._inner = cast(asyncio.Protocol, self._gate._serve())
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return  # refused: whatever the client sends is dropped
        if self._head_deadline is not None:
            self._watch_first_head(data)
        self._inner.data_received(data)

    def _watch_first_head(self, data: bytes) -> None:
        seen = self._head_tail + data
        if END_OF_HEAD in seen:
            assert self._head_deadline is not None
            self._head_deadline.cancel()
            self._head_deadline = None
            self._head_tail = b""
        else:
            self._head_tail = seen[-(len(END_OF_HEAD) - 1) :]

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        if self._inner is None:
            if self._transport is not None:
                self._gate.refusal_closed(self._transport)
            return
        try:
            self._inner.connection_lost(exc)
        finally:
            self._gate.leave(self._client)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
