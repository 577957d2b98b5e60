"""Helpers for the context tests: make contexts, move files through pre-signed URLs, mount
contexts in sessions, read GetContextInfo, and build sync policies like the official client."""

from __future__ import annotations

import io
import json
from typing import Any

from _support.server_app import KEY_A, Api, Reply
from aioagb import _protocol as p

# `SyncPolicy().to_dict()` of the official client (§13.6), section by section.
DEFAULT_POLICY: dict[str, dict[str, Any]] = {
    "uploadPolicy": {
        "autoUpload": True,
        "uploadStrategy": "UploadBeforeResourceRelease",
        "uploadMode": "File",
    },
    "downloadPolicy": {"autoDownload": True, "downloadStrategy": "DownloadAsync"},
    "deletePolicy": {"syncLocalFile": True},
    "extractPolicy": {"extract": True, "deleteSrcFile": True, "extractToCurrentFolder": False},
    "recyclePolicy": {"lifecycle": "Lifecycle_Forever", "paths": [""]},
    "bwList": {"whiteLists": []},
}


def policy(**sections: dict[str, Any]) -> str:
    """The policy string, with `sections` merged into the defaults (`uploadPolicy={...}`)."""
    merged = {name: dict(fields) for name, fields in DEFAULT_POLICY.items()}
    for name, fields in sections.items():
        merged.setdefault(name, {}).update(fields)
    return json.dumps(merged)


async def make_context(api: Api, name: str, key: str = KEY_A) -> str:
    reply = await api.call(
        "GET", p.PATH_GET_CONTEXT, params={"name": name, "allowCreate": "true"}, key=key
    )
    assert reply.status == 200, reply.body
    context_id: str = reply.data["id"]
    return context_id


async def file_url(
    api: Api, context_id: str, path: str, *, upload: bool, key: str = KEY_A
) -> Reply:
    route = p.PATH_GET_CONTEXT_FILE_UPLOAD_URL if upload else p.PATH_GET_CONTEXT_FILE_DOWNLOAD_URL
    return await api.call(
        "POST", route, params={"contextId": context_id, "filePath": path}, key=key
    )


async def put_file(api: Api, context_id: str, path: str, data: bytes, key: str = KEY_A) -> None:
    reply = await file_url(api, context_id, path, upload=True, key=key)
    assert reply.status == 200, reply.body
    async with api.client.session.put(reply.data["url"], data=io.BytesIO(data)) as resp:
        assert resp.status == 200, await resp.text()


async def get_file(api: Api, context_id: str, path: str, key: str = KEY_A) -> bytes:
    reply = await file_url(api, context_id, path, upload=False, key=key)
    assert reply.status == 200, reply.body
    async with api.client.session.get(reply.data["url"]) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.read()


async def list_files(
    api: Api, context_id: str, folder: str | None = None, key: str = KEY_A, **params: str
) -> list[dict[str, Any]]:
    query = {"contextId": context_id, **params}
    if folder is not None:
        query["parentFolderPath"] = folder
    reply = await api.call("POST", p.PATH_DESCRIBE_CONTEXT_FILES, params=query, key=key)
    assert reply.status == 200, reply.body
    entries: list[dict[str, Any]] = reply.data
    return entries


async def all_keys(api: Api, context_id: str, folder: str = "/") -> list[str]:
    """Every file key in the context below `folder`, walking the listing."""
    keys: list[str] = []
    for entry in await list_files(api, context_id, folder, pageSize="1000"):
        if entry["fileType"] == "folder":
            keys += await all_keys(api, context_id, entry["filePath"])
        else:
            keys.append(entry["filePath"])
    return sorted(keys)


def mount(context_id: str, path: str, policy_text: str | None = None) -> dict[str, str]:
    return {"contextId": context_id, "path": path, "policy": policy_text or policy()}


async def context_info(api: Api, session_id: str, **filters: str) -> list[dict[str, Any]]:
    reply = await api.call(
        "GET", p.PATH_GET_CONTEXT_INFO, params={"sessionId": session_id, **filters}
    )
    assert reply.status == 200, reply.body
    status = reply.data["contextStatus"]
    if not status:
        return []
    entries: list[dict[str, Any]] = []
    for item in json.loads(status):
        assert item["type"] == "data"
        entries += json.loads(item["data"])
    return entries


async def sync(api: Api, session_id: str, **params: str) -> Reply:
    return await api.call("POST", p.PATH_SYNC_CONTEXT, params={"sessionId": session_id, **params})


async def shell(api: Api, session_id: str, command: str) -> str:
    """The command's stdout (its exit code is not checked: some commands are expected to fail)."""
    text = await api.tool_text(session_id, "shell", {"command": command, "timeout_ms": 20_000})
    stdout: str = json.loads(text)["stdout"]
    return stdout
