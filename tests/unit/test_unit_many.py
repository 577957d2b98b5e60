"""Batches and the pool on the scripted server: failures they used to hide (issue 11's two
bugs, issue 16's batch report and dead pooled sessions)."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from _support.mock_wire import Wire, client, envelope, not_found
from aioagb import (
    CreateSessionParams,
    SessionBatchError,
    SessionDeleteError,
    SessionPool,
)

PARAMS = CreateSessionParams(image_id="agb-code-space-2")
FORBIDDEN = {"success": False, "code": "Forbidden", "message": "no", "requestId": "r-d"}


def creates(wire: Wire, *ids: str) -> None:
    for session_id in ids:
        wire.ok("POST", "/mcp/createSession", {"sessionId": session_id})


async def test_sessions_context_raises_when_a_delete_fails(wire: Wire) -> None:
    """`agb.sessions()` is `agb.session()` for many: a failed delete on a clean exit raises
    SessionDeleteError naming every session left behind (it was silently swallowed)."""
    creates(wire, "s-a", "s-b")
    wire.route("POST", "/mcp/releaseSessionAsync", status=403, payload=FORBIDDEN, repeat=True)
    async with client() as agb:
        with pytest.raises(SessionDeleteError) as caught:
            async with agb.sessions(PARAMS, count=2, concurrency=1) as sessions:
                assert [s.session_id for s in sessions] == ["s-a", "s-b"]
    assert "Could not delete 2 of 2 sessions (s-a, s-b)" in caught.value.message
    assert caught.value.session_id == "s-a"


async def test_sessions_context_keeps_the_body_error_and_notes_the_failed_deletes(
    wire: Wire,
) -> None:
    creates(wire, "s-a")
    wire.route("POST", "/mcp/releaseSessionAsync", status=403, payload=FORBIDDEN, repeat=True)
    async with client() as agb:
        with pytest.raises(KeyError) as caught:
            async with agb.sessions(PARAMS, count=1):
                raise KeyError("body")
    assert any("Could not delete session s-a" in note for note in caught.value.__notes__)


async def test_batch_error_reports_which_sessions_could_not_be_deleted(wire: Wire) -> None:
    """Issue 16.5: when the cleanup deletes fail too, the error says so, with the ids,
    instead of claiming they were deleted (against the cloud that would hide a leak)."""
    creates(wire, "s-a", "s-b")
    failure = envelope(None, success=False, code="Bad", message="no image")
    wire.route("POST", "/mcp/createSession", status=400, payload=failure)
    wire.ok("POST", "/mcp/releaseSessionAsync", {"sessionId": "s-a"})  # s-a: deleted
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())
    wire.route("POST", "/mcp/releaseSessionAsync", status=403, payload=FORBIDDEN, repeat=True)
    async with client() as agb:
        with pytest.raises(SessionBatchError) as caught:
            await agb.create_many(PARAMS, 3, concurrency=1)
    error = caught.value
    assert (error.deleted, error.not_deleted) == (("s-a",), ("s-b",))
    assert "1 were deleted and 1 could not be and may still exist (s-b)" in error.message
    assert "were deleted. First" not in error.message


async def test_pool_logs_a_failed_keep_alive_and_retires_a_session_the_server_lost(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11's bug: keep_alive() returns a result, so the pool's `except AGBError` never
    logged a failure. And issue 16.4: a session the server no longer knows is retired at
    once and replaced, instead of handed out again."""
    caplog.set_level(logging.INFO, "aioagb.pool")
    creates(wire, "s-old", "s-new")
    retired = anyio.Event()

    async def note_release(request: Any) -> None:
        retired.set()

    wire.route("POST", "/mcp/refreshSessionIdleTime", status=400, payload=not_found("r-ka"))
    wire.ok("POST", "/mcp/refreshSessionIdleTime", repeat=True)
    wire.route(
        "POST",
        "/mcp/releaseSessionAsync",
        status=400,
        payload=not_found(),
        callback=note_release,
        repeat=True,
    )
    async with client() as agb:
        pool = SessionPool(
            agb, PARAMS, min_size=1, max_size=1, keep_alive_interval=0.01, health_check=None
        )
        async with pool:
            await retired.wait()
            async with pool.session() as session:
                assert session.session_id == "s-new"
    released = [s.json()["sessionId"] for s in wire.sent if s.path == "/mcp/releaseSessionAsync"]
    assert released[0] == "s-old"
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "keep-alive of pooled session s-old failed: Session not found" in m for m in messages
    )
