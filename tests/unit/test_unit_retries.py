"""Retries (docs/sdk.md "Retries", src/aioagb/_retry.py) and request timeouts.

stamina runs in its testing mode (tests/unit/conftest.py): retries happen at once, and its
own instrumentation (`retries`) and the client's `Hooks(on_retry=...)` see each one. The
tests that check the waits stamina computes (`real_backoff`) use waits of milliseconds.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import stamina
from stamina.instrumentation import RetryDetails

from _support.mock_wire import (
    SESSION_ID,
    Wire,
    client,
    dropped,
    envelope,
    not_found,
    refused,
    tool_data,
)
from aioagb import (
    AsyncSession,
    AuthenticationError,
    ConnectError,
    CreateSessionParams,
    Hooks,
    RateLimitedError,
    RequestTimeoutError,
    RetryEvent,
    RetryPolicy,
    ServerError,
    TransportError,
)

NO_JITTER = RetryPolicy(attempts=5, wait_initial=0.1, wait_max=0.3, wait_jitter=0.0)
# The same curve in milliseconds, for the tests that really wait what stamina computes.
NO_JITTER_MS = RetryPolicy(attempts=5, wait_initial=0.001, wait_max=0.003, wait_jitter=0.0)
Retries = list[RetryDetails]
PARAMS = CreateSessionParams(image_id="agb-code-space-2")


def http(status: int, rid: str = "r-5xx", headers: dict[str, str] | None = None) -> dict:
    body = envelope(None, rid=rid, success=False, code="E", message=f"HTTP {status} here")
    return {"status": status, "payload": body, "headers": headers or {}}


async def test_backoff_is_exponential_and_capped(wire: Wire, real_backoff: Retries):
    """An idempotent request (status) after four 503s: waits wait_initial, doubling, then
    capped at wait_max (no jitter here); five requests in all; the hooks see each retry."""
    events: list[RetryEvent] = []
    for i in range(4):
        wire.route("POST", "/mcp/getSessionInfo", **http(503, rid=f"r-{i}"))
    wire.ok("POST", "/mcp/getSessionInfo", {"status": "RUNNING"}, rid="r-last")

    async with client(retry=NO_JITTER_MS, hooks=Hooks(on_retry=events.append)) as agb:
        result = await AsyncSession(agb, SESSION_ID).get_status()

    assert result.success and result.request_id == "r-last"
    assert len(wire.sent) == 5
    assert [d.wait_for for d in real_backoff] == pytest.approx([0.001, 0.002, 0.003, 0.003])
    assert [d.retry_num for d in real_backoff] == [1, 2, 3, 4]
    assert [(e.operation, e.attempt, e.reason) for e in events] == [
        ("getSessionInfo", n, "HTTP 503") for n in (2, 3, 4, 5)
    ]


async def test_default_policy_backoff_has_bounded_jitter(wire: Wire, retries: Retries):
    """RetryPolicy() defaults: 4 attempts, 0.1 s doubling, up to 0.5 s of jitter each —
    handed to stamina as its backoff parameters (checked through its testing mode: the
    attempts; the curve itself is stamina's, shown by the test above)."""
    assert RetryPolicy() == RetryPolicy(
        attempts=4, wait_initial=0.1, wait_max=5.0, wait_jitter=0.5, budget=60.0
    )
    wire.route("GET", "/sdk/GetLabel", repeat=True, **http(502, rid="r-502"))
    async with client(retry=RetryPolicy()) as agb:
        result = await AsyncSession(agb, SESSION_ID).get_labels()
    assert len(wire.sent) == 4
    assert [d.retry_num for d in retries] == [1, 2, 3]
    # exhausted: the last answer is the result, as a ServerError carrying its request id
    assert not result.success and result.request_id == "r-502"
    assert isinstance(result.exception, ServerError) and result.exception.http_status == 502


async def test_retry_after_is_honoured_exactly(wire: Wire, real_backoff: Retries):
    """HTTP 429 with Retry-After: the wait is the server's, not the backoff."""
    wire.route("GET", "/sdk/ListSession", **http(429, headers={"Retry-After": "0.004"}))
    wire.route("GET", "/sdk/ListSession", **http(429, headers={"Retry-After": "0.007"}))
    wire.ok("GET", "/sdk/ListSession", [], rid="r-ok")
    async with client(retry=NO_JITTER) as agb:
        result = await agb.list()
    assert result.success and len(wire.sent) == 3
    assert [d.wait_for for d in real_backoff] == pytest.approx([0.004, 0.007])


async def test_retry_after_above_the_cap_is_returned_at_once(wire: Wire, retries: Retries):
    """Quota exhaustion is not waited out: Retry-After > max_retry_after -> the 429 comes
    back at once as RateLimitedError with `.retry_after`."""
    wire.route("GET", "/sdk/ListSession", **http(429, rid="r-429", headers={"Retry-After": "31"}))
    async with client(retry=RetryPolicy(max_retry_after=30)) as agb:
        result = await agb.list()
    assert len(wire.sent) == 1 and retries == []
    exc = result.exception
    assert isinstance(exc, RateLimitedError)
    assert (exc.retry_after, exc.request_id, exc.http_status) == (31.0, "r-429", 429)


async def test_429_without_retry_after_backs_off(wire: Wire, real_backoff: Retries):
    """A 429 without (or with an HTTP-date) Retry-After uses the exponential backoff."""
    wire.route("GET", "/sdk/ListSession", **http(429))
    wire.route(
        "GET",
        "/sdk/ListSession",
        **http(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    )
    wire.ok("GET", "/sdk/ListSession", [])
    async with client(retry=NO_JITTER_MS) as agb:
        assert (await agb.list()).success
    assert [d.wait_for for d in real_backoff] == pytest.approx([0.001, 0.002])


async def test_429_is_retried_even_for_create(wire: Wire, real_backoff: Retries):
    """A 429 means the server refused: nothing was made, so create is retried too."""
    wire.route("POST", "/mcp/createSession", **http(429, headers={"Retry-After": "0.001"}))
    wire.ok("POST", "/mcp/createSession", {"sessionId": "s-new"})
    async with client(retry=NO_JITTER) as agb:
        result = await agb.create(PARAMS)
    assert result.success and result.session.session_id == "s-new"
    assert wire.paths() == ["POST /mcp/createSession"] * 2
    assert [d.wait_for for d in real_backoff] == [0.001]


# --- what is safe to repeat --------------------------------------------------------------

SIDE_EFFECTS = {
    "run_code": lambda s: s.code.run("x = 1", "python"),
    "shell": lambda s: s.command.execute("rm -rf /tmp/x"),
    "write_file": lambda s: s.file.write("/x", "y"),
    "move_file": lambda s: s.file.move("/x", "/y"),
    "delete_file": lambda s: s.file.remove("/x"),
    "edit_file": lambda s: s.file.edit("/x", [{"oldText": "a", "newText": "b"}]),
    "call_mcp_tool": lambda s: s.call_mcp_tool("get_metrics", {}),
}

SAFE = {
    "get_file_info": lambda s: s.file.info("/x"),
    "list_directory": lambda s: s.file.list("/x"),
    "search_files": lambda s: s.file.search("/x", "*"),
    "read_multiple_files": lambda s: s.file.read_batch(["/x"]),
    "create_directory": lambda s: s.file.mkdir("/x"),
}


@pytest.mark.parametrize("call", list(SIDE_EFFECTS))
async def test_5xx_is_not_retried_for_calls_with_side_effects(
    wire: Wire, retries: Retries, call: str
):
    """docs/sdk.md: 5xx is not retried for run_code, shell or file writes (the server may
    already have acted). One request; the 5xx is the result."""
    wire.route("POST", "/mcp", repeat=True, **http(500, rid="r-500"))
    async with client(retry=NO_JITTER) as agb:
        result = await SIDE_EFFECTS[call](AsyncSession(agb, SESSION_ID))
    assert len(wire.sent) == 1 and retries == []
    assert not result.success and result.request_id == "r-500"
    assert isinstance(result.exception, ServerError)


@pytest.mark.parametrize("call", list(SAFE))
async def test_5xx_is_retried_for_read_only_tools(wire: Wire, retries: Retries, call: str):
    wire.route("POST", "/mcp", **http(503))
    wire.ok("POST", "/mcp", tool_data("size: 1\nisDirectory: false"))
    async with client(retry=NO_JITTER) as agb:
        result = await SAFE[call](AsyncSession(agb, SESSION_ID))
    assert result.success and len(wire.sent) == 2 and len(retries) == 1


SESSION_OPS = {
    "getSession": ("POST", "/mcp/getSession", lambda s: s.agb.get_session(SESSION_ID)),
    "SetLabel": ("POST", "/sdk/SetLabel", lambda s: s.set_labels({"a": "b"})),
    "refreshSessionIdleTime": ("POST", "/mcp/refreshSessionIdleTime", lambda s: s.keep_alive()),
    "getMcpResource": ("POST", "/mcp/getMcpResource", lambda s: s.info()),
    "listTools": ("POST", "/mcp/listTools", lambda s: s.list_mcp_tools("img")),
}


@pytest.mark.parametrize("op", list(SESSION_OPS))
async def test_5xx_is_retried_for_session_reads_and_idempotent_writes(
    wire: Wire, retries: Retries, op: str
):
    method, path, run = SESSION_OPS[op]
    wire.route(method, path, **http(500))
    wire.ok(
        method, path, {"sessionId": SESSION_ID, "resourceUrl": "u"} if op != "listTools" else "[]"
    )
    async with client(retry=NO_JITTER) as agb:
        result = await run(AsyncSession(agb, SESSION_ID))
    assert result.success and len(wire.sent) == 2


async def test_release_is_retried_and_a_second_not_found_counts(wire: Wire, retries: Retries):
    """Releasing twice is harmless: a 5xx release is retried; the retry answering "not
    found" (the first one did release) counts as deleted."""
    wire.route("POST", "/mcp/releaseSessionAsync", **http(502))
    wire.route("POST", "/mcp/releaseSessionAsync", status=400, payload=not_found("r-nf"))
    async with client(retry=NO_JITTER) as agb:
        result = await AsyncSession(agb, SESSION_ID).delete()
    assert result.success and len(wire.sent) == 2


# --- connection failures -----------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.code.run("1", "python"),
        lambda s: s.get_status(),
        lambda s: s.file.write("/x", "y"),
    ],
    ids=["run_code", "status", "write"],
)
async def test_refused_connection_is_retried_for_every_request(
    wire: Wire, retries: Retries, call: Any
):
    """A connection that could not be opened never reached the server: always retried."""
    wire.route("POST", "/mcp", exception=refused())
    wire.route("POST", "/mcp/getSessionInfo", exception=refused())
    wire.ok("POST", "/mcp", tool_data('{"result": [], "stdout": [], "stderr": []}'))
    wire.ok("POST", "/mcp/getSessionInfo", {"status": "RUNNING"})
    async with client(retry=NO_JITTER) as agb:
        result = await call(AsyncSession(agb, SESSION_ID))
    assert result.success, result
    assert len(wire.sent) == 2 and len(retries) == 1


