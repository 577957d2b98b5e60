"""Cancellation and cleanup: no session the client knows of is left undeleted, and no aiohttp
session is left open (DESIGN.md "Structured concurrency", "No leaks, ever").

The scripted server stalls a request (a route callback that never returns) and the test
cancels the surrounding scope while that request is in flight. That the default
`AiohttpTransport` closes its aiohttp session is tested in test_unit_aiohttp_transport.py.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from _support.mock_wire import SESSION_ID, Wire, client, envelope, not_found
from aioagb import AsyncAGB, AsyncSession, CreateSessionParams, SessionDeleteError

PARAMS = CreateSessionParams(image_id="agb-code-space-2", labels={"job": "j1"})


class Stall:
    """A route callback that signals it was reached, then never answers."""

    def __init__(self) -> None:
        self.reached = anyio.Event()

    async def answer(self, request: Any) -> None:
        self.reached.set()
        await anyio.sleep_forever()


async def cancel_when(reached: anyio.Event, work: Any) -> bool:
    """Run `work()` and cancel it once `reached` is set; True if the cancel was caught."""
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(work)
            await reached.wait()
            scope.cancel()
    return scope.cancelled_caught


def create_token(wire: Wire) -> str:
    create = next(s for s in wire.sent if s.path == "/mcp/createSession")
    return json.loads(create.json()["labels"])["aioagb-create"]


async def test_cancelled_create_is_recovered_by_its_token_and_deleted(wire: Wire):
    """§3.1 commits the session server-side before the answer; cancelled while waiting, the
    client lists the sessions with this create's `aioagb-create` label (shielded) and
    deletes what it finds: release + status poll (§3.7)."""
    stall = Stall()
    wire.route("POST", "/mcp/createSession", callback=stall.answer)
    wire.ok("GET", "/sdk/ListSession", [{"sessionId": "s-orphan", "sessionStatus": "RUNNING"}])
    wire.ok("POST", "/mcp/releaseSessionAsync")
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())

    async with client() as agb:
        assert await cancel_when(stall.reached, lambda: agb.create(PARAMS))
        after_cancel = wire.paths()

    token = create_token(wire)
    assert after_cancel == [
        "POST /mcp/createSession",
        "GET /sdk/ListSession",
        "POST /mcp/releaseSessionAsync",
        "POST /mcp/getSessionInfo",
    ]
    lookup = wire.sent[1]
    assert lookup.query == f"maxResults=100&labels=%7B%22aioagb-create%22%3A+%22{token}%22%7D"
    assert wire.sent[2].json() == {"sessionId": "s-orphan"}
    assert len(wire.sent) == 4  # found it: nothing left for aclose() to sweep
    assert wire.transports[0].closed


async def test_cancelled_create_found_later_is_swept_on_close(wire: Wire):
    """Nothing carries the token yet (a slow create): aclose() lists this client's sessions
    by `aioagb-client` and deletes each one it never handed out — never the user's."""
    wire.ok("POST", "/mcp/createSession", {"sessionId": "s-mine"})
    stall = Stall()
    wire.route("POST", "/mcp/createSession", callback=stall.answer)
    wire.ok("GET", "/sdk/ListSession", [])  # the token lookup right after the cancel
    both = [{"sessionId": "s-mine"}, {"sessionId": "s-late"}]
    wire.ok("GET", "/sdk/ListSession", both, repeat=True)  # the sweep(s) on close
    wire.ok("POST", "/mcp/releaseSessionAsync", repeat=True)
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found(), repeat=True)

    async with client(orphan_grace=0.01) as agb:
        mine = await agb.create(PARAMS)
        assert mine.success
        assert await cancel_when(stall.reached, lambda: agb.create(PARAMS))
        client_id = agb.lifecycle.orphans.client_id

    released = [s.json()["sessionId"] for s in wire.sent if s.path == "/mcp/releaseSessionAsync"]
    assert "s-mine" not in released and "s-late" in released
    sweeps = [s for s in wire.sent if s.path == "/sdk/ListSession"][1:]
    assert sweeps and all(f"%22aioagb-client%22%3A+%22{client_id}%22" in s.query for s in sweeps)


async def test_cancelled_session_body_still_deletes(wire: Wire):
    """`async with agb.session(...)`: the scope around it is cancelled while the body
    waits; the delete still goes out, shielded, and the cancellation goes on."""
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    wire.ok("POST", "/mcp/releaseSessionAsync", rid="r-rel")
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())
    in_body = anyio.Event()
    deleted: list[str] = []

    async def body(agb: AsyncAGB) -> None:
        async with agb.session(PARAMS) as session:
            in_body.set()
            await anyio.sleep_forever()
        deleted.append(session.session_id)  # pragma: no cover - never reached

    async with client() as agb:
        assert await cancel_when(in_body, lambda: body(agb))

    assert wire.paths() == [
        "POST /mcp/createSession",
        "POST /mcp/releaseSessionAsync",
        "POST /mcp/getSessionInfo",
    ]
    assert wire.sent[1].json() == {"sessionId": SESSION_ID}
    assert deleted == [] and wire.transports[0].closed


