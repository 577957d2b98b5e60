"""The `api` fixture: AGB Local's app with a fake backend, two tenants' keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from server_helpers import Api, make_config, start_api


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    started = await start_api(tmp_path, make_config())
    try:
        yield started
    finally:
        await started.client.close()