async def test_refused_connections_exhausted_is_a_connect_error(wire: Wire, retries: Retries):
    wire.route("POST", "/mcp", repeat=True, exception=refused())
    async with client(retry=NO_JITTER) as agb:
        result = await AsyncSession(agb, SESSION_ID).code.run("1", "python")
    assert len(wire.sent) == 5 and not result.success
    assert isinstance(result.exception, ConnectError)
    assert "cannot connect: Connection refused" in result.error_message
    assert result.request_id == ""  # no answer, no request id


async def test_dropped_connection_is_retried_only_when_safe(wire: Wire, retries: Retries):
    """A dropped connection (the request may have arrived) is retried for reads, not for
    run_code."""
    wire.route("POST", "/mcp/getSessionInfo", exception=dropped())
    wire.ok("POST", "/mcp/getSessionInfo", {"status": "RUNNING"})
    wire.route("POST", "/mcp", repeat=True, exception=dropped())
    async with client(retry=NO_JITTER) as agb:
        session = AsyncSession(agb, SESSION_ID)
        status = await session.get_status()
        code = await session.code.run("1", "python")
    assert status.success
    assert wire.paths() == ["POST /mcp/getSessionInfo"] * 2 + ["POST /mcp"]
    assert type(code.exception) is TransportError
    assert "the connection failed: ServerDisconnectedError" in code.error_message


