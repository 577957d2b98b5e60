"""Fixtures of the unit tests: a scripted fake server (`wire`), a client on it (`agb`), and
stamina in testing mode: retries happen at once, their waits are reported to its hooks
(`retries`) instead of slept."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import stamina

from _support import mock_wire
from _support.mock_wire import Wire, client
from aioagb import AsyncAGB


@pytest.fixture
def wire() -> Iterator[Wire]:
    mocked = Wire()
    mock_wire._CURRENT.append(mocked)
    try:
        yield mocked
    finally:
        mock_wire._CURRENT.remove(mocked)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No AGB_* variable and no .env of the developer's leaks into a test."""
    for name in ("AGB_API_KEY", "AGB_ENDPOINT", "AGB_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    """No retry waits; each retry loop keeps its own attempt limit (cap=True)."""
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


@pytest.fixture
def retries() -> Iterator[list[stamina.instrumentation.RetryDetails]]:
    """stamina's own instrumentation: one RetryDetails per scheduled retry."""
    seen: list[stamina.instrumentation.RetryDetails] = []
    stamina.instrumentation.set_on_retry_hooks([seen.append])
    try:
        yield seen
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)


@pytest.fixture
def real_backoff(
    retries: list[stamina.instrumentation.RetryDetails],
) -> Iterator[list[stamina.instrumentation.RetryDetails]]:
    """stamina out of testing mode, for the tests that check the waits it computes: they use
    waits of milliseconds, really slept, and read them from `retries`."""
    with stamina.set_testing(False):
        yield retries


@pytest.fixture
async def agb(wire: Wire) -> AsyncIterator[AsyncAGB]:
    async with client() as c:
        yield c
