"""Persistence around a session's life: the wait for the first download after create (§3.1,
§13.6), `delete(sync_context=True)` (§13.8), and the upload of auto-upload mounts when
`agb.session()` ends, on each way out (clean, raised, cancelled), without leaking a session."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest

from _support.mock_wire import SESSION_ID, Wire, envelope, not_found
from aioagb import (
    AsyncAGB,
    AsyncSession,
    ContextSync,
    ContextSyncError,
    CreateSessionParams,
    SyncPolicy,
    TransportRequest,
    UploadPolicy,
)

IMAGE = "agb-code-space-2"
AUTO = ContextSync("ctx-auto", "/home/state", SyncPolicy())
MANUAL = ContextSync("ctx-ro", "/home/ro", SyncPolicy(upload_policy=UploadPolicy(False)))
PARAMS = CreateSessionParams(image_id=IMAGE, context_syncs=[AUTO, MANUAL])


def status(*tasks: dict[str, Any]) -> dict[str, str]:
    return {"contextStatus": json.dumps([{"type": "data", "data": json.dumps(list(tasks))}])}


def task(status_: str, task_type: str = "upload", **kw: Any) -> dict[str, Any]:
    return {
        "contextId": "ctx-auto",
        "path": "/home/state",
        "status": status_,
        "taskType": task_type,
        **kw,
    }


def created(wire: Wire) -> None:
    """A create, and its first download already done."""
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Success", "download")))


def released(wire: Wire) -> None:
    wire.ok("POST", "/mcp/releaseSessionAsync")
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())


UPLOAD_QUERY = "sessionId=s-1&contextId=ctx-auto&path=%2Fhome%2Fstate&mode=upload"
INFO_QUERY = "sessionId=s-1&contextId=ctx-auto&path=%2Fhome%2Fstate"
DELETED = ["POST /mcp/releaseSessionAsync", "POST /mcp/getSessionInfo"]


def requests(wire: Wire) -> list[str]:
    return [f"{s.method} {s.path}" + (f"?{s.query}" if s.query else "") for s in wire.sent]


# --- the wait after create ---------------------------------------------------------------------


async def test_create_wait_ends_when_the_status_call_fails(wire: Wire, agb: AsyncAGB) -> None:
    """§3.1: a failing GetContextInfo (even 404) ends the wait; the create succeeds."""
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    wire.route("GET", "/sdk/GetContextInfo", status=404, payload=envelope(success=False))
    result = await agb.create(PARAMS)
    assert result.success
    assert wire.paths() == ["POST /mcp/createSession", "GET /sdk/GetContextInfo"]


async def test_create_wait_is_bounded(
    wire: Wire, agb: AsyncAGB, caplog: pytest.LogCaptureFixture
) -> None:
    """§13.6: at most 150 polls, 2 s apart; a download still running is logged, not fatal."""
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Running", "download")), repeat=True)
    with caplog.at_level(logging.WARNING, logger="aioagb"):
        result = await agb.create(PARAMS)
    assert result.success
    assert wire.paths().count("GET /sdk/GetContextInfo") == 150
    assert "still downloading" in caplog.text


async def test_cancelled_create_wait_deletes_the_session(wire: Wire, agb: AsyncAGB) -> None:
    """The create had succeeded: cancelling the wait must not leak the session. The delete
    runs shielded, after the cancellation arrived, before it propagates."""
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    scope = anyio.CancelScope()

    async def cancel_then_stall(request: TransportRequest) -> None:
        scope.cancel()
        await anyio.sleep_forever()

    wire.route("GET", "/sdk/GetContextInfo", callback=cancel_then_stall)
    released(wire)
    with scope:
        await agb.create(PARAMS)
    assert scope.cancelled_caught
    assert wire.paths() == ["POST /mcp/createSession", "GET /sdk/GetContextInfo", *DELETED]


# --- delete(sync_context=True) -----------------------------------------------------------------


@pytest.mark.parametrize("via_client", [False, True])
async def test_delete_with_sync_context_syncs_polls_until_done_then_deletes(
    wire: Wire, agb: AsyncAGB, via_client: bool
) -> None:
    """§13.8: SyncContext?sessionId (nothing else), GetContextInfo?sessionId until the tasks
    end, then the delete of §3.7."""
    wire.ok("POST", "/sdk/SyncContext")
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Running")))
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Success")))
    released(wire)
    session = AsyncSession(agb, SESSION_ID)

    result = await (agb.delete(session, sync_context=True) if via_client else session.delete(True))

    assert result.success
    assert requests(wire) == [
        "POST /sdk/SyncContext?sessionId=s-1",
        "GET /sdk/GetContextInfo?sessionId=s-1",
        "GET /sdk/GetContextInfo?sessionId=s-1",
        *DELETED,
    ]


async def test_delete_goes_on_when_the_sync_fails(
    wire: Wire, agb: AsyncAGB, caplog: pytest.LogCaptureFixture
) -> None:
    """§13.8: whatever the sync's outcome, the delete follows; the failure is logged."""
    wire.route("POST", "/sdk/SyncContext", status=500, payload=envelope(success=False), repeat=True)
    released(wire)
    with caplog.at_level(logging.WARNING, logger="aioagb"):
        result = await AsyncSession(agb, SESSION_ID).delete(sync_context=True)
    assert result.success
    assert wire.paths()[-2:] == DELETED
    assert "context sync before delete failed" in caplog.text