# --- create: doubtful outcomes are recovered, then tried again with a new token ---------


def create_tokens(wire: Wire) -> list[str]:
    return [
        json.loads(s.json()["labels"])["aioagb-create"]
        for s in wire.sent
        if s.path == "/mcp/createSession"
    ]


async def test_create_5xx_is_recovered_then_retried_with_a_new_token(wire: Wire, retries: Retries):
    """A 5xx without a session id: stamina does not repeat the create itself; the client
    lists the sessions labelled with that create's token (ListSession, §3.4), deletes what
    it finds, and creates again with a fresh token."""
    wire.route("POST", "/mcp/createSession", **http(500, rid="r-c1"))
    wire.ok("GET", "/sdk/ListSession", [{"sessionId": "s-orphan"}])
    wire.ok("POST", "/mcp/releaseSessionAsync")
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())
    wire.ok("POST", "/mcp/createSession", {"sessionId": "s-good"}, rid="r-c2")

    async with client() as agb:
        result = await agb.create(PARAMS)

    assert result.success and result.session.session_id == "s-good"
    assert result.request_id == "r-c2"
    assert wire.paths() == [
        "POST /mcp/createSession",
        "GET /sdk/ListSession",
        "POST /mcp/releaseSessionAsync",
        "POST /mcp/getSessionInfo",
        "POST /mcp/createSession",
    ]
    first, second = create_tokens(wire)
    assert first != second
    lookup = wire.sent[1]
    assert lookup.query == (
        "maxResults=100&labels=%7B%22aioagb-create%22%3A+%22" + first + "%22%7D"
    )
    assert wire.sent[2].json() == {"sessionId": "s-orphan"}
    assert [type(d.caused_by).__name__ for d in retries] == ["_DoubtfulCreate"]