async def test_cancelled_during_the_delete_itself_finishes_the_delete(wire: Wire):
    """A cancellation that arrives while the exit delete is already running does not cut it
    short: release and poll both complete."""
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    stall_release = anyio.Event()
    proceed = anyio.Event()

    async def slow_release(request: Any) -> None:
        stall_release.set()
        await proceed.wait()

    wire.route("POST", "/mcp/releaseSessionAsync", callback=slow_release, payload=envelope())
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())

    async def use(agb: AsyncAGB) -> None:
        async with agb.session(PARAMS):
            pass

    async with client(cleanup_timeout=5) as agb:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(use, agb)
                await stall_release.wait()
                scope.cancel()  # while the release is in flight ...
                proceed.set()  # ... which then answers
    assert scope.cancelled_caught
    assert wire.paths()[-1] == "POST /mcp/getSessionInfo"


async def test_delete_that_hangs_is_bounded_by_cleanup_timeout(wire: Wire):
    """The shielded delete is bounded: after `cleanup_timeout` the body's exception goes on,
    with the failed delete attached as a note, never replacing it."""
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    stall = Stall()
    wire.route("POST", "/mcp/releaseSessionAsync", callback=stall.answer)

    async with client(cleanup_timeout=0.05) as agb:
        with pytest.raises(KeyError) as caught:
            async with agb.session(PARAMS):
                raise KeyError("body")
    notes = getattr(caught.value, "__notes__", [])
    assert len(notes) == 1
    assert f"deleting session {SESSION_ID} failed" in notes[0] and "longer than 0.05 s" in notes[0]


async def test_body_exception_propagates_unchanged_and_delete_failure_is_a_note(
    wire: Wire, caplog: pytest.LogCaptureFixture
):
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    wire.route(
        "POST",
        "/mcp/releaseSessionAsync",
        status=500,
        payload={"success": False, "code": "Internal", "message": "db down", "requestId": "r"},
        repeat=True,
    )
    error = RuntimeError("the body failed")
    async with client() as agb:
        with pytest.raises(RuntimeError) as caught:
            async with agb.session(PARAMS):
                raise error
    assert caught.value is error
    assert any("[Internal] db down" in note for note in caught.value.__notes__)
    assert any("could not delete session s-1" in r.getMessage() for r in caplog.records)


async def test_failed_delete_without_body_error_raises(wire: Wire):
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    wire.route(
        "POST",
        "/mcp/releaseSessionAsync",
        status=403,
        payload={"success": False, "code": "Forbidden", "message": "no", "requestId": "r-d"},
    )
    async with client() as agb:
        with pytest.raises(SessionDeleteError) as caught:
            async with agb.session(PARAMS):
                pass
    assert caught.value.session_id == SESSION_ID
    assert caught.value.request_id == "r-d" and caught.value.code == "Forbidden"


async def test_normal_exit_deletes_once(wire: Wire):
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    wire.ok("POST", "/mcp/releaseSessionAsync")
    wire.ok("POST", "/mcp/getSessionInfo", {"status": "FINISH"})
    async with client() as agb:
        async with agb.session(PARAMS) as session:
            assert session.session_id == SESSION_ID
        await session.aclose()  # idempotent: nothing more is sent
    assert wire.paths() == [
        "POST /mcp/createSession",
        "POST /mcp/releaseSessionAsync",
        "POST /mcp/getSessionInfo",
    ]


async def test_cancelling_the_client_block_closes_its_transport(wire: Wire):
    """Leaving `async with AsyncAGB()` by cancellation closes its transport."""
    stall = Stall()
    wire.route("POST", "/mcp/getSessionInfo", callback=stall.answer)

    async def work() -> None:
        async with client() as agb:
            await AsyncSession(agb, SESSION_ID).get_status()

    assert await cancel_when(stall.reached, work)
    assert wire.transports[0].closed


async def test_aclose_that_times_out_raises_session_delete_error(wire: Wire):
    """session.aclose() (async-native) raises SessionDeleteError with the cause chained."""
    from aioagb import RequestTimeoutError, RetryPolicy

    wire.route("POST", "/mcp/releaseSessionAsync", timeout=True, repeat=True)
    async with client(retry=RetryPolicy(attempts=2, wait_initial=0, wait_jitter=0)) as agb:
        session = AsyncSession(agb, SESSION_ID)
        with pytest.raises(SessionDeleteError) as caught:
            await session.aclose()
    assert caught.value.session_id == SESSION_ID
    assert isinstance(caught.value.__cause__, RequestTimeoutError)
    assert "releaseSessionAsync: no answer within the request timeout" in caught.value.message
    assert len(wire.sent) == 2  # release is safe to repeat


async def test_session_events_carry_ids(wire: Wire):
    """Hooks see the created and deleted session with their request ids."""
    from aioagb import Hooks

    created, deleted = [], []
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID}, rid="r-create")
    wire.ok("POST", "/mcp/releaseSessionAsync", rid="r-release")
    wire.ok("POST", "/mcp/getSessionInfo", {"status": "FINISH"})
    hooks = Hooks(on_session_created=created.append, on_session_deleted=deleted.append)
    async with client(hooks=hooks) as agb, agb.session(PARAMS):
        pass
    assert [(e.session_id, e.request_id, e.image_id) for e in created] == [
        (SESSION_ID, "r-create", PARAMS.image_id)
    ]
    assert [(e.session_id, e.request_id) for e in deleted] == [(SESSION_ID, "r-release")]