async def test_plain_delete_does_not_sync(wire: Wire, agb: AsyncAGB) -> None:
    released(wire)
    assert (await AsyncSession(agb, SESSION_ID).delete()).success
    assert wire.paths() == DELETED


# --- leaving agb.session() ------------------------------------------------------------------


async def test_clean_exit_uploads_auto_upload_mounts_then_deletes(wire: Wire, agb: AsyncAGB):
    """The mount with auto_upload uploads (SyncContext mode=upload, its polling), the one
    without does not; then the session is deleted."""
    created(wire)
    wire.ok("POST", "/sdk/SyncContext")
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Success")))
    released(wire)

    async with agb.session(PARAMS) as session:
        assert [s.context_id for s in session.context_syncs] == ["ctx-auto", "ctx-ro"]

    assert requests(wire)[2:] == [
        f"POST /sdk/SyncContext?{UPLOAD_QUERY}",
        f"GET /sdk/GetContextInfo?{INFO_QUERY}",
        *DELETED,
    ]


async def test_failed_upload_after_a_clean_body_raises_after_the_delete(
    wire: Wire, agb: AsyncAGB
) -> None:
    created(wire)
    wire.ok("POST", "/sdk/SyncContext")
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Failed", errorMessage="quota")))
    released(wire)

    with pytest.raises(ContextSyncError, match="uploading context ctx-auto from /home/state"):
        async with agb.session(PARAMS):
            pass

    assert wire.paths()[-2:] == DELETED


class BodyError(Exception):
    pass


async def test_a_raising_body_still_uploads_and_keeps_its_exception(
    wire: Wire, agb: AsyncAGB
) -> None:
    """The body's exception propagates unchanged; the upload failure is a note on it."""
    created(wire)
    wire.route(
        "POST", "/sdk/SyncContext", status=400, payload=envelope(success=False, message="no")
    )
    released(wire)
    error = BodyError("step 3 failed")

    with pytest.raises(BodyError) as caught:
        async with agb.session(PARAMS):
            raise error

    assert caught.value is error
    assert any("uploading context ctx-auto" in note for note in error.__notes__)
    assert wire.paths()[-3:] == ["POST /sdk/SyncContext", *DELETED]


async def test_a_cancelled_body_still_uploads_shielded(wire: Wire, agb: AsyncAGB) -> None:
    created(wire)
    wire.ok("POST", "/sdk/SyncContext")
    wire.ok("GET", "/sdk/GetContextInfo", status(task("Success")))
    released(wire)

    with anyio.CancelScope() as scope:
        async with agb.session(PARAMS):
            scope.cancel()
            await anyio.sleep_forever()

    assert scope.cancelled_caught
    assert requests(wire)[2:] == [
        f"POST /sdk/SyncContext?{UPLOAD_QUERY}",
        f"GET /sdk/GetContextInfo?{INFO_QUERY}",
        *DELETED,
    ]


async def test_cancelled_during_the_upload_of_a_clean_exit_still_deletes(
    wire: Wire, agb: AsyncAGB
) -> None:
    """The upload after a clean body is cancellable; the delete is not skipped."""
    created(wire)
    scope = anyio.CancelScope()

    async def cancel_then_stall(request: TransportRequest) -> None:
        scope.cancel()
        await anyio.sleep_forever()

    wire.route("POST", "/sdk/SyncContext", callback=cancel_then_stall)
    released(wire)
    with scope:
        async with agb.session(PARAMS):
            pass
    assert scope.cancelled_caught
    assert wire.paths()[-3:] == ["POST /sdk/SyncContext", *DELETED]


async def test_sessions_without_mounts_exit_as_before(wire: Wire, agb: AsyncAGB) -> None:
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    released(wire)
    params = CreateSessionParams(image_id=IMAGE, context_syncs=[MANUAL])
    wire.ok("GET", "/sdk/GetContextInfo", {"contextStatus": ""})
    async with agb.session(params):
        pass
    assert wire.paths() == ["POST /mcp/createSession", "GET /sdk/GetContextInfo", *DELETED]
