"""create_many / sessions: bounded, all-or-nothing or partial, nothing left behind."""

from __future__ import annotations

import anyio
import pytest

from _support.concurrency import IMAGE, client_for, local_server
from aioagb import AsyncAGB, CreateSessionParams, InvalidArgumentError, SessionBatchError

PARAMS = CreateSessionParams(image_id=IMAGE, labels={"test": "batch"})


async def test_100_sessions_with_10_percent_faults() -> None:
    """Faults on create, tool calls and release (500, 429, dropped connections, before and
    after the handler): every session created is deleted at the end, and each successful
    result comes back exactly once."""
    faults = ("create:error=0.1", "tool:error=0.1", "release:error=0.1", "status:error=0.1")
    async with local_server(*faults, seed=7) as server:
        async with client_for(server, orphan_grace=0.5) as agb:
            batch = await agb.create_many(PARAMS, 100, concurrency=16, partial=True)
            ids = [s.session_id for s in batch.sessions]
            assert len(ids) == len(set(ids))
            assert len(ids) + len(batch.failures) == 100
            assert len(ids) >= 90  # doubtful creates are recovered and tried again
            outputs: list[str] = []

            async def use(index: int) -> None:
                result = await batch.sessions[index].code.run(f"print({index})", "python")
                if result.success:
                    outputs.append(result.logs.stdout[0].strip())

            async with anyio.create_task_group() as tg:
                for index in range(len(ids)):
                    tg.start_soon(use, index)
            assert len(outputs) == len(set(outputs))  # each result exactly once
            assert len(outputs) >= 80  # run_code is not retried: ~10% fail visibly
            assert await agb.delete_sessions(batch.sessions) == 0
        assert server.live_sessions(server.api_key) == 0


async def test_all_or_nothing_deletes_what_it_made() -> None:
    async with local_server(max_sessions_per_key=5) as server, client_for(server) as agb:
        with pytest.raises(SessionBatchError) as caught:
            await agb.create_many(PARAMS, 8, concurrency=8)
        error = caught.value
        assert error.failures and all(f.error for f in error.failures)
        assert "Throttling" in error.failures[0].error.code
        assert server.live_sessions(server.api_key) == 0


async def test_sessions_context_deletes_on_exit_error_and_cancel() -> None:
    async with local_server() as server, client_for(server) as agb:
        async with agb.sessions(PARAMS, count=6, concurrency=3) as sessions:
            assert len({s.session_id for s in sessions}) == 6
            assert server.live_sessions(server.api_key) == 6
        assert server.live_sessions(server.api_key) == 0

        with pytest.raises(KeyError):
            async with agb.sessions(PARAMS, count=3) as sessions:
                raise KeyError("body")
        assert server.live_sessions(server.api_key) == 0

        with anyio.move_on_after(0.3):
            async with agb.sessions(PARAMS, count=3):
                await anyio.sleep_forever()
        assert server.live_sessions(server.api_key) == 0


async def test_concurrency_is_never_exceeded() -> None:
    in_flight = peak = 0

    class Watching(AsyncAGB):
        async def open_session(self, params: CreateSessionParams):  # type: ignore[no-untyped-def]
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await super().open_session(params)
            finally:
                in_flight -= 1

    async with (
        local_server("create:latency=0.05") as server,
        Watching(server.api_key, endpoint=server.endpoint) as agb,
        agb.sessions(PARAMS, count=20, concurrency=4),
    ):
        pass
    assert peak == 4


async def test_batch_arguments_are_checked_before_anything_is_sent() -> None:
    async with local_server() as server, client_for(server) as agb:
        for count, concurrency in ((-1, 1), (2, 0), (True, 1)):
            with pytest.raises(InvalidArgumentError):
                await agb.create_many(PARAMS, count, concurrency=concurrency)  # type: ignore[arg-type]
        assert server.live_sessions(server.api_key) == 0