async def test_create_5xx_every_time_gives_the_server_error(wire: Wire):
    wire.route("POST", "/mcp/createSession", repeat=True, **http(503, rid="r-503"))
    wire.ok("GET", "/sdk/ListSession", [], repeat=True)
    async with client() as agb:  # FAST policy: 3 attempts, no waits
        result = await agb.create(PARAMS)
        assert wire.paths() == ["POST /mcp/createSession", "GET /sdk/ListSession"] * 3
        assert len(set(create_tokens(wire))) == 3
        client_id = agb.lifecycle.orphans.client_id
    # Nothing turned up for those tokens: aclose() sweeps this client's own label (_orphans).
    sweeps = wire.sent[6:]
    assert sweeps and all(s.path == "/sdk/ListSession" for s in sweeps)
    assert all(f"%22aioagb-client%22%3A+%22{client_id}%22" in s.query for s in sweeps)
    assert isinstance(result.exception, ServerError)
    assert (result.request_id, result.exception.http_status) == ("r-503", 503)


async def test_create_dropped_connection_is_recovered_then_retried(wire: Wire):
    wire.route("POST", "/mcp/createSession", exception=dropped())
    wire.ok("GET", "/sdk/ListSession", [], repeat=True)
    wire.ok("POST", "/mcp/createSession", {"sessionId": "s-2"})
    async with client() as agb:
        result = await agb.create(PARAMS)
        assert result.success
        assert wire.paths() == [
            "POST /mcp/createSession",
            "GET /sdk/ListSession",
            "POST /mcp/createSession",
        ]


