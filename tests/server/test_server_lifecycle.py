"""Idle expiry, keep-alive, busy sessions, shutdown, and LocalServer start/stop."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import anyio
import pytest

from _support.fake_sandbox import FakeBackend
from _support.server_app import Api, assert_error, make_config, start_api
from aioagb import _protocol as p
from aioagb.server import LocalServer, ServerConfig
from aioagb.server.registry import Registry


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def status_of(api: Api, session_id: str) -> int:
    reply = await api.call("POST", p.PATH_GET_SESSION_INFO, body={"sessionId": session_id})
    return reply.status


async def test_registry_expires_idle_sessions_and_any_use_restarts_the_timer(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    backend = FakeBackend(tmp_path)
    registry = Registry(backend, clock=clock)
    idle = await registry.create("t", "code_latest", {}, idle_timeout_s=60)
    used = await registry.create("t", "code_latest", {}, idle_timeout_s=60)
    busy = await registry.create("t", "code_latest", {}, idle_timeout_s=60)
    clock.now += 45
    registry.lookup("t", used.session_id)  # any API call on the session
    async with registry.busy(busy):
        clock.now += 20
        assert await registry.release_idle() == 1  # only `idle`; `busy` is mid-call
    assert backend.sandboxes[idle.session_id].closed
    assert not backend.sandboxes[used.session_id].closed
    clock.now += 39  # `used` was last touched 59 s ago, `busy` (when its call ended) 39 s ago
    assert await registry.release_idle() == 0
    clock.now += 1
    assert await registry.release_idle() == 1
    assert backend.sandboxes[used.session_id].closed
    clock.now += 20
    assert await registry.release_idle() == 1
    assert len(registry) == 0
    await registry.aclose()
    assert backend.closed


async def test_idle_sessions_are_released_over_http_and_keep_alive_holds_them(
    tmp_path: Path,
) -> None:
    api = await start_api(tmp_path, make_config(reaper_interval_s=0.05))
    try:
        control = await api.create(timeout=1)
        kept = await api.create(timeout=1)
        default = await api.create()  # the server default: 300 s
        for _ in range(4):
            await anyio.sleep(0.4)
            reply = await api.call("POST", p.PATH_KEEP_ALIVE, params={"sessionId": kept})
            assert reply.status == 200
            await status_of(api, control)  # watching a session does not keep it alive
        assert_error(
            await api.call("POST", p.PATH_GET_SESSION_INFO, body={"sessionId": control}),
            400,
            p.CODE_SESSION_NOT_FOUND,
        )
        assert api.backend.sandboxes[control].closed
        assert await status_of(api, kept) == 200
        assert await status_of(api, default) == 200
        listed = await api.call("GET", p.PATH_LIST_SESSIONS)
        assert {item["sessionId"] for item in listed.data} == {kept, default}
    finally:
        await api.client.close()


async def test_a_long_tool_call_is_not_reaped(tmp_path: Path) -> None:
    api = await start_api(tmp_path, make_config(reaper_interval_s=0.05))
    try:
        sid = await api.create(timeout=1)
        reply = await api.tool(sid, "shell", {"command": "sleep 1.5", "timeout_ms": 5000})
        assert reply.data["isError"] is False
        assert await status_of(api, sid) == 200
    finally:
        await api.client.close()


async def test_shutdown_ends_every_sandbox(tmp_path: Path) -> None:
    api = await start_api(tmp_path, make_config())
    ids = [await api.create() for _ in range(3)]
    await api.client.close()
    assert api.backend.closed
    assert all(api.backend.sandboxes[sid].closed for sid in ids)


async def test_local_server_serves_on_loopback_with_a_fresh_key(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path / "w")
    async with LocalServer(backend=backend) as server:
        assert server.endpoint == f"http://127.0.0.1:{server.port}"
        assert len(server.api_key) >= 32
        headers = {"authorization": f"Bearer {server.api_key}"}
        async with aiohttp.ClientSession() as http:
            url = f"{server.endpoint}{p.PATH_CREATE_SESSION}?imageId=code_latest"
            async with http.post(url, data="{}", headers=headers) as resp:
                body = await resp.json()
            assert resp.status == 200 and body["data"]["sessionId"]
            async with http.get(f"{server.endpoint}{p.PATH_LIST_SESSIONS}") as resp:
                assert resp.status == 401
        assert server.live_sessions() == 1
        assert server.live_sessions(server.api_key) == 1
        assert server.live_sessions("some other key") == 0
    assert backend.closed
    with pytest.raises(RuntimeError):
        _ = server.endpoint


async def test_local_server_uses_the_configured_keys(tmp_path: Path) -> None:
    config = ServerConfig(api_keys=("k1", "k2"))
    async with LocalServer(config, backend=FakeBackend(tmp_path)) as server:
        assert server.api_key == "k1"
        async with aiohttp.ClientSession() as http:
            for key, status in (("k2", 200), ("k3", 401)):
                url = f"{server.endpoint}{p.PATH_LIST_SESSIONS}?labels={json.dumps({})}"
                async with http.get(url, headers={"authorization": f"Bearer {key}"}) as resp:
                    assert resp.status == status


async def test_local_server_stops_its_backend_when_start_fails(tmp_path: Path) -> None:
    backend = FakeBackend(tmp_path)
    async with LocalServer(backend=backend) as first:
        taken = ServerConfig(port=first.port)
        second_backend = FakeBackend(tmp_path / "second")
        with pytest.raises(OSError):
            async with LocalServer(taken, backend=second_backend):
                pass
        assert second_backend.closed


async def test_admission_hook_can_refuse_before_any_sandbox_exists(tmp_path: Path) -> None:
    from aioagb.server.envelope import ApiError

    def at_most_one(tenant: str, live: int) -> None:
        if live >= 1:
            raise ApiError(400, "QuotaExceeded", f"tenant {tenant} has {live} live session")

    backend = FakeBackend(tmp_path)
    registry = Registry(backend, admit=at_most_one)
    await registry.create("t", "code_latest", {}, 60)
    with pytest.raises(ApiError):
        await registry.create("t", "code_latest", {}, 60)
    await registry.create("other", "code_latest", {}, 60)
    assert len(backend.sandboxes) == 2
    await registry.aclose()
