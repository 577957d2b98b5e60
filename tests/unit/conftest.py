"""Fixtures of the unit tests: a mocked network (`wire`), a client on it (`agb`), and
retry waits that are recorded instead of slept (`sleeps`, `retry_details`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import stamina
from unit_helpers import Wire, client

from aioagb import AsyncAGB


@pytest.fixture
def wire() -> Iterator[Wire]:
    with Wire() as mocked:
        yield mocked


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No AGB_* variable and no .env of the developer's leaks into a test."""
    for name in ("AGB_API_KEY", "AGB_ENDPOINT", "AGB_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace stamina's sleep between attempts by a recorder: retry waits cost no time.

    Only in this test's thread: clients in other threads (portal-run servers of other test
    modules) keep their real waits and stay out of the record."""
    import threading

    import anyio.lowlevel
    import stamina._core

    waits: list[float] = []
    real_sleep = stamina._core._smart_sleep
    test_thread = threading.get_ident()

    async def fake_sleep(delay: float) -> None:
        if threading.get_ident() != test_thread:
            await real_sleep(delay)
            return
        waits.append(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(stamina._core, "_smart_sleep", fake_sleep)
    return waits


@pytest.fixture
def retry_details() -> Iterator[list[stamina.instrumentation.RetryDetails]]:
    """stamina's own instrumentation: one RetryDetails per scheduled retry."""
    seen: list[stamina.instrumentation.RetryDetails] = []
    stamina.instrumentation.set_on_retry_hooks([seen.append])
    try:
        yield seen
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)


@pytest.fixture
async def agb(wire: Wire) -> AsyncIterator[AsyncAGB]:
    async with client() as c:
        yield c
