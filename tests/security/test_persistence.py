"""Issue 12: what AGB Local acknowledged about contexts survives a SIGKILL of the server, and a
gigabyte goes through a pre-signed URL in constant memory. Each test runs `aioagb serve` as a
process of its own, on a data directory of the test's."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from security_helpers import killable_server

from aioagb import _protocol as p

KEY = "persistence-key-0123456789abcdef"
DATA = "/home/user/data"
MIB = 1024 * 1024


class Wire:
    """The protocol's calls, raw, as the official client makes them (query parameters,
    `{}` bodies, a bearer key); pre-signed URLs without one."""

    def __init__(self, http: aiohttp.ClientSession, endpoint: str) -> None:
        self.http = http
        self.endpoint = endpoint

    async def call(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        data = json.dumps({} if body is None else body) if method == "POST" else None
        headers = {"authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        async with self.http.request(
            method, self.endpoint + path, params=params, data=data, headers=headers
        ) as resp:
            envelope = await resp.json(content_type=None)
            assert resp.status == 200 and envelope["success"] is True, envelope
            return envelope["data"]

    async def context(self, name: str) -> str:
        data = await self.call("GET", p.PATH_GET_CONTEXT, {"name": name, "allowCreate": "true"})
        context_id: str = data["id"]
        return context_id

    async def url(self, context_id: str, path: str, *, upload: bool) -> str:
        route = (
            p.PATH_GET_CONTEXT_FILE_UPLOAD_URL if upload else p.PATH_GET_CONTEXT_FILE_DOWNLOAD_URL
        )
        data = await self.call("POST", route, {"contextId": context_id, "filePath": path})
        url: str = data["url"]
        return url

    async def shell(self, session_id: str, command: str) -> None:
        args = json.dumps({"command": command, "timeout_ms": 20_000})
        body = {"args": args, "sessionId": session_id, "name": "shell"}
        data = await self.call("POST", p.PATH_CALL_TOOL, {"autoGenSession": "false"}, body)
        assert data["isError"] is False, data

    async def download(self, context_id: str, path: str) -> bytes:
        async with self.http.get(await self.url(context_id, path, upload=False)) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.read()


@contextlib.asynccontextmanager
async def wire(endpoint: str) -> AsyncIterator[Wire]:
    async with aiohttp.ClientSession() as http:
        yield Wire(http, endpoint)


def _serve_flags(tmp_path: Path) -> tuple[str, ...]:
    return (
        "--data-dir", str(tmp_path / "data"),
        "--workspace-root", str(tmp_path / "workspaces"),
        "--backend", "bwrap",
    )  # fmt: skip


def _remove_cgroups_of(pid: int) -> None:
    """A SIGKILLed server could not remove its (now empty) cgroups: do it for it."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, own = line.split(":", 2)
        for controller in {"memory", "pids"} & set(names.split(",")):
            base = Path("/sys/fs/cgroup", controller) / own.lstrip("/")
            for group in base.glob(f"aioagb-{pid}-*"):
                for child in sorted(group.glob("*/"), reverse=True):
                    with contextlib.suppress(OSError):
                        child.rmdir()
                with contextlib.suppress(OSError):
                    group.rmdir()


async def test_what_was_acknowledged_survives_a_sigkill(tmp_path: Path) -> None:
    flags = _serve_flags(tmp_path)
    payload = os.urandom(3 * MIB)
    async with killable_server(KEY, *flags) as (server, endpoint), wire(endpoint) as agb:
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
    await anyio.to_thread.run_sync(_remove_cgroups_of, server.pid)

    async with killable_server(KEY, *flags) as (again, endpoint), wire(endpoint) as agb:
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
        async with wire(endpoint) as agb:
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
