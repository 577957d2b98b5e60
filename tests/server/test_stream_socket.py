"""The streaming channel (agb-wire.md §5.2) of a real AGB Local, spoken by a plain aiohttp
WebSocket client: the token and tenant checks of the handshake, the frames, bad frames,
cancel frames, a client that goes away, concurrent calls, and a slow reader."""

from __future__ import annotations

import ast
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import anyio
import attrs
import pytest

from aioagb import _protocol as p
from aioagb.server import LocalServer, ServerConfig
from aioagb.server.sandbox import SandboxLimits

KEY_A = "stream-key-a"
KEY_B = "stream-key-b"
TARGET = "wuying_codespace"  # what the official client sends without a tool list
Frames = list[dict[str, Any]]


@attrs.frozen
class Local:
    server: LocalServer
    http: aiohttp.ClientSession

    async def post(
        self, path: str, body: Mapping[str, object], key: str = KEY_A, **query: str
    ) -> Any:
        headers = {p.HEADER_AUTHORIZATION: f"{p.BEARER_PREFIX}{key}"}
        url = f"{self.server.endpoint}{path}"
        async with self.http.post(url, json=body, params=query, headers=headers) as response:
            return await response.json()

    async def create(self, key: str = KEY_A) -> dict[str, Any]:
        body = await self.post(p.PATH_CREATE_SESSION, {}, key, imageId="agb-code-space-2")
        assert body["success"], body
        data: dict[str, Any] = body["data"]
        return data

    async def tool(self, session_id: str, name: str, args: Mapping[str, object]) -> str:
        body = {"args": json.dumps(args), "sessionId": session_id, "name": name}
        reply = await self.post(p.PATH_CALL_TOOL, body)
        assert reply["success"] and not reply["data"]["isError"], reply
        text: str = reply["data"]["content"][0]["text"]
        return text

    async def python(self, session_id: str, code: str) -> str:
        """The main result of a cell run over plain HTTP."""
        payload = json.loads(await self.tool(session_id, p.TOOL_RUN_CODE, {"code": code}))
        assert "executionError" not in payload, payload
        return str(payload["result"][0]["text/plain"])

    def connect(self, data: Mapping[str, Any], token: str | None = None) -> Any:
        headers = {p.HEADER_ACCESS_TOKEN: token if token is not None else data[p.KEY_TOKEN]}
        return self.http.ws_connect(data[p.KEY_WS_URL], headers=headers, compress=0)


@pytest.fixture
async def local() -> AsyncIterator[Local]:
    limits = SandboxLimits(max_output_bytes=64 << 20, max_timeout_s=60)
    config = ServerConfig(api_keys=(KEY_A, KEY_B), limits=limits)
    async with LocalServer(config) as server, aiohttp.ClientSession() as http:
        yield Local(server, http)


def run_frame(code: str, invocation_id: str | None = None, **params: object) -> str:
    """A run_code frame exactly as the official client sends it (compact JSON)."""
    frame = {
        "invocationId": invocation_id or uuid.uuid4().hex,
        "source": p.STREAM_SOURCE_SDK,
        "target": TARGET,
        "data": {
            "method": "run_code",
            "mode": "stream",
            "params": {"language": "python", "timeoutS": 30, "code": code, **params},
        },
    }
    return json.dumps(frame, separators=(",", ":"))


async def until_end(ws: Any, invocation_id: str | None = None) -> Frames:
    """Frames (of `invocation_id`, when given) up to its end or error, inclusive."""
    frames: Frames = []
    async for message in ws:
        frame = json.loads(message.data)
        if invocation_id is not None and frame["invocationId"] != invocation_id:
            continue
        frames.append(frame)
        if frame["data"]["phase"] in (p.PHASE_END, p.PHASE_ERROR):
            return frames
    raise AssertionError(f"the socket closed before the end: {frames}")


def tenant_of(data: Mapping[str, Any]) -> str:
    return str(data[p.KEY_TOKEN]).partition(".")[0]


