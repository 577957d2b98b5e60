"""Warm sandboxes through the server: `AsyncAGB.local()` keeps some, a session's first call
takes one, and stopping the server ends the pool with everything in it."""

from __future__ import annotations

import os
from collections.abc import Callable

import anyio

from aioagb import AsyncAGB, CreateSessionParams
from aioagb.server import LocalServer, ServerConfig
from aioagb.server.config import LOCAL_WARM_SANDBOXES
from aioagb.server.sandbox import LocalBackend


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    with anyio.fail_after(timeout_s):
        while not condition():  # noqa: ASYNC110 - polling the pool's state, which has no event
            await anyio.sleep(0.01)


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_local_keeps_warm_sandboxes_and_a_session_runs_in_one() -> None:
    async with AsyncAGB.local() as agb:
        assert agb.local_server is not None
        backend = agb.local_server.backend
        assert isinstance(backend, LocalBackend)
        assert agb.local_server.config.warm_sandboxes == LOCAL_WARM_SANDBOXES > 0
        pool = backend.warm_pool
        await until(lambda: pool.ready == LOCAL_WARM_SANDBOXES)
        started_before_create = {sandbox.agent_pid for sandbox in pool._ready}
        async with agb.session(CreateSessionParams(image_id="code_latest")) as session:
            sandbox = backend.sandboxes[session.session_id]
            assert not sandbox.started  # an idle session holds no sandbox
            result = await session.code.run_code("x = 6 * 7\nx", "python")
            assert result.success and result.result == "42"
            assert sandbox.agent_pid in started_before_create  # the first call took one
        await until(lambda: pool.ready == LOCAL_WARM_SANDBOXES)
        pids = [s.agent_pid for s in pool._ready]
        dirs = [s.dir for s in pool._ready]
    assert pids and not any(pid is not None and running(pid) for pid in pids)
    assert not any(map(os.path.exists, dirs))


async def test_an_embedded_server_keeps_none_unless_asked() -> None:
    async with LocalServer() as server:
        backend = server.backend
        assert isinstance(backend, LocalBackend) and backend.warm_pool.size == 0
    async with LocalServer(ServerConfig(warm_sandboxes=1)) as server:
        backend = server.backend
        assert isinstance(backend, LocalBackend)
        await until(lambda: backend.warm_pool.ready == 1)
