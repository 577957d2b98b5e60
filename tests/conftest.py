"""Test-wide configuration: every `async def` test runs under anyio on asyncio.

aioresponses patches aiohttp on asyncio, and AGB Local is an aiohttp server, so asyncio is
the one backend the suite needs.
"""

from __future__ import annotations

import inspect

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        func = getattr(item, "function", None)
        if func is not None and inspect.iscoroutinefunction(func):
            item.add_marker(pytest.mark.anyio)