def stdout_of(frames: Frames) -> str:
    return "".join(f["data"]["chunk"] for f in frames if f["data"].get("eventType") == "stdout")


async def test_create_and_get_session_hand_out_the_channel(local: Local) -> None:
    data = await local.create()
    assert data[p.KEY_WS_URL] == (
        f"ws://127.0.0.1:{local.server.port}/ws/session/{data['sessionId']}"
    )
    again = await local.post(p.PATH_GET_SESSION, {"sessionId": data["sessionId"]})
    assert again["data"][p.KEY_TOKEN] == data[p.KEY_TOKEN]
    assert again["data"][p.KEY_WS_URL] == data[p.KEY_WS_URL]
    assert "linkUrl" not in again["data"] and "toolList" not in again["data"]


async def test_the_socket_opens_only_with_its_sessions_token(local: Local) -> None:
    mine = await local.create()
    sibling = await local.create()
    theirs = await local.create(KEY_B)
    refused = {
        "missing": "",
        "wrong": "nope",
        "forged tenant": f"{tenant_of(theirs)}.{mine[p.KEY_TOKEN].partition('.')[2]}",
        "another session's": sibling[p.KEY_TOKEN],
        "another tenant's": theirs[p.KEY_TOKEN],
    }
    for why, token in refused.items():
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            async with local.connect(mine, token):
                pass
        assert caught.value.status == 401, why
    # Without the Upgrade, or for a released session, the protocol's envelope answers.
    headers = {p.HEADER_ACCESS_TOKEN: mine[p.KEY_TOKEN]}
    async with local.http.get(mine[p.KEY_WS_URL].replace("ws://", "http://"), headers=headers) as r:
        assert r.status == 400 and (await r.json())["success"] is False
    await local.post(p.PATH_RELEASE_ASYNC, {"sessionId": mine["sessionId"]})
    with pytest.raises(aiohttp.WSServerHandshakeError) as gone:
        async with local.connect(mine):
            pass
    assert gone.value.status == 400
    async with local.http.get(mine[p.KEY_WS_URL].replace("ws://", "http://"), headers=headers) as r:
        assert (await r.json())["code"] == p.CODE_SESSION_NOT_FOUND


async def test_frames_follow_the_protocol(local: Local) -> None:
    data = await local.create()
    code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\ndisplay(1)\n2"
    async with local.connect(data) as ws:
        await ws.send_str(run_frame(code, "inv-1"))
        frames = await until_end(ws)
    for frame in frames:
        assert set(frame) == {"invocationId", "source", "target", "data"}
        assert (frame["invocationId"], frame["source"], frame["target"]) == ("inv-1", TARGET, "SDK")
    events = [f["data"] for f in frames[:-1]]
    assert {"phase": "event", "eventType": "stdout", "chunk": "out\n"} in events
    assert {"phase": "event", "eventType": "stderr", "chunk": "err\n"} in events
    results = [e["result"] for e in events if e["eventType"] == "result"]
    assert results == [
        {"isMainResult": False, "mime": {"text/plain": "1"}},
        {"isMainResult": True, "mime": {"text/plain": "2"}},
    ]
    end = frames[-1]["data"]
    assert end["phase"] == "end" and end["status"] == "finished"
    assert isinstance(end["executionCount"], int) and end["executionTime"] >= 0
    assert "executionError" not in end


async def test_data_as_json_text_and_request_id_are_accepted(local: Local) -> None:
    data = await local.create()
    frame = json.loads(run_frame("print('hi')"))
    frame = {"requestId": "req-1", "target": TARGET, "data": json.dumps(frame["data"])}
    async with local.connect(data) as ws:
        await ws.send_str(json.dumps(frame))
        frames = await until_end(ws)
    assert stdout_of(frames) == "hi\n"
    assert frames[-1]["invocationId"] == "req-1"


