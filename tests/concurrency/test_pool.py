"""SessionPool against AGB Local: the bound, fairness, replacement, close."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from _support.concurrency import IMAGE, client_for, local_server
from aioagb import (
    CreateSessionParams,
    PoolClosedError,
    PoolTimeoutError,
    SessionPool,
)

PARAMS = CreateSessionParams(image_id=IMAGE, labels={"test": "pool"})


async def test_the_bound_holds_under_50_concurrent_users() -> None:
    in_use = peak = server_peak = 0
    async with local_server("create:latency=0.02") as server, client_for(server) as agb:
        async with SessionPool(agb, PARAMS, min_size=2, max_size=5, acquire_timeout=30) as pool:
            assert pool.stats().idle == 2  # pre-warmed

            async def user(n: int) -> None:
                nonlocal in_use, peak, server_peak
                async with pool.session() as session:
                    in_use += 1
                    peak = max(peak, in_use)
                    server_peak = max(server_peak, server.live_sessions(server.api_key))
                    result = await session.command.execute(f"echo {n}", timeout_ms=5000)
                    assert result.stdout == f"{n}\n"
                    in_use -= 1

            async with anyio.create_task_group() as tg:
                for n in range(50):
                    tg.start_soon(user, n)
            stats = pool.stats()
            assert stats.created <= 5 and stats.in_use == 0 and stats.waiting == 0
        assert server.live_sessions(server.api_key) == 0
    assert peak == 5 and server_peak <= 5


async def test_waiting_is_first_come_first_served() -> None:
    async with (
        local_server() as server,
        client_for(server) as agb,
        SessionPool(agb, PARAMS, max_size=1) as pool,
    ):
        served: list[int] = []
        release = anyio.Event()

        async def holder() -> None:
            async with pool.session():
                await release.wait()

        async def waiter(n: int) -> None:
            async with pool.session():
                served.append(n)
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(holder)
            await _until(lambda: pool.stats().in_use == 1)
            for n in range(8):
                tg.start_soon(waiter, n)
                await _until(lambda n=n: pool.stats().waiting == n + 1)
            release.set()
        assert served == list(range(8))


async def test_broken_sessions_are_replaced() -> None:
    async with local_server() as server, client_for(server) as agb:
        async with SessionPool(agb, PARAMS, min_size=2, max_size=2, health_check_after=0) as pool:
            # A body that raises: its session is deleted, and the pool makes a new one.
            with pytest.raises(RuntimeError):
                async with pool.session() as session:
                    broken = session.session_id
                    raise RuntimeError("the body broke the sandbox")
            await _until(lambda: pool.stats().idle == 2)
            assert not (await agb.get(broken)).success
            assert pool.stats().recycled == 1

            # A session deleted behind the pool's back fails the health check.
            async with pool.session() as session:
                victim = session.session_id
            assert (await (await agb.get(victim)).session.delete()).success  # type: ignore[union-attr]
            seen = set()
            for _ in range(2):
                async with pool.session() as session:
                    seen.add(session.session_id)
                    assert (await session.command.execute("true")).success
            assert victim not in seen
        assert server.live_sessions(server.api_key) == 0


async def test_max_uses_recycles_and_timeouts_are_clear() -> None:
    async with local_server() as server, client_for(server) as agb:
        async with SessionPool(agb, PARAMS, max_size=1, max_uses=2, acquire_timeout=0.2) as pool:
            ids = []
            for _ in range(4):
                async with pool.session() as session:
                    ids.append(session.session_id)
            assert ids[0] == ids[1] != ids[2] == ids[3]
            async with pool.session():
                with pytest.raises(PoolTimeoutError, match="max_size=1"):
                    async with pool.session():
                        pass
        with pytest.raises(PoolClosedError):
            async with pool.session():
                pass
        assert server.live_sessions(server.api_key) == 0


async def test_close_deletes_everything_including_sessions_still_in_use() -> None:
    async with local_server() as server, client_for(server) as agb:
        borrowed = anyio.Event()
        async with anyio.create_task_group() as tg:
            async with SessionPool(agb, PARAMS, min_size=3, max_size=4, close_timeout=0.3) as pool:

                async def borrower() -> None:
                    async with pool.session():
                        borrowed.set()
                        await anyio.sleep(5)

                tg.start_soon(borrower)
                await borrowed.wait()
                assert server.live_sessions(server.api_key) >= 3
            # Closed: idle sessions deleted at once, the borrowed one after close_timeout.
            assert server.live_sessions(server.api_key) == 0
            tg.cancel_scope.cancel()
        assert pool.stats().size == 0


async def _until(condition: Callable[[], bool]) -> None:
    """Poll a pool's state (it has no events to wait on) for at most 5 s."""
    with anyio.fail_after(5):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.005)


async def test_a_caller_cancelled_during_the_health_check_gives_the_session_back() -> None:
    checking = anyio.Event()

    async def slow_check(session: object) -> bool:
        checking.set()
        await anyio.sleep(5)
        return True

    async with local_server() as server, client_for(server) as agb:
        pool = SessionPool(
            agb, PARAMS, min_size=1, max_size=1, health_check=slow_check, health_check_after=0
        )
        async with pool:
            with anyio.move_on_after(2):
                async with anyio.create_task_group() as tg:

                    async def impatient() -> None:
                        with anyio.move_on_after(0.1):
                            async with pool.session():
                                pass

                    tg.start_soon(impatient)
                    await checking.wait()
            assert pool.stats().in_use == 0 and pool.stats().idle == 1
        assert server.live_sessions(server.api_key) == 0


async def test_a_pool_across_a_server_restart_hands_out_no_dead_session() -> None:
    """Issue 16.4: after AGB Local restarted, the pool's sessions are gone. The first use of
    one fails ("Session not found"), the pool retires it at once and health-checks the other
    idle sessions before handing them out, so every later use gets a live session and
    `stats()` counts only those."""
    from contextlib import AsyncExitStack

    from aioagb import AsyncAGB, RetryPolicy
    from aioagb.server import LocalServer, ServerConfig

    key = "pool-restart-key"
    first = LocalServer(ServerConfig(api_keys=(key,)))
    await first.__aenter__()  # left by hand below, while the pool lives on
    async with AsyncExitStack() as stack:
        config = ServerConfig(api_keys=(key,), port=first.port)
        agb = await stack.enter_async_context(
            AsyncAGB(key, endpoint=first.endpoint, retry=RetryPolicy(wait_initial=0.01))
        )
        pool = await stack.enter_async_context(
            SessionPool(agb, PARAMS, min_size=3, max_size=3, keep_alive_interval=None)
        )
        await first.__aexit__(None, None, None)  # the server goes away with every session
        second = await stack.enter_async_context(LocalServer(config))

        outcomes = []
        for n in range(10):
            async with pool.session() as session:
                done = await session.command.execute(f"echo {n}", timeout_ms=5000)
                outcomes.append(done.stdout if done.success else done.error_message)
        assert outcomes[0].lower().count("not found") == 1
        assert outcomes[1:] == [f"{n}\n" for n in range(1, 10)]
        stats = pool.stats()
        assert stats.idle == second.live_sessions(key) and stats.in_use == 0
