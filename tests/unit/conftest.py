"""Fixtures of the unit tests: a mocked network (`wire`), a client on it (`agb`), and
retry waits that are recorded instead of slept (`sleeps`, `retry_details`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import stamina
from unit_helpers import Wire, client, recording_sleep

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
    """Replace stamina's sleep between attempts by a recorder: retry waits cost no time."""
    import stamina._core

    waits: list[float] = []
    recorder = recording_sleep(stamina._core._smart_sleep, waits)
    monkeypatch.setattr(stamina._core, "_smart_sleep", recorder)
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
