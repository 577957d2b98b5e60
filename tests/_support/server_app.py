"""Helpers for the HTTP-layer tests: AGB Local's app on aiohttp's test server, with a fake
backend.

`api` sends requests the way the official client does (lower-case `authorization`, a JSON
body on every POST) and returns status, envelope and headers.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from _support.fake_sandbox import FakeBackend
from aioagb import _protocol as p
from aioagb.server import ServerConfig, build_app
from aioagb.server.auth import KeyRing

ENVELOPE_KEYS = {"success", "code", "message", "httpStatusCode", "requestId", "data"}

KEY_A = "key-for-tenant-a"
KEY_B = "key-for-tenant-b"

Client = TestClient[web.Request, web.Application]


@attrs.frozen
class Reply:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]

    @property
    def data(self) -> Any:
        return self.body[p.KEY_DATA]


@attrs.define
class Api:
    client: Client
    backend: Any  # FakeBackend, or a real LocalBackend for the sync tests

    @property
    def app(self) -> web.Application:
        return self.client.server.app  # type: ignore[no-any-return]

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        raw: str | bytes | io.BytesIO | None = None,
        params: Mapping[str, str] | None = None,
        key: str | None = KEY_A,
    ) -> Reply:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["authorization"] = f"Bearer {key}"
        data: object = raw
        if data is None and method == "POST":
            data = json.dumps({} if body is None else body)
        if path.startswith("//"):
            # What an endpoint with a trailing slash produces; the test client refuses it.
            base = str(self.client.make_url("/")).rstrip("/")
            url = URL(base + path, encoded=True)
            resp = await self.client.session.request(method, url, data=data, headers=headers)
        else:
            resp = await self.client.request(
                method, path, data=data, params=params, headers=headers
            )
        payload = await resp.json(content_type=None)
        return Reply(resp.status, payload, resp.headers)

    async def create(
        self, image: str = "agb-code-space-2", *, key: str = KEY_A, **body: object
    ) -> str:
        reply = await self.call(
            "POST", p.PATH_CREATE_SESSION, params={p.Q_IMAGE_ID: image}, body=body, key=key
        )
        assert reply.status == 200, reply.body
        session_id: str = reply.data["sessionId"]
        return session_id

    async def tool(
        self, session_id: str, name: str, args: Mapping[str, object], *, key: str = KEY_A
    ) -> Reply:
        body = {"args": json.dumps(args), "sessionId": session_id, "name": name}
        return await self.call(
            "POST", p.PATH_CALL_TOOL, params={p.Q_AUTO_GEN_SESSION: "false"}, body=body, key=key
        )

    async def tool_text(self, session_id: str, name: str, args: Mapping[str, object]) -> str:
        reply = await self.tool(session_id, name, args)
        assert reply.status == 200, reply.body
        assert reply.data["isError"] is False, reply.data
        text: str = reply.data["content"][0]["text"]
        return text


def make_config(**overrides: Any) -> ServerConfig:
    return ServerConfig(**{"api_keys": (KEY_A, KEY_B), **overrides})


async def start_api(tmp_path: Path, config: ServerConfig, backend: Any = None) -> Api:
    backend = backend or FakeBackend(tmp_path / "workspaces")
    app = build_app(config, KeyRing(config.api_keys), backend)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    return Api(client, backend)


def assert_error(reply: Reply, status: int, code: str | None = None) -> None:
    assert reply.status == status, reply.body
    assert set(reply.body) == ENVELOPE_KEYS
    assert reply.body["success"] is False
    assert reply.body["httpStatusCode"] == status
    assert reply.body["message"]
    assert reply.body["requestId"]
    assert reply.body["data"] is None
    assert reply.headers[p.HEADER_REQUEST_ID] == reply.body["requestId"]
    if code is not None:
        assert reply.body["code"] == code
