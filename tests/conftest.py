"""Test-wide configuration.

`anyio_mode = "auto"` (pyproject) hands every `async def` test to anyio's pytest plugin; this
fixture pins the backend to asyncio: AGB Local is an aiohttp server and the SDK's default
transport is aiohttp's client, so asyncio is the one backend the suite needs. Every test gets
its own `AGB_LOCAL_DATA_DIR`.
"""

from __future__ import annotations

import pytest

# aioagb.server.config.ENV_DATA_DIR, spelled out: importing the server here would load it
# into every test process, and some tests check what the SDK alone imports.
ENV_DATA_DIR = "AGB_LOCAL_DATA_DIR"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def agb_local_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every `aioagb serve` a test starts (a subprocess inherits the variable) keeps its
    contexts in a directory of that test, never in the user's own: tests stay hermetic, and
    two servers (one data directory each) never meet."""
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path_factory.mktemp("agb-data")))
