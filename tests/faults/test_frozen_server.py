"""A server that accepts connections and never answers (issue 16.3): every call ends, with
its typed error, within its documented bound, and no warning is raised on the way (the suite
runs with warnings as errors; stamina used to warn "timeout=0 means no retries")."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from aioagb import (
    AsyncAGB,
    AsyncSession,
    CreateSessionParams,
    MockTransport,
    RequestTimeoutError,
    RetryPolicy,
    TransportRequest,
    TransportResponse,
)

PARAMS = CreateSessionParams(image_id="agb-code-space-2")


@pytest.fixture
def frozen_endpoint() -> Iterator[str]:
    """A listener whose backlog accepts connections that nobody ever reads or answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


async def test_calls_to_a_frozen_server_fail_with_request_timeouts(frozen_endpoint: str) -> None:
    """The defaults (request timeout = retry budget) and a short timeout both end in a
    RequestTimeoutError result, never in a UserWarning."""
    quick_close = {"cleanup_timeout": 1, "orphan_grace": 0.01}  # aclose's orphan sweep
    for options in ({"timeout": 0.2}, {"timeout": 0.2, "retry": RetryPolicy(budget=0.2)}):
        async with AsyncAGB("k", endpoint=frozen_endpoint, **options, **quick_close) as agb:  # type: ignore[arg-type]
            status = await AsyncSession(agb, "s-1").get_status()
            created = await agb.create(PARAMS)
        assert isinstance(status.exception, RequestTimeoutError), status
        assert isinstance(created.exception, RequestTimeoutError), created
        assert "no answer within the request timeout of 0.2 s" in created.error_message


async def test_retries_stay_within_the_budget() -> None:
    """docs/sdk.md: a request, its retries and the waits between them end within
    RetryPolicy.budget: each attempt's timeout is what is left of it. Here the transport
    waits out every timeout it is given; attempts of 0.2 s in a 0.5 s budget make two whole
    attempts and a third cut to what remains."""
    import anyio

    timeouts: list[float] = []

    async def never_answers(request: TransportRequest) -> TransportResponse:
        timeouts.append(request.timeout)
        await anyio.sleep(request.timeout)
        raise RequestTimeoutError(f"{request.operation}: no answer")

    policy = RetryPolicy(attempts=10, wait_initial=0, wait_jitter=0, budget=0.5)
    transport = MockTransport(never_answers)
    async with AsyncAGB(
        "k", endpoint="http://x", timeout=0.2, retry=policy, transport=transport
    ) as agb:
        result = await AsyncSession(agb, "s-1").get_status()
    assert isinstance(result.exception, RequestTimeoutError)
    assert timeouts[:2] == [0.2, 0.2] and len(timeouts) == 3
    assert timeouts[2] < 0.2 and sum(timeouts) <= 0.5 + 1e-6
