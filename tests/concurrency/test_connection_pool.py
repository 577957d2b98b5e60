"""The connection pool: requests past `connection_limit` wait, and the wait is not silent."""

from __future__ import annotations

import logging

import anyio
import pytest

from _support.concurrency import IMAGE, client_for, local_server
from aioagb import CreateSessionParams


async def test_waiting_for_a_connection_logs_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    params = CreateSessionParams(image_id=IMAGE)
    async with (
        local_server("labels:latency=0.2") as server,
        client_for(server, connection_limit=2) as agb,
        agb.session(params) as session,
    ):
        with caplog.at_level(logging.WARNING, logger="aioagb.transport"):
            async with anyio.create_task_group() as tg:  # two at once fit: no warning
                tg.start_soon(session.get_labels)
                tg.start_soon(session.get_labels)
            assert not caplog.records
            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    for _ in range(6):  # four of them wait for a connection
                        tg.start_soon(session.get_labels)
    warnings = [r for r in caplog.records if "connections are busy" in r.getMessage()]
    assert len(warnings) == 1  # at most one every 10 s
    assert "connection_limit" in warnings[0].getMessage()
