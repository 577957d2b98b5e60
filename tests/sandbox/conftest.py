"""Fixtures for the sandbox backend's tests: real processes, no HTTP.

Roots live in fresh directories under /tmp (not pytest's tmp_path, whose parent is mode 700 and
so not reachable by the plain backend's per-session uids)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aioagb.server.sandbox import LocalBackend, LocalSandbox, SandboxLimits, make_backend

IS_ROOT = os.geteuid() == 0

# Small enough to trip quickly, large enough for python, node and the kernel.
TEST_LIMITS = SandboxLimits(
    memory_bytes=256 * 1024 * 1024,
    max_processes=64,
    max_output_bytes=64 * 1024,
    workspace_quota_bytes=64 * 1024 * 1024,
    max_timeout_s=30.0,
)


@pytest.fixture
def limits() -> SandboxLimits:
    return TEST_LIMITS


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="aioagb-sbx-", dir="/tmp"))
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["bwrap", "plain"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def backend(root: Path, mode: str) -> AsyncIterator[LocalBackend]:
    """A backend of each kind (tests using it run twice)."""
    b = make_backend(root, TEST_LIMITS, prefer=mode)
    try:
        yield b
    finally:
        await b.aclose()


@pytest.fixture
async def bwrap_backend(root: Path) -> AsyncIterator[LocalBackend]:
    b = make_backend(root, TEST_LIMITS, prefer="bwrap")
    try:
        yield b
    finally:
        await b.aclose()


@pytest.fixture
async def sandbox(backend: LocalBackend) -> LocalSandbox:
    return await backend.create("s-main")


@pytest.fixture
async def bsandbox(bwrap_backend: LocalBackend) -> LocalSandbox:
    return await bwrap_backend.create("s-bwrap")
