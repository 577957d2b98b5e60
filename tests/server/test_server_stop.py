"""Stopping with calls in flight (issue 16, point 7): the calls get the grace and no more,
requests that arrive on kept-alive connections meanwhile get a 503 envelope and a close, and
`skip_grace()` (a second signal to `aioagb serve`) ends the wait at once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio

from _support.fake_sandbox import FakeBackend
from _support.raw_connections import (
    LIST_SESSIONS,
    connect,
    read_one_reply,
    read_until_closed,
    request_bytes,
)
from _support.server_app import make_config
from aioagb import _protocol as p
from aioagb.server import LocalServer
from aioagb.server.draining import DRAIN
from aioagb.server.envelope import CODE_SERVER_STOPPING

# Slack over the grace for cutting off the calls left and ending the sessions (in-process,
# fake sandboxes): generous for a loaded 2-core machine, and still well short of a second
# grace, which is what a stop used to take.
CUT_OFF_SLACK_S = 1.8


async def _create(server: LocalServer) -> str:
    stream = await connect(server.port)
    async with stream:
        query = f"{p.PATH_CREATE_SESSION}?{p.Q_IMAGE_ID}=code_latest"
        await stream.send(request_bytes("POST", query, b"{}"))
        session_id: str = (await read_one_reply(stream)).envelope()["data"]["sessionId"]
    return session_id


def _shell(session_id: str, command: str) -> bytes:
    args = json.dumps({"command": command, "timeout_ms": 600_000})
    body = json.dumps({"args": args, "sessionId": session_id, "name": "shell"}).encode()
    return request_bytes("POST", p.PATH_CALL_TOOL, body)


async def _wait_for_calls(server: LocalServer, count: int) -> None:
    drain = server._runner.app[DRAIN] if server._runner else None
    assert drain is not None
    with anyio.fail_after(10):
        while drain.in_progress < count:  # noqa: ASYNC110 - polling the server's own count
            await anyio.sleep(0.01)


async def test_calls_in_progress_get_the_grace_and_no_more(tmp_path: Path) -> None:
    grace = 3.0
    config = make_config(shutdown_grace_s=grace)
    async with LocalServer(config, backend=FakeBackend(tmp_path / "w")) as server:
        session_id = await _create(server)
        quick, long = await connect(server.port), await connect(server.port)
        await quick.send(_shell(session_id, "sleep 1; echo done"))
        await long.send(_shell(session_id, "sleep 600"))
        await _wait_for_calls(server, 2)
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.stop)
            finished = await read_one_reply(quick)  # within the grace: answered in full
        took = time.monotonic() - started
        cut_off = await read_until_closed(long, 10)
        await quick.aclose()
        await long.aclose()
    assert finished.status == 200
    assert "done" in finished.envelope()["data"]["content"][0]["text"]
    assert cut_off == b""  # the long call was cut off when the grace ran out
    assert grace <= took < grace + CUT_OFF_SLACK_S, took


async def test_requests_during_the_stop_get_a_503_and_skip_grace_ends_it(
    tmp_path: Path,
) -> None:
    config = make_config(shutdown_grace_s=600)
    async with LocalServer(config, backend=FakeBackend(tmp_path / "w")) as server:
        session_id = await _create(server)
        kept = await connect(server.port)
        await kept.send(LIST_SESSIONS)
        assert (await read_one_reply(kept)).status == 200  # now idle, kept alive
        long = await connect(server.port)
        await long.send(_shell(session_id, "sleep 600"))
        await _wait_for_calls(server, 1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.stop)
            await anyio.sleep(0.2)  # the stop is under way: draining
            await kept.send(LIST_SESSIONS)
            refused = await read_one_reply(kept)
            assert await read_until_closed(kept, 10) == b""
            await kept.aclose()
            started = time.monotonic()
            server.skip_grace()
        took = time.monotonic() - started
    assert refused.status == 503
    assert refused.headers["connection"] == "close"
    assert refused.envelope()["code"] == CODE_SERVER_STOPPING
    assert refused.headers[p.HEADER_REQUEST_ID] == refused.envelope()["requestId"]
    assert took < 30, took  # not the 600 s grace
    await long.aclose()
