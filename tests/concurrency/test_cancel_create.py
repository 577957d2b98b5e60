"""Zero leaks under cancellation: creates cancelled at random points leave nothing behind."""

from __future__ import annotations

import random

import anyio

from _support.concurrency import IMAGE, client_for, local_server
from aioagb import CreateSessionParams

CANCELS = 200
WAVE = 20  # cancels run 20 at a time: harsher than one by one, and fast


async def test_200_random_cancellations_leave_no_session() -> None:
    rng = random.Random(2026)
    params = CreateSessionParams(image_id=IMAGE, labels={"test": "cancel"})
    completed = 0
    async with local_server("create:latency=0.1", "release:latency=0.02") as server:
        async with client_for(server, orphan_grace=0.5) as agb:

            async def create_then_cancel(delay: float) -> None:
                nonlocal completed
                with anyio.move_on_after(delay):
                    async with agb.session(params):
                        completed += 1
                        await anyio.sleep_forever()

            for _ in range(CANCELS // WAVE):
                async with anyio.create_task_group() as tg:
                    for _ in range(WAVE):
                        # Before the request, during the server's latency (the session is
                        # made after the client gave up), and after the answer.
                        tg.start_soon(create_then_cancel, rng.uniform(0, 0.15))
        # The client is closed: its orphan sweep has run.
        assert server.live_sessions(server.api_key) == 0
    assert 0 < completed < CANCELS  # some creates finished, most were cut off


async def test_a_create_that_times_out_is_cleaned_up() -> None:
    params = CreateSessionParams(image_id=IMAGE)
    async with local_server("create:latency=0.5") as server:
        async with client_for(server, timeout=0.2, orphan_grace=1.0) as agb:
            result = await agb.create(params)
            assert not result.success
            assert "request timeout" in result.error_message
        assert server.live_sessions(server.api_key) == 0
