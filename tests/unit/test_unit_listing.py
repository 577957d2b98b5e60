"""`iter_sessions` and `delete_all`: the ListSession walk by `nextToken` (agb-wire.md §3.4)."""

from __future__ import annotations

import pytest

from _support.mock_wire import Wire, not_found
from aioagb import AsyncAGB, AuthenticationError, InvalidArgumentError, SessionInfo

LABELS_Q = "labels=%7B%22team%22%3A+%22a+b%22%7D"


async def test_iter_sessions_follows_next_token(wire: Wire, agb: AsyncAGB):
    """One request per page, `maxResults` = page_size, the token of the previous page; stops
    on an empty token. Entries without a session id are skipped (§3.4 step 4)."""
    wire.ok(
        "GET",
        "/sdk/ListSession",
        [{"sessionId": "a", "sessionStatus": "RUNNING"}, {"sessionStatus": "RUNNING"}],
        env={"nextToken": "p/2"},
    )
    wire.ok(
        "GET",
        "/sdk/ListSession",
        [{"sessionId": "b"}, {"sessionId": ""}, {"sessionId": None}],
        env={"nextToken": ""},
    )

    found = [info async for info in agb.iter_sessions({"team": "a b"}, page_size=2)]

    assert found == [SessionInfo("a", "RUNNING"), SessionInfo("b", "")]
    assert [s.query for s in wire.sent] == [
        f"maxResults=2&{LABELS_Q}",
        f"maxResults=2&{LABELS_Q}&nextToken=p%2F2",
    ]


async def test_iter_sessions_raises_typed_errors(wire: Wire, agb: AsyncAGB):
    wire.route(
        "GET",
        "/sdk/ListSession",
        status=403,
        payload={"success": False, "code": "Denied", "message": "no", "requestId": "r-403"},
    )
    with pytest.raises(AuthenticationError) as caught:
        [info async for info in agb.iter_sessions()]
    assert caught.value.request_id == "r-403" and caught.value.code == "Denied"


async def test_iter_sessions_checks_page_size_first(wire: Wire, agb: AsyncAGB):
    with pytest.raises(InvalidArgumentError, match="page_size must be <= 100"):
        [info async for info in agb.iter_sessions(page_size=101)]
    assert wire.sent == []


async def test_delete_all_releases_every_match(wire: Wire, agb: AsyncAGB):
    wire.ok("GET", "/sdk/ListSession", [{"sessionId": "a"}, {"sessionId": "b"}])
    wire.ok("POST", "/mcp/releaseSessionAsync", repeat=True)
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found(), repeat=True)

    assert await agb.delete_all({"team": "a b"}, concurrency=1) == 2

    released = [s.json() for s in wire.sent if s.path == "/mcp/releaseSessionAsync"]
    assert released == [{"sessionId": "a"}, {"sessionId": "b"}]
