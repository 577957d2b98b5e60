"""The CLI against a standalone AGB Local, the way a user runs it against the cloud.

One server per test session runs in a background thread with its own event loop (the CLI
runs its own loop per command, in the test's thread). Each test gets its own API key, so
`server.live_sessions(key)` counts only what that test made.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio.from_thread
import pytest

from _support.cli import KEYS, Cli
from aioagb.server import LocalServer, ServerConfig


@pytest.fixture(scope="session")
def server_and_portal() -> Iterator[tuple[LocalServer, anyio.from_thread.BlockingPortal]]:
    with anyio.from_thread.start_blocking_portal(backend="asyncio") as portal:
        server = LocalServer(ServerConfig(api_keys=KEYS))
        with portal.wrap_async_context_manager(server):
            yield server, portal


@pytest.fixture
def cli(server_and_portal: tuple[LocalServer, anyio.from_thread.BlockingPortal]) -> Cli:
    return Cli(*server_and_portal)
