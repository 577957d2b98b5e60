"""Test-wide configuration.

`anyio_mode = "auto"` (pyproject) hands every `async def` test to anyio's pytest plugin; this
fixture pins the backend to asyncio: aioresponses patches aiohttp on asyncio, and AGB Local is
an aiohttp server, so asyncio is the one backend the suite needs.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