async def test_create_refused_connection_is_retried_without_recovery(wire: Wire, retries: Retries):
    """Nothing reached the server: stamina retries the same create, no lookup needed."""
    wire.route("POST", "/mcp/createSession", exception=refused())
    wire.ok("POST", "/mcp/createSession", {"sessionId": "s-3"})
    async with client(retry=NO_JITTER) as agb:
        result = await agb.create(PARAMS)
    assert result.success
    assert wire.paths() == ["POST /mcp/createSession"] * 2 and len(retries) == 1


# --- timeouts ----------------------------------------------------------------------------


async def test_timeout_becomes_request_timeout_error(wire: Wire, retries: Retries):
    """No answer within the request timeout -> RequestTimeoutError (a TransportError) naming
    the operation and the timeout; retried for a safe request, then returned as the result
    with an empty request id (no answer was received)."""
    wire.route("POST", "/mcp/getSessionInfo", repeat=True, timeout=True)
    async with client(retry=RetryPolicy(attempts=2, wait_jitter=0), timeout=7) as agb:
        result = await AsyncSession(agb, SESSION_ID).get_status()
    assert len(wire.sent) == 2
    exc = result.exception
    assert isinstance(exc, RequestTimeoutError) and isinstance(exc, TransportError)
    assert exc.message == "getSessionInfo: no answer within the request timeout of 7 s"
    assert result.error_message == exc.message
    assert (result.request_id, exc.request_id, exc.http_status) == ("", "", None)


async def test_timeout_is_not_retried_for_run_code(wire: Wire, retries: Retries):
    wire.route("POST", "/mcp", repeat=True, timeout=True)
    async with client(retry=NO_JITTER) as agb:
        result = await AsyncSession(agb, SESSION_ID).code.run("while True: pass", "python")
    assert len(wire.sent) == 1 and isinstance(result.exception, RequestTimeoutError)


async def test_create_timeout_is_recovered_and_raised_not_retried(wire: Wire):
    """A create that timed out is cleaned up through its token and not tried again;
    open_session raises the RequestTimeoutError, create() returns it."""
    wire.route("POST", "/mcp/createSession", repeat=True, timeout=True)
    wire.ok("GET", "/sdk/ListSession", [{"sessionId": "s-late"}])
    wire.ok("POST", "/mcp/releaseSessionAsync")
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())
    wire.ok("GET", "/sdk/ListSession", [], repeat=True)
    async with client() as agb:
        with pytest.raises(RequestTimeoutError, match="createSession: no answer"):
            await agb.open_session(PARAMS)
        result = await agb.create(PARAMS)
    assert isinstance(result.exception, RequestTimeoutError) and not result.success
    creates = [p for p in wire.paths() if p.endswith("createSession")]
    assert len(creates) == 2  # one per call: not retried
    assert "POST /mcp/releaseSessionAsync" in wire.paths()


def request_timeouts(wire: Wire) -> list[float]:
    return [sent.timeout for sent in wire.sent]


async def test_a_call_waits_the_client_timeout_unless_its_own_is_longer_or_given(wire: Wire):
    """The request timeout is the client's, except for calls whose execution timeout is
    longer: they wait for it plus 10 s (docs/sdk.md "Three timeouts"); the official
    per-call timeouts of call_mcp_tool are milliseconds, each at least 1 s."""
    wire.tool('{"result": []}', repeat=True)
    async with client(timeout=5) as agb:
        session = AsyncSession(agb, SESSION_ID)
        await session.command.execute("true", timeout_ms=1000)
        await session.file.list("/")
        await session.call_mcp_tool("t", {}, timeout=2.5)
        await session.call_mcp_tool("t", {}, read_timeout=3000, connect_timeout=500)
    assert request_timeouts(wire) == [11.0, 5.0, 2.5, 4.0]


async def test_code_run_request_timeout(wire: Wire):
    wire.tool('{"result": []}')
    async with client(timeout=5) as agb:
        await AsyncSession(agb, SESSION_ID).code.run("1", "python", timeout_s=60)
    assert request_timeouts(wire) == [70.0]


