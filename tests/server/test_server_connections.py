"""Connections under abuse (issue 16, point 1): caps per client and in total with a clear
503 refusal, connections that never deliver a request head are closed, and a request body
that trickles in is cut off with a 408.

Time limits in these tests are generous multiples of the configured timeouts: what is tested
is that a connection is closed at all (before, nothing ever closed it), not how promptly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from _support.fake_sandbox import FakeBackend
from _support.raw_connections import (
    LIST_SESSIONS,
    connect,
    parse_reply,
    read_one_reply,
    read_until_closed,
    request_bytes,
)
from _support.server_app import make_config
from aioagb import _protocol as p
from aioagb.server import LocalServer, ServerConfig
from aioagb.server.envelope import CODE_BODY_TIMEOUT, CODE_TOO_MANY_CONNECTIONS

GENEROUS_S = 15.0


@pytest.fixture
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LocalServer]:
    config: ServerConfig = request.param
    async with LocalServer(config, backend=FakeBackend(tmp_path / "w")) as running:
        yield running


def _with(**settings: object) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("server", [make_config(**settings)], indirect=True)


async def _assert_refused(port: int, client: str, says: str) -> None:
    stream = await connect(port, client)
    async with stream:
        reply = parse_reply(await read_until_closed(stream, GENEROUS_S))
    assert reply.status == 503
    assert reply.headers["connection"] == "close"
    assert reply.headers["retry-after"] == "1"
    envelope = reply.envelope()
    assert envelope["code"] == CODE_TOO_MANY_CONNECTIONS
    assert envelope["success"] is False and envelope["httpStatusCode"] == 503
    assert reply.headers[p.HEADER_REQUEST_ID] == envelope["requestId"]
    assert says in envelope["message"]


async def _served(port: int, stream: anyio.abc.SocketStream) -> bool:
    await stream.send(LIST_SESSIONS)
    return (await read_one_reply(stream)).status == 200


@_with(max_connections_per_client=2, max_connections=3)
async def test_connections_past_the_caps_get_a_503_envelope_and_are_closed(
    server: LocalServer,
) -> None:
    port = server.port
    first = [await connect(port, "127.0.0.2") for _ in range(2)]
    await _assert_refused(port, "127.0.0.2", "at most 2 per client")
    other = await connect(port, "127.0.0.3")  # another client: admitted, the total is 3 now
    await _assert_refused(port, "127.0.0.4", "3 connections open")
    for stream in [*first, other]:
        assert await _served(port, stream)  # the admitted ones are served as usual
    for stream in first:
        await stream.aclose()
    with anyio.fail_after(GENEROUS_S):  # their places are given back once they close
        while True:
            again = await connect(port, "127.0.0.2")
            try:
                await again.send(LIST_SESSIONS)
                if (await read_one_reply(again)).status == 200:
                    break
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                await anyio.sleep(0.05)
            finally:
                await again.aclose()
    await other.aclose()


@_with(keepalive_timeout_s=0.5)
async def test_connections_without_a_whole_request_head_are_closed(server: LocalServer) -> None:
    silent = await connect(server.port)
    half = await connect(server.port)
    await half.send(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the head never ends
    for stream in (silent, half):
        async with stream:
            assert await read_until_closed(stream, GENEROUS_S) == b""
    kept = await connect(server.port)  # served, then idle on keep-alive: closed too
    async with kept:
        assert await _served(server.port, kept)
        assert await read_until_closed(kept, GENEROUS_S) == b""


@_with(body_timeout_s=1.0)
async def test_a_body_that_trickles_in_is_cut_off_with_a_408(server: LocalServer) -> None:
    body = b'{"sessionId": "' + b"x" * 1000 + b'"}'
    head = request_bytes("POST", p.PATH_GET_SESSION, body)[: -len(body)]
    stream = await connect(server.port)
    sent = 0
    async with stream, anyio.create_task_group() as tg:

        async def trickle() -> None:
            nonlocal sent
            await stream.send(head)
            for byte in body:  # 1 byte per 100 ms: 100+ s for the whole body
                await stream.send(bytes([byte]))
                sent += 1
                await anyio.sleep(0.1)

        tg.start_soon(trickle)
        reply = await read_one_reply(stream, GENEROUS_S)
        tg.cancel_scope.cancel()
    assert sent < len(body)
    assert reply.status == 408
    assert reply.headers["connection"] == "close"
    assert reply.envelope()["code"] == CODE_BODY_TIMEOUT


@_with(body_timeout_s=1.0, keepalive_timeout_s=1.0)
async def test_a_whole_request_is_served_however_the_timeouts_are_set(
    server: LocalServer,
) -> None:
    stream = await connect(server.port)
    async with stream:
        for _ in range(3):  # three requests on one kept-alive connection
            assert await _served(server.port, stream)
