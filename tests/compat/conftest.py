"""The official synchronous SDK (`agbcloud-sdk==0.12.0`, unmodified) against a real AGB Local.

One AGB Local per test session runs in a background thread (an anyio blocking portal), on a
free loopback port, with the real sandbox backend (bubblewrap where it works). The official
SDK is synchronous, so the tests are plain functions that call it directly; each points it at
the server through `AGB_ENDPOINT`, as a user would.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio.from_thread
import pytest
from agb import AGB
from agb.session import Session

from _support.official_sdk import create
from aioagb import _protocol as p
from aioagb.server import LocalServer, ServerConfig


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    with anyio.from_thread.start_blocking_portal(backend="asyncio") as portal:
        server = LocalServer(ServerConfig(reaper_interval_s=0.2))
        with portal.wrap_async_context_manager(server):
            yield server


@pytest.fixture
def agb(local_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> AGB:
    monkeypatch.setenv(p.ENV_ENDPOINT, local_server.endpoint)
    monkeypatch.delenv(p.ENV_TIMEOUT_MS, raising=False)
    return AGB(api_key=local_server.api_key)


@pytest.fixture
def session(agb: AGB) -> Iterator[Session]:
    created = create(agb)
    try:
        yield created
    finally:
        created.delete()