async def test_hooks_see_every_attempt(wire: Wire, retries: Retries):
    """on_request: one event per HTTP attempt, answered or not."""
    events = []
    wire.route("POST", "/mcp/getSessionInfo", exception=refused())
    wire.route("POST", "/mcp/getSessionInfo", **http(503, rid="r-a"))
    wire.ok("POST", "/mcp/getSessionInfo", {"status": "RUNNING"}, rid="r-b")
    async with client(retry=NO_JITTER, hooks=Hooks(on_request=events.append)) as agb:
        await AsyncSession(agb, SESSION_ID).get_status()
    assert [(e.attempt, e.status, e.request_id, type(e.error).__name__) for e in events] == [
        (1, None, "", "ConnectError"),
        (2, 503, "r-a", "NoneType"),
        (3, 200, "r-b", "NoneType"),
    ]


async def test_create_non_json_answer_is_doubtful(wire: Wire):
    """A 200 whose body is not the envelope (a proxy page) says nothing about the session:
    recovered through the token, then tried again."""
    wire.route(
        "POST",
        "/mcp/createSession",
        body="<html>oops</html>",
        headers={"Content-Type": "text/html"},
    )
    wire.ok("GET", "/sdk/ListSession", [])
    wire.ok("POST", "/mcp/createSession", {"sessionId": "s-4", "resourceUrl": "https://u"})
    async with client() as agb:
        result = await agb.create(PARAMS)
        assert wire.paths() == [
            "POST /mcp/createSession",
            "GET /sdk/ListSession",
            "POST /mcp/createSession",
        ]
        wire.ok("GET", "/sdk/ListSession", [], repeat=True)  # the sweep on close
    assert result.success and result.session.resource_url == "https://u"
    assert result.session.image_id == PARAMS.image_id


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (http(429, rid="r-q", headers={"Retry-After": "600"}), RateLimitedError),
        (http(401, rid="r-q"), AuthenticationError),
    ],
    ids=["quota", "auth"],
)
async def test_open_session_passes_rate_limit_and_auth_errors_through(
    wire: Wire, retries: Retries, answer: dict, kind: type
):
    """open_session raises these as they are (not SessionCreateError), at once."""
    wire.route("POST", "/mcp/createSession", **answer)
    async with client() as agb:
        with pytest.raises(kind) as caught:
            await agb.open_session(PARAMS)
    assert caught.value.request_id == "r-q" and len(wire.sent) == 1 and retries == []


async def test_delete_polling_backs_off_from_50_ms_to_1_s(
    wire: Wire, monkeypatch: pytest.MonkeyPatch, retries: Retries
) -> None:
    """docs/sdk.md: polls start at 50 ms and double up to 1 s (the official client waits 1 s
    between polls, §3.7), so a prompt server gets a prompt answer. A poll is not a retry:
    stamina sees none of them (it would log each one as a scheduled retry)."""
    import aioagb._polling

    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(aioagb._polling, "_sleep", record)
    wire.ok("POST", "/mcp/releaseSessionAsync")
    for _ in range(7):
        wire.ok("POST", "/mcp/getSessionInfo", {"status": "RUNNING"})
    wire.ok("POST", "/mcp/getSessionInfo", {"status": "FINISH"})
    with stamina.set_testing(False):
        async with client() as agb:
            assert (await AsyncSession(agb, SESSION_ID).delete()).success
    assert waits == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert retries == []


async def test_create_retry_loop_backs_off(wire: Wire, real_backoff: Retries):
    """Create's own loop (after a doubtful outcome) waits like the policy, through stamina:
    wait_initial, doubling, capped at wait_max, plus jitter (none here)."""
    wire.route("POST", "/mcp/createSession", repeat=True, **http(503))
    wire.ok("GET", "/sdk/ListSession", [], repeat=True)
    async with client(retry=NO_JITTER_MS) as agb:
        result = await agb.create(PARAMS)
    assert isinstance(result.exception, ServerError)
    assert [p for p in wire.paths() if p.endswith("createSession")] == [
        "POST /mcp/createSession"
    ] * 5
    creates = [d for d in real_backoff if type(d.caused_by).__name__ == "_DoubtfulCreate"]
    assert [d.wait_for for d in creates] == pytest.approx([0.001, 0.002, 0.003, 0.003])
