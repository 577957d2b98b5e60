"""The limits an operator sets on `aioagb serve` are the ones enforced: request body size,
captured output, workspace quota, connections per client and their deadlines (end to end,
through a real server process)."""

from __future__ import annotations

import json
import socket

import anyio

from _support.security import assert_envelope, bearer, raw_request, serve_process
from aioagb import AsyncAGB, CreateSessionParams
from aioagb import _protocol as p
from aioagb.server.envelope import CODE_TOO_MANY_CONNECTIONS

KEY = "limit-flags-key-0123456789"


async def test_serve_flags_set_the_body_output_and_quota_limits() -> None:
    flags = ("--max-body-kb", "2", "--max-output-kb", "1", "--workspace-quota-mb", "1")
    async with serve_process(KEY, *flags) as (_, endpoint):
        port = int(endpoint.rsplit(":", 1)[1])
        big = json.dumps({"sessionId": "x" * 3000}).encode()
        reply = await anyio.to_thread.run_sync(
            lambda: raw_request(port, "POST", p.PATH_GET_SESSION.encode(), big, bearer(KEY))
        )
        assert reply.status == 413
        assert assert_envelope(reply)["code"] == "InvalidParameter.BodyTooLarge"

        params = CreateSessionParams(image_id="agb-code-space-2")
        async with AsyncAGB(KEY, endpoint=endpoint) as agb, agb.session(params) as s:
            out = await s.command.execute("head -c 100000 /dev/zero | tr '\\0' x")
            assert "output truncated at 1024 bytes" in out.stdout
            assert len(out.stdout) < 1200
            made = await s.command.execute("head -c 1100000 /dev/zero > /workspace/f")
            assert made.success
            wrote = await s.file.write("/workspace/g.txt", "more")
            assert not wrote.success and "quota of 1048576 bytes" in wrote.error_message


def _connection_limits_hold(port: int) -> None:
    """With one connection per client, 1 s to a request head and 1 s to a body."""
    with socket.create_connection(("127.0.0.1", port), 10, ("127.0.0.2", 0)) as held:
        with socket.create_connection(("127.0.0.1", port), 10, ("127.0.0.2", 0)) as second:
            refused = second.recv(65536)
        assert refused.startswith(b"HTTP/1.1 503"), refused
        assert CODE_TOO_MANY_CONNECTIONS.encode() in refused
        held.settimeout(15)  # generous: closed after its 1 s without a request head
        assert held.recv(1) == b""
    head = (
        f"POST {p.PATH_GET_SESSION} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
        f"authorization: Bearer {KEY}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), 10, ("127.0.0.3", 0)) as slow:
        slow.sendall(head.encode() + b"{")  # and never the other 99 bytes
        slow.settimeout(15)
        assert slow.recv(65536).startswith(b"HTTP/1.1 408")


async def test_serve_flags_set_the_connection_limits() -> None:
    flags = ("--max-connections-per-client", "1", "--keepalive-timeout", "1")
    flags += ("--body-timeout", "1", "--backlog", "16")
    async with serve_process(KEY, *flags) as (_, endpoint):
        port = int(endpoint.rsplit(":", 1)[1])
        await anyio.to_thread.run_sync(_connection_limits_hold, port)
