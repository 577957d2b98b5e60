"""Streaming runs (docs/protocol.md §5.2) against a stub WebSocket server on loopback: the exact
frame sent, every kind of frame read, one connection reused and reopened, callbacks plain and
async, a consumer that leaves early or reads slowly."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import attrs
import pytest
from aiohttp import WSMsgType, web

from _support.mock_wire import API_KEY, SESSION_ID
from aioagb import (
    AsyncAGB,
    AsyncSession,
    EndEvent,
    ErrorEvent,
    ExecutionError,
    McpTool,
    MockTransport,
    ResultEvent,
    ServerError,
    StderrEvent,
    StdoutEvent,
    ToolError,
    TransportResponse,
)

TOKEN = "tok-123"


@attrs.define
class Stub:
    """A WebSocket endpoint: `reply(ws, frame)` answers each frame a client sends."""

    reply: Callable[[web.WebSocketResponse, dict[str, Any]], Awaitable[None]]
    connections: int = 0
    frames: list[dict[str, Any]] = attrs.field(factory=list)
    tokens: list[str | None] = attrs.field(factory=list)
    closed_by_client: anyio.Event = attrs.field(factory=anyio.Event)
    url: str = ""

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        self.tokens.append(request.headers.get("X-Access-Token"))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                frame = json.loads(message.data)
                self.frames.append(frame)
                await self.reply(ws, frame)
        self.closed_by_client.set()
        return ws


@pytest.fixture
async def serve_ws() -> AsyncIterator[Callable[..., Awaitable[Stub]]]:
    runners: list[web.AppRunner] = []

    async def start(reply: Callable[..., Awaitable[None]]) -> Stub:
        stub = Stub(reply)
        app = web.Application()
        app.router.add_get("/ws", stub.handler)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        stub.url = f"ws://127.0.0.1:{runner.addresses[0][1]}/ws"
        return stub

    yield start
    for runner in runners:
        await runner.cleanup()


def frame(invocation_id: str, data: Any, key: str = "invocationId") -> str:
    return json.dumps(
        {key: invocation_id, "source": "wuying_codespace", "target": "SDK", "data": data}
    )


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"phase": "event", "eventType": kind, **fields}


END = {"phase": "end", "status": "finished", "executionCount": 3, "executionTime": 0.25}


async def script(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
    """A run as the cloud answers it: chunks, a rich result, the end."""
    rid = frame_in["invocationId"]
    await ws.send_str(frame(rid, event("stdout", chunk="one\n")))
    await ws.send_str(frame(rid, json.dumps(event("stderr", chunk="warn\n"))))  # data as text
    mime = {"text/html": "<b>x</b>", "text/plain": "x"}
    await ws.send_str(frame(rid, event("result", result={"isMainResult": True, "mime": mime})))
    await ws.send_str(frame(rid, event("stdout", chunk="two\n"), key="requestId"))
    await ws.send_str(frame(rid, END))


def session_on(stub: Stub, agb: AsyncAGB, **fields: Any) -> AsyncSession:
    return AsyncSession(agb, SESSION_ID, ws_url=stub.url, token=TOKEN, **fields)


async def test_the_run_frame_is_exact_and_events_come_in_order(serve_ws) -> None:
    stub = await serve_ws(script)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        session = session_on(stub, agb)
        got = [e async for e in session.code.stream("print(1)", "PY", timeout_s=30)]

    assert stub.tokens == [TOKEN]
    (sent,) = stub.frames
    assert re.fullmatch(r"[0-9a-f]{32}", sent["invocationId"])
    assert sent == {
        "invocationId": sent["invocationId"],
        "source": "SDK",
        "target": "wuying_codespace",
        "data": {
            "method": "run_code",
            "mode": "stream",
            "params": {"language": "python", "timeoutS": 30, "code": "print(1)"},
        },
    }
    assert got[:2] == [StdoutEvent("one\n"), StderrEvent("warn\n")]
    assert isinstance(got[2], ResultEvent) and got[2].result.html == "<b>x</b>"
    assert got[2].result.is_main_result
    assert got[3:] == [StdoutEvent("two\n"), EndEvent("finished", 3, 0.25, "")]


async def test_the_target_is_the_run_code_server_of_the_tool_list(serve_ws) -> None:
    stub = await serve_ws(script)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        session = session_on(stub, agb)
        session.tool_list = [
            McpTool(name="shell", server="s1"),
            McpTool(name="run_code", server="cs"),
        ]
        [e async for e in session.code.stream("1", "python")]
    assert stub.frames[0]["target"] == "cs"


async def test_run_with_stream_beta_calls_plain_and_async_callbacks(serve_ws) -> None:
    """The official form: chunks to the callbacks as they come; the result has the logs,
    the results, and the invocation id as its request id."""
    stub = await serve_ws(script)
    out: list[str] = []
    err: list[str] = []

    async def on_stderr(chunk: str) -> None:
        await anyio.lowlevel.checkpoint()
        err.append(chunk)

    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        session = session_on(stub, agb)
        result = await session.code.run(
            "x", "python", stream_beta=True, on_stdout=out.append, on_stderr=on_stderr
        )
    assert result.success, result
    assert (out, err) == (["one\n", "two\n"], ["warn\n"])
    assert result.logs.stdout == ["one\n", "two\n"] and result.logs.stderr == ["warn\n"]
    assert result.results[0].html == "<b>x</b>" and result.execution_count == 3
    assert result.request_id == stub.frames[0]["invocationId"]


async def test_an_error_event_and_a_failed_end_fail_the_run(serve_ws) -> None:
    async def failing(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
        rid = frame_in["invocationId"]
        await ws.send_str(frame(rid, event("stdout", chunk="before\n")))
        error = {"code": "NameError", "message": "name 'y' is not defined", "traceId": "t-1"}
        await ws.send_str(frame(rid, event("error", error=error)))
        end = {"phase": "end", "status": "failed", "executionError": "NameError: y"}
        await ws.send_str(frame(rid, end))

    stub = await serve_ws(failing)
    errors: list[object] = []
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        session = session_on(stub, agb)
        result = await session.code.run("y", "python", stream_beta=True, on_error=errors.append)
        events = [e async for e in session.code.stream("y", "python")]
    assert not result.success and result.error_message == "NameError: y"
    assert result.logs.stdout == ["before\n"]
    assert errors == [ExecutionError("NameError", "name 'y' is not defined", "traceId=t-1")]
    assert isinstance(events[1], ErrorEvent) and not events[-1].success  # type: ignore[union-attr]
    assert stub.connections == 1  # an ended run leaves the connection in use


async def test_an_error_frame_ends_the_call_with_a_tool_error(serve_ws) -> None:
    async def refuses(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
        await ws.send_str(frame(frame_in["invocationId"], {"error": "kernel unavailable"}))

    stub = await serve_ws(refuses)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        session = session_on(stub, agb)
        with pytest.raises(ToolError, match="kernel unavailable"):
            [e async for e in session.code.stream("1", "python")]
        result = await session.code.run("1", "python", stream_beta=True)
    assert not result.success and "kernel unavailable" in result.error_message
    assert result.request_id == ""


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"phase": "error", "message": "kernel died", "code": "KernelError"}, "kernel died (Ke"),
        ({"phase": "error", "error": {"code": "E1", "message": "no quota"}}, "no quota (E1)"),
        ({"phase": "error", "code": "Throttled"}, "error: Throttled"),
        ({"phase": "error"}, "an error frame that gave no message"),
    ],
)
async def test_an_error_phase_is_told_in_words_not_as_the_frame_s_json(
    serve_ws, data: dict[str, Any], said: str
) -> None:
    async def refuses(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
        await ws.send_str(frame(frame_in["invocationId"], data))

    stub = await serve_ws(refuses)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        result = await session_on(stub, agb).code.run("1", "python", stream_beta=True)
    assert not result.success and said in result.error_message
    assert "{" not in result.error_message and "phase" not in result.error_message


async def test_a_frame_without_a_phase_is_a_protocol_error(serve_ws) -> None:
    async def broken(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
        await ws.send_str(frame(frame_in["invocationId"], {"eventType": "stdout"}))

    stub = await serve_ws(broken)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        with pytest.raises(ServerError, match="no phase"):
            [e async for e in session_on(stub, agb).code.stream("1", "python")]


async def test_frames_of_another_run_are_skipped(serve_ws) -> None:
    async def noisy(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
        await ws.send_str(frame("someone-else", event("stdout", chunk="not yours")))
        await script(ws, frame_in)

    stub = await serve_ws(noisy)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        got = [e async for e in session_on(stub, agb).code.stream("1", "python")]
    assert StdoutEvent("not yours") not in got and got[0] == StdoutEvent("one\n")


async def test_one_connection_serves_every_run_and_a_dropped_one_is_reopened(serve_ws) -> None:
    dropped_once = False

    async def drop_after_first(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
        nonlocal dropped_once
        await script(ws, frame_in)
        if len(frame_in) and not dropped_once and len(stub.frames) == 2:
            dropped_once = True
            await ws.close()

    stub = await serve_ws(drop_after_first)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        session = session_on(stub, agb)
        for _ in range(3):
            assert (await session.code.run("1", "python", stream_beta=True)).success
    assert stub.connections == 2 and len(stub.frames) == 3


async def test_leaving_a_run_early_closes_the_connection(serve_ws) -> None:
    """A consumer that stops (here: cancelled mid-cell) closes the socket, which is how the
    sandbox learns to interrupt the cell; the next run opens a new connection."""

    async def long_cell(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
        rid = frame_in["invocationId"]
        if len(stub.frames) == 1:
            await ws.send_str(frame(rid, event("stdout", chunk="started\n")))
            return  # ... and never ends
        await script(ws, frame_in)

    stub = await serve_ws(long_cell)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        session = session_on(stub, agb)
        started = anyio.Event()

        async def consume() -> None:
            async for item in session.code.stream("while True: pass", "python"):
                if item == StdoutEvent("started\n"):
                    started.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await started.wait()
            tg.cancel_scope.cancel()
        await stub.closed_by_client.wait()
        assert (await session.code.run("1", "python", stream_beta=True)).success
    assert stub.connections == 2


async def test_a_slow_consumer_holds_the_server_back(serve_ws) -> None:
    """Backpressure: the client reads only as fast as its consumer takes events, so a server
    that streams 64 MB while the consumer waits gets stuck sending, instead of the client
    buffering it all."""
    chunk = "x" * 65536
    total = 1000
    sent = 0

    async def flood(ws: web.WebSocketResponse, frame_in: dict[str, Any]) -> None:
        nonlocal sent
        rid = frame_in["invocationId"]
        for _ in range(total):
            await ws.send_str(frame(rid, event("stdout", chunk=chunk)))
            sent += 1
        await ws.send_str(frame(rid, END))

    stub = await serve_ws(flood)
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        stream = session_on(stub, agb).code.stream("flood()", "python")
        async with stream:
            await stream.__anext__()
            await anyio.sleep(0.5)  # the consumer dawdles; the server keeps trying
            stalled_at = sent
            count = 1 + sum([1 async for _ in stream])
    assert stalled_at < total // 4, stalled_at
    assert count == total + 1  # nothing lost once the consumer reads again


async def test_without_ws_url_the_streaming_run_fails_clearly() -> None:
    async with AsyncAGB(API_KEY, endpoint="http://127.0.0.1:9") as agb:
        result = await AsyncSession(agb, SESSION_ID).code.run("1", "python", stream_beta=True)
    assert not result.success
    assert result.error_message == "ws_url is not available for this session"


async def test_a_transport_that_cannot_open_websockets_says_so() -> None:
    transport = MockTransport(lambda request: TransportResponse(200))
    async with AsyncAGB(API_KEY, endpoint="http://x", transport=transport) as agb:
        session = AsyncSession(agb, SESSION_ID, ws_url="ws://x/ws", token=TOKEN)
        with pytest.raises(Exception, match="needs a transport that opens WebSockets"):
            [e async for e in session.code.stream("1", "python")]
