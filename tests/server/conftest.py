"""The `api` fixture: AGB Local's app with a fake backend, two tenants' keys; `sandbox_api`:
the same with real (bubblewrap) sandboxes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from _support.server_app import Api, make_config, start_api
from aioagb.server.sandbox import make_backend


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    started = await start_api(tmp_path, make_config())
    try:
        yield started
    finally:
        await started.client.close()


@pytest.fixture
async def sandbox_api(tmp_path: Path) -> AsyncIterator[Api]:
    """AGB Local with real bubblewrap sandboxes (the sync tests copy files in and out)."""
    root = Path(tempfile.mkdtemp(prefix="aioagb-sync-", dir="/tmp"))
    os.chmod(root, 0o711)
    backend = make_backend(root, prefer="bwrap")
    started = await start_api(tmp_path, make_config(), backend)
    try:
        yield started
    finally:
        await started.client.close()  # ends the app, which closes the backend
        shutil.rmtree(root, ignore_errors=True)
