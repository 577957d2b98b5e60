"""Raw connections to a running `LocalServer`: exactly the bytes a test sends, from the client
address it picks (any 127.x.y.z reaches a loopback server on Linux), and replies parsed by
the standard library."""

from __future__ import annotations

import http.client
import io
import json
import re
from collections.abc import Mapping
from typing import Any

import anyio
import attrs
from anyio.abc import SocketStream

from _support.server_app import KEY_A
from aioagb import _protocol as p


@attrs.frozen
class WireReply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def envelope(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class _Received:
    """What `http.client.HTTPResponse` reads a reply from, instead of a socket."""

    def __init__(self, data: bytes) -> None:
        self._file = io.BytesIO(data)

    def makefile(self, mode: str) -> io.BytesIO:
        return self._file


def parse_reply(data: bytes) -> WireReply:
    """The first HTTP reply in `data`."""
    reply = http.client.HTTPResponse(_Received(data))  # type: ignore[arg-type]
    reply.begin()
    body = reply.read()
    return WireReply(reply.status, {k.lower(): v for k, v in reply.getheaders()}, body)


def request_bytes(
    method: str, path: str, body: bytes = b"", *, key: str = KEY_A, close: bool = False
) -> bytes:
    head = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"authorization: Bearer {key}",
    ]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


LIST_SESSIONS = request_bytes("GET", p.PATH_LIST_SESSIONS)


async def connect(port: int, client: str = "127.0.0.1") -> SocketStream:
    return await anyio.connect_tcp("127.0.0.1", port, local_host=client)


async def read_until_closed(stream: SocketStream, limit_s: float) -> bytes:
    """Everything the server sends until it closes the connection (`TimeoutError` past
    `limit_s`)."""
    data = b""
    with anyio.fail_after(limit_s):
        while True:
            try:
                data += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return data


async def read_one_reply(stream: SocketStream, limit_s: float = 10) -> WireReply:
    """One whole reply on a connection that stays open (its Content-Length is read)."""
    data = b""
    with anyio.fail_after(limit_s):
        while b"\r\n\r\n" not in data:
            data += await stream.receive()
        head, _, rest = data.partition(b"\r\n\r\n")
        found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(found.group(1)) if found else 0
        while len(rest) < length:
            rest += await stream.receive()
    return parse_reply(head + b"\r\n\r\n" + rest)
