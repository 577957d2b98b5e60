"""Issue 12: what AGB Local acknowledged about contexts survives a SIGKILL of the server, and a
gigabyte goes through a pre-signed URL in constant memory. Each test runs `aioagb serve` as a
process of its own, on a data directory of the test's."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from _support.context_wire import wire
from _support.security import killable_server
from aioagb import _protocol as p

KEY = "persistence-key-0123456789abcdef"
DATA = "/home/user/data"
MIB = 1024 * 1024


def _serve_flags(tmp_path: Path) -> tuple[str, ...]:
    return (
        "--data-dir", str(tmp_path / "data"),
        "--workspace-root", str(tmp_path / "workspaces"),
        "--backend", "bwrap",
    )  # fmt: skip


async def test_what_was_acknowledged_survives_a_sigkill(tmp_path: Path) -> None:
    flags = _serve_flags(tmp_path)
    payload = os.urandom(3 * MIB)
    async with killable_server(KEY, *flags) as (server, endpoint), wire(endpoint, KEY) as agb:
        context_id = await agb.context("durable")
        # An upload through a pre-signed URL, acknowledged with a 200...
        async with agb.http.put(await agb.url(context_id, "/blobs/payload.bin", upload=True),
                                data=io.BytesIO(payload)) as resp:  # fmt: skip
            assert resp.status == 200
        # ...and a sync from a session, acknowledged by SyncContext and reported Success.
        mounts = [{"contextId": context_id, "path": DATA, "policy": "{}"}]
        created = await agb.call(
            "POST", p.PATH_CREATE_SESSION, {"imageId": "agb-code-space-2"},
            {"persistenceDataList": mounts},
        )  # fmt: skip
        session_id = created["sessionId"]
        await agb.shell(session_id, f"mkdir -p {DATA}/d && printf synced > {DATA}/d/s.txt")
        await agb.call("POST", p.PATH_SYNC_CONTEXT, {"sessionId": session_id})
        info = await agb.call("GET", p.PATH_GET_CONTEXT_INFO, {"sessionId": session_id,
                                                               "taskType": "upload"})  # fmt: skip
        [task] = json.loads(json.loads(info["contextStatus"])[0]["data"])
        assert task["status"] == p.TASK_SUCCESS
        # Right away, no shutdown of any kind.
        server.send_signal(signal.SIGKILL)
        assert await server.wait() == -signal.SIGKILL
    # (The next server removes the cgroups the killed one could not, sandbox/cgroups.py.)

    async with killable_server(KEY, *flags) as (again, endpoint), wire(endpoint, KEY) as agb:
        assert await agb.context("durable") == context_id
        assert await agb.download(context_id, "/blobs/payload.bin") == payload
        assert await agb.download(context_id, f"{DATA}/d/s.txt") == b"synced"
        listed = await agb.call(
            "POST", p.PATH_DESCRIBE_CONTEXT_FILES, {"contextId": context_id,
                                                    "parentFolderPath": f"{DATA}/d"},
        )  # fmt: skip
        assert [e["fileName"] for e in listed] == ["s.txt"]
        # And a new session gets it where the old one left it.
        created = await agb.call(
            "POST", p.PATH_CREATE_SESSION, {"imageId": "agb-code-space-2"},
            {"persistenceDataList": [{"contextId": context_id, "path": DATA, "policy": "{}"}]},
        )  # fmt: skip
        await agb.shell(created["sessionId"], f'test "$(cat {DATA}/d/s.txt)" = synced')
        again.terminate()
        assert await again.wait() == 0


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


async def test_a_gigabyte_streams_through_in_constant_memory(tmp_path: Path) -> None:
    size, chunk = 1024 * MIB, os.urandom(MIB)
    async with killable_server(KEY, *_serve_flags(tmp_path)) as (server, endpoint):
        async with wire(endpoint, KEY) as agb:
            context_id = await agb.context("large")
            before = _peak_rss_bytes(server.pid)

            async def body() -> AsyncIterator[bytes]:
                for _ in range(size // MIB):
                    yield chunk

            url = await agb.url(context_id, "/big/gigabyte.bin", upload=True)
            async with agb.http.put(url, data=body()) as resp:
                assert resp.status == 200, await resp.text()
            digest, received = hashlib.sha256(), 0
            url = await agb.url(context_id, "/big/gigabyte.bin", upload=False)
            async with agb.http.get(url) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Length"] == str(size)
                async for part in resp.content.iter_chunked(MIB):
                    digest.update(part)
                    received += len(part)
        assert received == size
        expected = hashlib.sha256()
        for _ in range(size // MIB):
            expected.update(chunk)
        assert digest.hexdigest() == expected.hexdigest()
        # A gigabyte went in and out; the server's peak memory grew by a few chunks at most.
        grown = _peak_rss_bytes(server.pid) - before
        assert grown < 64 * MIB, f"the server's peak memory grew by {grown // MIB} MiB"
        server.terminate()
        assert await server.wait() == 0


async def test_serve_takes_its_data_dir_and_storage_quota_from_flags_and_env(
    tmp_path: Path,
) -> None:
    flags = ("--storage-quota-mb", "1", "--workspace-root", str(tmp_path / "workspaces"))
    # No --data-dir: AGB_LOCAL_DATA_DIR (every test has its own, tests/conftest.py) is used.
    env_dir = Path(os.environ["AGB_LOCAL_DATA_DIR"])
    async with killable_server(KEY, *flags) as (server, endpoint), wire(endpoint, KEY) as agb:
        context_id = await agb.context("quota")
        assert await anyio.Path(env_dir / "store.sqlite3").exists()
        url = await agb.url(context_id, "/big.bin", upload=True)
        async with agb.http.put(url, data=io.BytesIO(b"x" * (MIB + 1))) as resp:
            assert resp.status == 413
            assert (await resp.json())["code"] == "QuotaExceeded.Storage"
        async with agb.http.put(url, data=io.BytesIO(b"x" * MIB)) as resp:
            assert resp.status == 200
        server.terminate()
        assert await server.wait() == 0
    explicit = tmp_path / "explicit"
    async with killable_server(KEY, "--data-dir", str(explicit), *flags) as (server, endpoint):
        async with wire(endpoint, KEY) as agb:
            await agb.context("elsewhere")
        assert await anyio.Path(explicit / "store.sqlite3").exists()
        server.terminate()
        assert await server.wait() == 0
