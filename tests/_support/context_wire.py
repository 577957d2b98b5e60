"""The protocol's context calls, raw, for the security tests (the SDK half of contexts is
another branch's): what the official client sends, nothing cleaned up."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from aioagb import _protocol as p


class Wire:
    """The protocol's calls, raw, as the official client makes them (query parameters,
    `{}` bodies, a bearer key); pre-signed URLs without one."""

    def __init__(self, http: aiohttp.ClientSession, endpoint: str, key: str) -> None:
        self.http = http
        self.endpoint = endpoint
        self.key = key

    async def call(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        data = json.dumps({} if body is None else body) if method == "POST" else None
        headers = {"authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
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

    async def create(self, mounts: list[dict[str, str]] | None = None) -> str:
        body = {"persistenceDataList": mounts} if mounts else {}
        data = await self.call("POST", p.PATH_CREATE_SESSION, {"imageId": "agb-code-space-2"}, body)
        session_id: str = data["sessionId"]
        return session_id

    async def tool(self, session_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """A tool call's `data` (`isError` and `content`), failed or not."""
        body = {"args": json.dumps(args), "sessionId": session_id, "name": name}
        data: dict[str, Any] = await self.call(
            "POST", p.PATH_CALL_TOOL, {"autoGenSession": "false"}, body
        )
        return data

    async def shell(self, session_id: str, command: str) -> str:
        """The command's stdout; it must succeed."""
        data = await self.tool(session_id, "shell", {"command": command, "timeout_ms": 20_000})
        assert data["isError"] is False, data
        stdout: str = json.loads(data["content"][0]["text"])["stdout"]
        return stdout

    async def download(self, context_id: str, path: str) -> bytes:
        async with self.http.get(await self.url(context_id, path, upload=False)) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.read()


@contextlib.asynccontextmanager
async def wire(endpoint: str, key: str) -> AsyncIterator[Wire]:
    async with aiohttp.ClientSession() as http:
        yield Wire(http, endpoint, key)
