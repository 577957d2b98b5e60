"""Writes on a full disk (issue 16, point 2): a failed write leaves the file it was writing
exactly as it was, leaves no staging file behind, and its error names the user's path, not a
staging file or the host's workspace root.

The workspace root is a small size-capped tmpfs (root only), filled from inside the session.
tmpfs counts whole 4 KiB pages, so the free space left for the last two cases is exact."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aioagb import AsyncAGB, AsyncSession, CreateSessionParams, RetryPolicy
from aioagb.server import LocalServer, ServerConfig

pytestmark = pytest.mark.timeout(120)

KEY = "disk-full-key-0123456789abcdef"
RESERVE = 64 * 1024  # freed before the last cases: 16 pages
ORIGINAL_TEXT = "the original line\n" * 1200  # 21,600 characters: one write chunk
ORIGINAL_BYTES = bytes(range(256)) * 40


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-capped tmpfs needs root")
    mount = Path(tempfile.mkdtemp(prefix="aioagb-small-disk-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0711", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)
        mount.rmdir()


@pytest.fixture
async def session(small_disk: Path) -> AsyncIterator[AsyncSession]:
    config = ServerConfig(api_keys=(KEY,), workspace_root=small_disk / "root", backend="bwrap")
    async with LocalServer(config) as server:
        agb = AsyncAGB(KEY, endpoint=server.endpoint, retry=RetryPolicy(attempts=1))
        async with agb, agb.session(CreateSessionParams(image_id="agb-code-space-2")) as made:
            yield made


def _leftovers(disk: Path) -> list[str]:
    """Staging files anywhere in the session's directories (their host view)."""
    return [
        str(path)
        for path in (disk / "root" / "sessions").rglob("*")
        if path.name.startswith(".aioagb-") or path.name.endswith(".part")
    ]


async def _fails_naming(what: object, path: str, disk: Path) -> None:
    message = getattr(what, "error_message", "")
    assert getattr(what, "success", True) is False, what
    # coreutils' base64 says only "write error" when its buffered output fails at exit.
    assert "No space left on device" in message or "write error" in message, message
    assert path in message, message
    assert ".aioagb" not in message and str(disk) not in message, message


async def test_failed_writes_on_a_full_disk_keep_the_original(
    session: AsyncSession, small_disk: Path
) -> None:
    text, binary = "/workspace/keep.txt", "/workspace/keep.bin"
    assert (await session.file.write(text, ORIGINAL_TEXT)).success
    assert (await session.file.write(binary, ORIGINAL_BYTES)).success
    fill = f"head -c {RESERVE} /dev/zero > reserve; head -c 100000000 /dev/zero > filler"
    filled = await session.command.execute(fill, timeout_ms=60_000)
    assert not filled.success and "No space left" in filled.stderr, filled

    await _fails_naming(await session.file.write(text, "new " * 10_000), text, small_disk)
    # Larger than the room left in the file's last page: part of it would fit.
    more = "more " * 1000
    await _fails_naming(await session.file.write(text, more, mode="append"), text, small_disk)
    edits = [{"oldText": "the original", "newText": "an edited " * 5_000}]
    await _fails_naming(await session.file.edit(text, edits), text, small_disk)
    await _fails_naming(await session.file.write(binary, b"\x01" * 30_000), binary, small_disk)
    await _fails_naming(
        await session.file.write(binary, b"\x01" * 5000, mode="append"), binary, small_disk
    )
    assert _leftovers(small_disk) == []

    assert (await session.command.execute("rm reserve")).success  # 16 pages free now
    # Its base64 staging (80,000 characters, two write chunks) fails at the second chunk.
    await _fails_naming(await session.file.write(binary, b"\x02" * 60_000), binary, small_disk)
    # Its staging (48,000 characters: 12 pages) fits; decoding it (9 more pages) does not.
    await _fails_naming(await session.file.write(binary, b"\x03" * 36_000), binary, small_disk)
    assert _leftovers(small_disk) == []

    assert (await session.file.read(text)).content == ORIGINAL_TEXT
    assert (await session.file.read(binary, format="bytes")).content == ORIGINAL_BYTES
    # And with room again, the same writes succeed.
    assert (await session.command.execute("rm filler")).success
    assert (await session.file.write(binary, b"\x03" * 36_000)).success
    assert (await session.file.write(text, "appended", mode="append")).success
    assert (await session.file.read(text)).content == ORIGINAL_TEXT + "appended"
    assert _leftovers(small_disk) == []
