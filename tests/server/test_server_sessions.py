"""Session routes: create, get, status, release, keep-alive, resource and context info, links."""

from __future__ import annotations

import json

import pytest

from _support.server_app import Api, assert_error
from aioagb import _protocol as p

SESSION_SCOPED = [
    ("POST", p.PATH_GET_SESSION, "body"),
    ("POST", p.PATH_GET_SESSION_INFO, "body"),
    ("POST", p.PATH_SET_LABELS, "query"),
    ("GET", p.PATH_GET_LABELS, "query"),
    ("POST", p.PATH_RELEASE_ASYNC, "body"),
    ("POST", p.PATH_RELEASE, "body"),
    ("POST", p.PATH_KEEP_ALIVE, "query"),
    ("POST", p.PATH_GET_MCP_RESOURCE, "body"),
    ("GET", p.PATH_GET_CONTEXT_INFO, "query"),
    ("GET", p.PATH_GET_LINK, "query"),
    ("POST", p.PATH_CALL_TOOL, "tool"),
]


async def session_call(api: Api, method: str, path: str, where: str, session_id: str, key: str):  # type: ignore[no-untyped-def]
    if where == "body":
        return await api.call(method, path, body={"sessionId": session_id}, key=key)
    if where == "tool":
        return await api.tool(session_id, "shell", {"command": "true"}, key=key)
    params = {"sessionId": session_id}
    if path == p.PATH_SET_LABELS:
        params["Labels"] = json.dumps({"a": "b"})
    return await api.call(method, path, params=params, key=key)


@pytest.mark.parametrize(
    "image",
    ["code_latest", "agb-code-space-1", "agb-code-space-2", "agb-browser-use-1",
     "agb-computer-use-ubuntu-2204"],
)  # fmt: skip
async def test_create_accepts_the_cloud_image_ids(api: Api, image: str) -> None:
    reply = await api.call("POST", p.PATH_CREATE_SESSION, params={p.Q_IMAGE_ID: image})
    assert reply.status == 200
    data = reply.data
    assert data["sessionId"].startswith("session-")
    assert data["success"] is True
    assert "resourceId=" in data["resourceUrl"]
    assert data["appInstanceId"] and data["resourceId"]
    # The streaming channel (§5.2), but no linkUrl or toolList: the official client then
    # keeps its tool calls on POST /mcp (§5.3).
    assert not {"linkUrl", "toolList"} & set(data)
    assert data[p.KEY_WS_URL].startswith("ws://") and data[p.KEY_WS_URL].endswith(data["sessionId"])
    assert data[p.KEY_TOKEN]


@pytest.mark.parametrize("image", ["", "  ", "ubuntu", "agb-code-space-", "code_latest2"])
async def test_create_refuses_unknown_images(api: Api, image: str) -> None:
    reply = await api.call("POST", p.PATH_CREATE_SESSION, params={p.Q_IMAGE_ID: image})
    assert_error(reply, 400)
    assert api.backend.sandboxes == {}


@pytest.mark.parametrize(
    "body",
    [
        {"labels": {"a": "b"}},  # an object, not a JSON string
        {"labels": "not json"},
        {"labels": "[1]"},
        {"labels": json.dumps({"a": 1})},
        {"timeout": "60"},
        {"timeout": True},
        {"timeout": -5},
        {"mcpPolicyId": 3},
        {"persistenceDataList": "x"},
    ],
)
async def test_create_refuses_malformed_fields(api: Api, body: dict[str, object]) -> None:
    reply = await api.call(
        "POST", p.PATH_CREATE_SESSION, params={p.Q_IMAGE_ID: "code_latest"}, body=body
    )
    assert_error(reply, 400, "InvalidParameter")


async def test_create_takes_labels_policy_timeout_and_persistence(api: Api) -> None:
    made = await api.call("GET", p.PATH_GET_CONTEXT, params={"name": "c", "allowCreate": "true"})
    context_id = made.data["id"]
    session_id = await api.create(
        labels=json.dumps({"project": "p1", "env": "dev"}),
        mcpPolicyId="pol-1",
        timeout=120,
        persistenceDataList=[{"contextId": context_id, "path": "/x", "policy": "{}"}],
    )
    labels = await api.call("GET", p.PATH_GET_LABELS, params={"sessionId": session_id})
    assert json.loads(labels.data["labels"]) == {"project": "p1", "env": "dev"}
    context = await api.call("GET", p.PATH_GET_CONTEXT_INFO, params={"sessionId": session_id})
    [item] = json.loads(context.data["contextStatus"])
    [task] = json.loads(item["data"])
    assert (task["contextId"], task["path"], task["taskType"], task["status"]) == (
        context_id,
        "/x",
        "download",
        "Success",
    )


async def test_get_session_and_status_and_resource(api: Api) -> None:
    session_id = await api.create()
    got = await api.call("POST", p.PATH_GET_SESSION, body={"sessionId": session_id})
    assert got.status == 200 and got.body["code"] == "ok"
    assert got.data["sessionId"] == session_id
    assert got.data["status"] == "RUNNING"
    assert "resourceId=" in got.data["resourceUrl"]
    status = await api.call("POST", p.PATH_GET_SESSION_INFO, body={"sessionId": session_id})
    assert status.data["status"] == "RUNNING"
    resource = await api.call("POST", p.PATH_GET_MCP_RESOURCE, body={"sessionId": session_id})
    assert resource.status == 200
    assert resource.data["sessionId"] == session_id and resource.data["resourceUrl"]


@pytest.mark.parametrize("release", [p.PATH_RELEASE_ASYNC, p.PATH_RELEASE])
async def test_release_ends_the_sandbox_and_everything_is_not_found_after(
    api: Api, release: str
) -> None:
    session_id = await api.create()
    sandbox = api.backend.sandboxes[session_id]
    reply = await api.call("POST", release, body={"sessionId": session_id})
    assert reply.status == 200 and reply.body["success"] is True
    assert sandbox.closed
    for method, path, where in SESSION_SCOPED:
        after = await session_call(api, method, path, where, session_id, key="key-for-tenant-a")
        assert_error(after, 400, p.CODE_SESSION_NOT_FOUND)
        assert "not found" in after.body["message"].lower()
    listed = await api.call("GET", p.PATH_LIST_SESSIONS)
    assert listed.data == [] and listed.body["count"] == 0


async def test_unknown_session_is_not_found_everywhere(api: Api) -> None:
    for method, path, where in SESSION_SCOPED:
        reply = await session_call(api, method, path, where, "session-nope", "key-for-tenant-a")
        assert_error(reply, 400, p.CODE_SESSION_NOT_FOUND)


async def test_keep_alive_answers_and_get_link_gives_a_link_of_the_session(api: Api) -> None:
    session_id = await api.create()
    alive = await api.call("POST", p.PATH_KEEP_ALIVE, params={"sessionId": session_id})
    assert alive.status == 200 and alive.body["success"] is True
    for path in (p.PATH_GET_LINK, p.PATH_GET_LINK_ASYNC):
        link = await api.call("GET", path, params={"sessionId": session_id, "port": "30100"})
        assert link.status == 200, link.body
        assert f"/agb-local/link/{session_id}/30100/" in link.body["data"]["url"]
    for params in ({}, {"port": "0"}, {"port": "x"}, {"port": "80", "protocolType": "ftp"}):
        refused = await api.call("GET", p.PATH_GET_LINK, params={"sessionId": session_id, **params})
        assert_error(refused, 400, "InvalidParameter")
