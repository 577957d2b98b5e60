"""map_sessions: one session per item, pipelined, bounded, in order, nothing left behind."""

from __future__ import annotations

import anyio
import pytest

from _support.concurrency import IMAGE, client_for, local_server
from aioagb import AsyncSession, CreateSessionParams, InvalidArgumentError

PARAMS = CreateSessionParams(image_id=IMAGE, labels={"test": "map"})


async def test_each_item_runs_in_its_own_session_in_order_and_every_session_is_deleted() -> None:
    seen: list[str] = []
    live = peak = 0

    async def square(session: AsyncSession, n: int) -> int:
        nonlocal live, peak
        live += 1
        peak = max(peak, live)
        seen.append(session.session_id)
        try:
            await anyio.sleep(0.02 * (n % 3))  # items end out of order
            result = await session.command.execute(f"echo $(({n} * {n}))")
            return int(result.output)
        finally:
            live -= 1

    async with local_server() as server, client_for(server) as agb:
        squares = await agb.map_sessions(square, range(12), PARAMS, concurrency=4)
        assert squares == [n * n for n in range(12)]
        assert len(set(seen)) == 12  # a session per item
        assert peak == 4  # pipelined, never more than `concurrency` sessions in use
        assert server.live_sessions(server.api_key) == 0


async def test_the_first_failure_cancels_the_rest_is_raised_as_it_is_and_leaves_nothing() -> None:
    started: list[int] = []

    async def fragile(session: AsyncSession, n: int) -> int:
        started.append(n)
        if n == 2:
            raise ValueError("item two is bad")
        await anyio.sleep(30)  # the others would run long: they must be cancelled
        return n

    async with local_server() as server, client_for(server) as agb:
        with anyio.fail_after(20), pytest.raises(ValueError, match="item two is bad") as caught:
            await agb.map_sessions(fragile, range(6), PARAMS, concurrency=3)
        notes = getattr(caught.value, "__notes__", [])
        assert any("item 2 of 6" in note for note in notes)
        assert 2 in started and len(started) < 6  # the items not yet begun never began
        assert server.live_sessions(server.api_key) == 0


async def test_with_return_exceptions_failures_take_their_items_place() -> None:
    async def half_fail(session: AsyncSession, n: int) -> int:
        if n % 2:
            raise RuntimeError(f"odd {n}")
        return n

    async with local_server() as server, client_for(server) as agb:
        out = await agb.map_sessions(
            half_fail, range(6), PARAMS, concurrency=6, return_exceptions=True
        )
        assert [r for r in out if not isinstance(r, Exception)] == [0, 2, 4]
        assert [str(r) for r in out if isinstance(r, Exception)] == ["odd 1", "odd 3", "odd 5"]
        assert server.live_sessions(server.api_key) == 0


async def test_cancelling_the_caller_deletes_every_session_in_use() -> None:
    async def forever(session: AsyncSession, n: int) -> None:
        await anyio.sleep_forever()

    async with local_server() as server, client_for(server) as agb:
        with anyio.move_on_after(1.0) as scope:
            await agb.map_sessions(forever, range(5), PARAMS, concurrency=5)
        assert scope.cancelled_caught
        assert server.live_sessions(server.api_key) == 0


async def test_map_arguments_are_checked_before_anything_is_sent() -> None:
    async def noop(session: AsyncSession, n: int) -> None:
        return None

    async with local_server() as server, client_for(server) as agb:
        with pytest.raises(InvalidArgumentError):
            await agb.map_sessions(noop, [1], PARAMS, concurrency=0)
        with pytest.raises(InvalidArgumentError):
            await agb.map_sessions("not a function", [1], PARAMS)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            await agb.map_sessions(noop, [1], {"image_id": IMAGE})  # type: ignore[arg-type]
        assert await agb.map_sessions(noop, [], PARAMS) == []
        assert server.live_sessions(server.api_key) == 0
