"""Hooks (request, retry, session created/deleted) and the structured, secret-free log records."""

from __future__ import annotations

import logging

import pytest

from aioagb import (
    AiohttpTransport,
    AsyncAGB,
    CreateSessionParams,
    Hooks,
    RequestEvent,
    RetryEvent,
    RetryPolicy,
    SessionEvent,
    TransportError,
    TransportRequest,
    TransportResponse,
)
from aioagb.server import LocalServer

IMAGE = "agb-code-space-2"
FAST_RETRY = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.02, wait_jitter=0)


class FlakyList(AiohttpTransport):
    """Answers the first `ListSession` with a 503 of its own; everything else is real."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def send(self, request: TransportRequest) -> TransportResponse:
        if request.operation == "ListSession" and not self.failed:
            self.failed = True
            body = b'{"success": false, "code": "ServiceUnavailable", "requestId": "fake-1"}'
            return TransportResponse(503, body)
        return await super().send(request)


async def test_hooks_see_every_attempt_retry_and_session(
    local_server: LocalServer, api_key: str
) -> None:
    requests: list[RequestEvent] = []
    retries: list[RetryEvent] = []
    created: list[SessionEvent] = []
    deleted: list[SessionEvent] = []
    hooks = Hooks(
        on_request=requests.append,
        on_retry=[retries.append],
        on_session_created=created.append,
        on_session_deleted=deleted.append,
    )
    async with AsyncAGB(
        api_key, endpoint=local_server.endpoint, hooks=hooks, retry=FAST_RETRY,
        transport=FlakyList(),
    ) as agb:  # fmt: skip
        async with agb.session(CreateSessionParams(image_id=IMAGE)) as session:
            await session.command.execute("true")
            listed = await agb.list()
        assert listed.success and listed.session_ids == [session.session_id]

    create = requests[0]
    assert (create.operation, create.method, create.status, create.attempt) == (
        "createSession", "POST", 200, 1,
    )  # fmt: skip
    assert create.request_id and create.duration_s > 0 and create.error is None
    assert created == [SessionEvent(session.session_id, create.request_id, IMAGE)]
    assert [e.session_id for e in deleted] == [session.session_id]
    assert deleted[0].request_id  # the release's request id

    lists = [e for e in requests if e.operation == "ListSession"]
    assert [(e.status, e.attempt) for e in lists] == [(503, 1), (200, 2)]
    assert len(retries) == 1
    retry = retries[0]
    assert (retry.operation, retry.attempt, retry.reason) == ("ListSession", 2, "HTTP 503")
    assert retry.waited_s >= 0.005  # the backoff really happened between the two attempts


async def test_a_transport_failure_is_an_event_without_status() -> None:
    events: list[RequestEvent] = []
    no_retry = RetryPolicy(attempts=1)
    async with AsyncAGB(
        "k", endpoint="http://127.0.0.1:9", hooks=Hooks(on_request=events.append), retry=no_retry
    ) as agb:
        result = await agb.list()
    assert not result.success
    assert len(events) == 1
    event = events[0]
    assert event.status is None and event.request_id == ""
    assert isinstance(event.error, TransportError)


async def test_a_hook_that_raises_is_logged_and_ignored(
    local_server: LocalServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: RequestEvent) -> None:
        raise RuntimeError("metrics backend down")

    seen: list[RequestEvent] = []
    hooks = Hooks(on_request=[broken, seen.append])
    with caplog.at_level(logging.WARNING, logger="aioagb"):
        async with AsyncAGB(api_key, endpoint=local_server.endpoint, hooks=hooks) as agb:
            result = await agb.list()
    assert result.success
    assert len(seen) == 1  # the second hook still ran
    assert any("hook raised" in r.getMessage() for r in caplog.records)


async def test_debug_records_are_structured_and_never_hold_the_key(
    local_server: LocalServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="aioagb"):
        async with (
            AsyncAGB(api_key, endpoint=local_server.endpoint) as agb,
            agb.session(CreateSessionParams(image_id=IMAGE)) as session,
        ):
            await session.code.run("print(1)", "python")
        async with AsyncAGB("wrong-key", endpoint=local_server.endpoint) as bad:
            assert not (await bad.list()).success

    structured = [r for r in caplog.records if hasattr(r, "aioagb")]
    kinds = {r.aioagb["event"] for r in structured}  # type: ignore[attr-defined]
    assert {"request", "created", "deleted"} <= kinds
    create = next(
        r.aioagb  # type: ignore[attr-defined]
        for r in structured
        if r.aioagb.get("operation") == "createSession"  # type: ignore[attr-defined]
    )
    assert create["status"] == 200 and create["attempt"] == 1 and create["request_id"]
    assert any(r.aioagb.get("status") == 401 for r in structured)  # type: ignore[attr-defined]
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        assert api_key not in text and "wrong-key" not in text
