"""Watching a directory (agb-wire.md §4.5 `get_file_change`, §16.3): `session.file.watch()`
as an async iterator, and `watch_dir()` as a task the caller runs (never a thread)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import anyio
import pytest

from _support.mock_wire import SESSION_ID, Wire, envelope, not_found, tool_data
from aioagb import (
    AsyncAGB,
    AsyncSession,
    FileChangeEvent,
    InvalidArgumentError,
    ToolError,
)

MODIFY = {"eventType": "modify", "path": "/data/a.txt", "pathType": "file"}
CREATE = {"eventType": "create", "path": "/data/sub", "pathType": "directory"}


@pytest.fixture
def session(agb: AsyncAGB) -> AsyncSession:
    return AsyncSession(agb, SESSION_ID)


def changes(wire: Wire, *batches: list[dict[str, str]]) -> None:
    for batch in batches:
        wire.tool(json.dumps(batch))


async def test_watch_skips_the_baseline_and_empty_polls(wire: Wire, session: AsyncSession):
    """§16.3: the first poll only sets the baseline (its events are discarded); empty polls
    yield nothing; each call is `get_file_change` with args {"path"}."""
    changes(wire, [MODIFY], [], [MODIFY, CREATE])
    async for events in session.file.watch("/data", interval=0.5):
        assert events == [
            FileChangeEvent("modify", "/data/a.txt", "file"),
            FileChangeEvent("create", "/data/sub", "directory"),
        ]
        break
    assert [(s.path, s.json()["name"], s.args()) for s in wire.sent] == [
        ("/mcp", "get_file_change", {"path": "/data"})
    ] * 3


async def test_watch_raises_a_failed_poll(wire: Wire, session: AsyncSession) -> None:
    changes(wire, [])
    wire.tool("No such directory: /data", is_error=True)
    with pytest.raises(ToolError, match="No such directory"):
        async for _ in session.file.watch("/data"):
            pass


async def test_get_file_change_is_not_retried(wire: Wire, session: AsyncSession) -> None:
    """A repeated call would lose the changes the first one consumed: no retry on 5xx."""
    wire.route("POST", "/mcp", status=503, payload=envelope(success=False))
    result = await session.file._get_file_change("/data")
    assert not result.success and len(wire.sent) == 1


async def test_get_file_change_result(wire: Wire, session: AsyncSession) -> None:
    text = json.dumps(
        [MODIFY, {**MODIFY, "eventType": "create"}, {**MODIFY, "eventType": "delete"}, CREATE]
    )
    wire.tool(text)
    result = await session.file._get_file_change("/data")
    assert result.success and result.has_changes() and result.raw_data == text
    assert result.get_modified_files() == result.get_created_files() == ["/data/a.txt"]
    assert result.get_deleted_files() == ["/data/a.txt"]
    wire.tool("not json")
    assert (await session.file._get_file_change("/data")).events == []


async def test_watch_dir_as_a_context(wire: Wire, session: AsyncSession) -> None:
    """`async with watch_dir(...)`: entered once the baseline is set (`ready_event`); the
    callback gets each non-empty batch; leaving stops the task."""
    changes(wire, [], [], [MODIFY])
    got: list[list[FileChangeEvent]] = []
    arrived = anyio.Event()

    def on_change(events: list[FileChangeEvent]) -> None:
        got.append(events)
        arrived.set()

    async with session.file.watch_dir("/data", on_change, interval=0.5) as watcher:
        assert watcher.ready_event.is_set()
        await arrived.wait()
    assert got == [[FileChangeEvent("modify", "/data/a.txt", "file")]]
    assert watcher.stop_event.is_set()


async def test_watch_dir_in_a_task_group_stops_on_stop(wire: Wire, session: AsyncSession):
    """`await tg.start(watcher.run)` returns after the baseline; an async callback is awaited;
    `stop()` ends `run()`. A callback that raises is logged and watching goes on."""
    changes(wire, [], [MODIFY], [CREATE])
    seen: list[str] = []

    async def on_change(events: list[FileChangeEvent]) -> None:
        seen.append(events[0].event_type)
        if len(seen) == 1:
            raise RuntimeError("bad batch")
        watcher.stop()

    watcher = session.file.watch_dir("/data", on_change, interval=0.5)
    async with anyio.create_task_group() as tg:
        await tg.start(watcher.run)
        assert watcher.ready_event.is_set()
    assert seen == ["modify", "create"]


async def test_watch_dir_stops_when_the_session_is_gone(
    wire: Wire, session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    """§16.3: a dead-session error stops the watch (here: not found); others only log."""
    changes(wire, [])
    wire.tool("disk hiccup", is_error=True)
    wire.route("POST", "/mcp", status=400, payload=not_found())
    watcher = session.file.watch_dir("/data", lambda events: None)
    with caplog.at_level(logging.INFO, logger="aioagb"):
        async with anyio.create_task_group() as tg:
            await tg.start(watcher.run)
    assert "disk hiccup" in caplog.text and "the session is gone" in caplog.text
    assert len(wire.sent) == 3


async def test_watch_dir_stops_on_the_official_expired_wording(wire: Wire, session: AsyncSession):
    changes(wire, [])
    wire.tool("Session expired or invalid", is_error=True)
    watcher = session.file.watch_dir("/data", lambda events: None)
    await watcher.run()
    assert len(wire.sent) == 2


async def test_watch_dir_takes_an_asyncio_stop_event(wire: Wire, session: AsyncSession):
    """The official `stop_event` (a threading.Event there): an asyncio or anyio event here."""
    changes(wire, [])
    wire.ok("POST", "/mcp", tool_data("[]"), repeat=True)
    stop = asyncio.Event()
    watcher = session.file.watch_dir("/data", lambda events: None, stop_event=stop)
    assert watcher.stop_event is stop
    async with anyio.create_task_group() as tg:
        await tg.start(watcher.run)
        stop.set()
    assert len(wire.sent) >= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stop_event": threading.Event()}, "stop_event must be an anyio.Event or asyncio.Event"),
        ({"interval": 0}, "interval must be positive"),
        ({"callback": "print"}, "callback must be callable"),
        ({"path": ""}, "path is required"),
    ],
)
async def test_watch_dir_refuses_bad_arguments_naming_the_argument(
    session: AsyncSession, kwargs: dict, message: str
) -> None:
    arguments = {"path": "/data", "callback": print, **kwargs}
    with pytest.raises(InvalidArgumentError, match=message):
        session.file.watch_dir(**arguments)


async def test_watch_refuses_a_non_numeric_interval(session: AsyncSession) -> None:
    with pytest.raises(InvalidArgumentError, match="interval must be a finite number"):
        session.file.watch("/data", interval="1")
