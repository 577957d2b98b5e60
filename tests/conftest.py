"""Test-wide configuration.

`anyio_mode = "auto"` (pyproject) hands every `async def` test to anyio's pytest plugin; this
fixture pins the backend to asyncio: AGB Local is an aiohttp server and the SDK's default
transport is aiohttp's client, so asyncio is the one backend the suite needs.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
