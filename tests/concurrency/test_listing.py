"""iter_sessions follows next_token (one request per page); delete_all deletes what matches."""

from __future__ import annotations

from _support.concurrency import IMAGE, CountingTransport, client_for, local_server
from aioagb import CreateSessionParams


async def test_iter_sessions_over_250_sessions_with_page_size_20() -> None:
    transport = CountingTransport()
    async with local_server(max_list_results=100) as server:
        async with client_for(server, transport=transport) as agb:
            wanted = CreateSessionParams(image_id=IMAGE, labels={"run": "iter"})
            other = CreateSessionParams(image_id=IMAGE, labels={"run": "other"})
            made = await agb.create_many(wanted, 250, concurrency=32)
            await agb.create_many(other, 7, concurrency=7)
            before = transport.sent.get("ListSession", 0)

            seen = [
                info.session_id async for info in agb.iter_sessions({"run": "iter"}, page_size=20)
            ]

            assert transport.sent["ListSession"] - before == 13  # ceil(250 / 20)
            assert len(seen) == len(set(seen)) == 250
            assert set(seen) == {s.session_id for s in made.sessions}

            assert await agb.delete_all({"run": "iter"}, concurrency=16) == 250
            assert server.live_sessions(server.api_key) == 7
            assert await agb.delete_all(concurrency=8) == 7
        assert server.live_sessions(server.api_key) == 0
