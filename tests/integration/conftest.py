"""The aioagb SDK against a real AGB Local (bubblewrap sandboxes where they work).

One server per test session runs in a background thread with its own event loop, so the
SDK under test talks to it over real HTTP on loopback, exactly as it would to the cloud.
Each test gets a fresh client (and a fresh aiohttp session) in its own loop, and its own API
key: a tenant of its own, so `local_server.live_sessions(api_key)` counts only what that test
created and leak assertions cannot be disturbed by other tests.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import anyio.from_thread
import pytest

from aioagb import AsyncAGB, CreateSessionParams
from aioagb.server import LocalServer, ServerConfig

IMAGE = "agb-code-space-2"
KEYS = tuple(f"it-{i}-{secrets.token_hex(8)}" for i in range(400))
_unused_keys = iter(KEYS)


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    with anyio.from_thread.start_blocking_portal(backend="asyncio") as portal:
        server = LocalServer(ServerConfig(api_keys=KEYS, reaper_interval_s=0.2))
        with portal.wrap_async_context_manager(server):
            yield server


@pytest.fixture
def api_key() -> str:
    return next(_unused_keys)


@pytest.fixture
async def agb(local_server: LocalServer, api_key: str) -> AsyncIterator[AsyncAGB]:
    async with AsyncAGB(api_key=api_key, endpoint=local_server.endpoint) as client:
        yield client


@pytest.fixture
def params() -> CreateSessionParams:
    return CreateSessionParams(image_id=IMAGE)