async def test_a_failing_cell_ends_failed_with_an_error_event(local: Local) -> None:
    data = await local.create()
    async with local.connect(data) as ws:
        await ws.send_str(run_frame("1 / 0", "inv-err"))
        frames = await until_end(ws)
    error = next(f["data"]["error"] for f in frames if f["data"].get("eventType") == "error")
    assert error["code"] == "ZeroDivisionError"
    assert error["message"] == "ZeroDivisionError: division by zero" and error["traceId"]
    end = frames[-1]["data"]
    assert end["status"] == "failed"
    assert end["executionError"] == "ZeroDivisionError: division by zero"


async def test_bad_frames_get_error_frames_and_the_socket_stays_usable(local: Local) -> None:
    data = await local.create()
    bad = {
        "unknown method": json.dumps({"invocationId": "b1", "data": {"method": "nope"}}),
        "no code": json.dumps({"invocationId": "b2", "data": {"method": "run_code"}}),
        "data not an object": json.dumps({"invocationId": "b3", "data": [1]}),
        "unsupported language": run_frame("x", "b4", language="ruby"),
        "non-positive timeout": run_frame("x", "b5", timeoutS=0),
    }
    async with local.connect(data) as ws:
        await ws.send_str("not json")  # no invocationId: nobody to answer
        await ws.send_str(json.dumps({"data": {"method": "run_code"}}))
        for why, raw in bad.items():
            await ws.send_str(raw)
            (frame,) = await until_end(ws)
            error = frame["data"]["error"]
            assert frame["data"]["phase"] == "error" and isinstance(error, str) and error, why
            assert "ruby" in error or why != "unsupported language"
        # A second call under the id of one that runs is refused; the first one goes on.
        waits = (
            "import os, time\n"
            "while not os.path.exists('/workspace/release'): time.sleep(0.01)\n"
            "'first'"
        )
        await ws.send_str(run_frame(waits, "same"))
        await ws.send_str(run_frame("'second'", "same"))
        (refused,) = await until_end(ws, "same")
        assert "running" in refused["data"]["error"]
        release = {"path": "/workspace/release", "content": ""}
        await local.tool(data["sessionId"], p.TOOL_WRITE_FILE, release)
        first = await until_end(ws, "same")
        assert first[0]["data"]["result"]["mime"]["text/plain"] == "'first'"
        assert first[-1]["data"]["status"] == "finished"


async def _sleeping_processes(local: Local, session_id: str) -> list[str]:
    probe = (
        "import os\n"
        "def cmdline(pid):\n"
        "    try: return open(f'/proc/{pid}/cmdline', 'rb').read()\n"
        "    except OSError: return b''\n"
        "[cmdline(p).decode() for p in os.listdir('/proc') if cmdline(p).startswith(b'sleep')]"
    )
    return list(ast.literal_eval(await local.python(session_id, probe)))


async def test_a_cancel_frame_interrupts_its_call(local: Local) -> None:
    data = await local.create()
    sid = data["sessionId"]
    code = (
        "kept = 1\n"
        "import subprocess\n"
        "print('started', flush=True)\n"
        "subprocess.run(['sleep', '300'])"
    )
    async with local.connect(data) as ws:
        await ws.send_str(run_frame(code, "long"))
        first = json.loads((await ws.receive()).data)
        assert first["data"]["chunk"] == "started\n"
        await ws.send_str(json.dumps({"invocationId": "long", "data": {"method": "cancel"}}))
        frames = await until_end(ws, "long")
        end = frames[-1]["data"]
        assert end["phase"] == "end" and end["status"] == "failed"
        assert "cancelled" in end["executionError"]
        await ws.send_str(run_frame("kept + 1", "next"))
        results = [f for f in await until_end(ws, "next") if f["data"].get("eventType") == "result"]
        assert results[0]["data"]["result"]["mime"]["text/plain"] == "2"
    assert await _sleeping_processes(local, sid) == []


async def test_a_client_that_goes_away_interrupts_its_calls(local: Local) -> None:
    data = await local.create()
    sid = data["sessionId"]
    code = (
        "import subprocess\n"
        "print('go', flush=True)\n"
        "subprocess.run(['sleep', '300'])\n"
        "open('/workspace/after', 'w').write('the cell went on')"
    )
    async with local.connect(data) as ws:
        await ws.send_str(run_frame(code, "orphan"))
        assert json.loads((await ws.receive()).data)["data"]["chunk"] == "go\n"
    # The kernel is free again (the cell was interrupted, not left to run 300 s), and the
    # line after the sleep never ran.
    assert await local.python(sid, "import os\nos.path.exists('/workspace/after')") == "False"
    assert await _sleeping_processes(local, sid) == []


async def test_calls_run_at_once_on_one_socket(local: Local) -> None:
    data = await local.create()
    # The python call waits for a file that only the javascript call writes.
    waiting = (
        "import os, time\n"
        "for _ in range(2000):\n"
        "    if os.path.exists('/workspace/flag'): break\n"
        "    time.sleep(0.01)\n"
        "os.path.exists('/workspace/flag')"
    )
    writing = "require('fs').writeFileSync('/workspace/flag', ''); 'written'"
    async with local.connect(data) as ws:
        await ws.send_str(run_frame(waiting, "py"))
        await ws.send_str(run_frame(writing, "js", language="javascript"))
        ends: dict[str, dict[str, Any]] = {}
        results: dict[str, str] = {}
        async for message in ws:
            frame = json.loads(message.data)
            d = frame["data"]
            if d.get("eventType") == "result":
                results[frame["invocationId"]] = d["result"]["mime"]["text/plain"]
            if d["phase"] == "end":
                ends[frame["invocationId"]] = d
                if len(ends) == 2:
                    break
    assert ends["py"]["status"] == ends["js"]["status"] == "finished"
    assert results == {"py": "True", "js": "'written'"}


async def _settled(read: Any) -> int:
    """A counter's value once it has stopped moving."""
    last, same = -2, 0
    for _ in range(600):
        now = await read()
        same = same + 1 if now == last else 0
        if same >= 5:
            return int(now)
        last = now
        await anyio.sleep(0.1)
    raise AssertionError(f"never settled: {last}")


async def test_a_slow_reader_holds_the_cell_back(local: Local) -> None:
    data = await local.create()
    sid = data["sessionId"]
    lines = 600
    code = (
        "import sys\n"
        f"for i in range({lines}):\n"
        "    sys.stdout.write('x' * 65535 + '\\n')\n"
        "    open('/workspace/progress', 'w').write(str(i))\n"
    )

    async def progress() -> int:
        args = {"command": "cat progress || echo -1", "timeout_ms": 20_000}
        out = json.loads(await local.tool(sid, p.TOOL_SHELL, args))
        return int(out["stdout"].strip() or -1)

    async with local.connect(data) as ws:
        await ws.send_str(run_frame(code, "flood"))
        first = json.loads((await ws.receive()).data)
        assert first["data"]["eventType"] == "stdout"
        blocked_at = await _settled(progress)  # the client reads nothing meanwhile
        assert blocked_at < lines - 1
        frames = [first, *await until_end(ws, "flood")]
    assert stdout_of(frames).count("\n") == lines
    assert frames[-1]["data"]["status"] == "finished"
    assert await progress() == lines - 1


async def test_shutdown_closes_open_sockets_and_their_calls() -> None:
    config = ServerConfig(api_keys=(KEY_A,))
    async with aiohttp.ClientSession() as http:
        async with LocalServer(config) as server:
            local = Local(server, http)
            data = await local.create()
            ws = await local.connect(data)
            await ws.send_str(run_frame("print('go', flush=True)\nimport time\ntime.sleep(300)"))
            assert json.loads((await ws.receive()).data)["data"]["chunk"] == "go\n"
        # Leaving the block stopped the server: it closed the socket as going away.
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1001
        await ws.close()
