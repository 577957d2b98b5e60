"""Bad mounts, policies and sync requests (agb-wire.md §13.6, §13.8): a clear 400 (or 404)
envelope, and nothing made: no session, no sandbox, no task."""

from __future__ import annotations

import json

import pytest

from _support.server_app import KEY_A, KEY_B, Api, assert_error
from _support.server_contexts import context_info, make_context, mount, policy, sync
from aioagb import _protocol as p

BAD_POLICIES = [
    pytest.param("not json", "not valid JSON", id="not-json"),
    pytest.param("[1]", "must be a JSON object", id="not-an-object"),
    pytest.param(policy(uploadPolicy={"uploadMode": "Zip"}), "uploadMode", id="mode"),
    pytest.param(policy(uploadPolicy={"autoUpload": "yes"}), "autoUpload", id="flag-type"),
    pytest.param(policy(uploadPolicy={"uploadStrategy": "Later"}), "uploadStrategy", id="strategy"),
    pytest.param(policy(downloadPolicy={"downloadStrategy": "Sync"}), "downloadStrategy", id="dl"),
    pytest.param(policy(recyclePolicy={"lifecycle": "Lifecycle_7Days"}), "lifecycle", id="life"),
    pytest.param(policy(recyclePolicy={"paths": ["logs/*"]}), "wildcards", id="recycle-glob"),
    pytest.param(policy(recyclePolicy={"paths": [1]}), "paths", id="recycle-type"),
    pytest.param(
        policy(bwList={"whiteLists": [{"path": "/a*", "excludePaths": []}]}), "wildcards", id="wl"
    ),
    pytest.param(
        policy(bwList={"whiteLists": [{"path": "/a", "excludePaths": ["/b?"]}]}),
        "wildcards",
        id="exclude-glob",
    ),
    pytest.param(
        policy(bwList={"whiteLists": [{"path": "../up", "excludePaths": []}]}), "..", id="wl-up"
    ),
    pytest.param(policy(bwList={"whiteLists": ["x"]}), "must be an object", id="wl-item"),
    pytest.param(policy(mappingPolicy={"path": "relative"}), "absolute", id="mapping"),
    pytest.param(policy(mappingPolicy={"path": "/a/../../b"}), "..", id="mapping-up"),
    pytest.param(json.dumps({"extractPolicy": []}), "extractPolicy", id="section-type"),
]


@pytest.mark.parametrize(("policy_text", "why"), BAD_POLICIES)
async def test_an_invalid_policy_refuses_the_create(api: Api, policy_text: str, why: str) -> None:
    context_id = await make_context(api, "c")
    reply = await api.call(
        "POST",
        p.PATH_CREATE_SESSION,
        params={p.Q_IMAGE_ID: "agb-code-space-2"},
        body={"persistenceDataList": [mount(context_id, "/home/user/data", policy_text)]},
    )
    assert_error(reply, 400)
    assert why in reply.body["message"] and "persistenceDataList[0]" in reply.body["message"]
    assert api.backend.sandboxes == {}


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ({"path": "/home/x"}, "contextId is required"),
        ({"contextId": "", "path": "/home/x"}, "contextId must not be empty"),
        ({"contextId": "{id}"}, "path is required"),
        ({"contextId": "{id}", "path": "relative/x"}, "absolute"),
        ({"contextId": "{id}", "path": "/"}, "system directory"),
        ({"contextId": "{id}", "path": "/usr/local/data"}, "system directory"),
        ({"contextId": "{id}", "path": "/etc"}, "system directory"),
        ({"contextId": "{id}", "path": "/proc/self"}, "system directory"),
        ({"contextId": "{id}", "path": "/opt"}, "system directory"),
        ({"contextId": "{id}", "path": "/opt/agb/x"}, "system directory"),
        ({"contextId": "{id}", "path": "/home/../etc"}, ".."),
        ({"contextId": "{id}", "path": "/home/x", "policy": {"a": 1}}, "policy"),
        ({"contextId": "SdkCtx-unknown", "path": "/home/x"}, "Context not found"),
        ({"contextId": "{other}", "path": "/home/x"}, "Context not found"),
    ],
)
async def test_an_invalid_mount_refuses_the_create(
    api: Api, item: dict[str, object], why: str
) -> None:
    mine = await make_context(api, "mine")
    theirs = await make_context(api, "theirs", key=KEY_B)
    filled = {
        key: value.format(id=mine, other=theirs) if isinstance(value, str) else value
        for key, value in item.items()
    }
    reply = await api.call(
        "POST",
        p.PATH_CREATE_SESSION,
        params={p.Q_IMAGE_ID: "agb-code-space-2"},
        body={"persistenceDataList": [filled]},
    )
    assert_error(reply, 400)
    assert why in reply.body["message"], reply.body["message"]
    assert api.backend.sandboxes == {}


@pytest.mark.parametrize(
    "items",
    [
        "not-a-list",
        ["not-an-object"],
        [{"contextId": "{id}", "path": "/a"}, {"contextId": "{id}", "path": "/a/"}],  # twice
        [{"contextId": "{id}", "path": f"/m{n}"} for n in range(17)],  # too many
    ],
)
async def test_an_invalid_mount_list_refuses_the_create(api: Api, items: object) -> None:
    context_id = await make_context(api, "c")
    text = json.dumps(items).replace("{id}", context_id)
    reply = await api.call(
        "POST",
        p.PATH_CREATE_SESSION,
        params={p.Q_IMAGE_ID: "agb-code-space-2"},
        body={"persistenceDataList": json.loads(text)},
    )
    assert_error(reply, 400)
    assert api.backend.sandboxes == {}


async def test_a_policy_of_none_or_an_empty_one_takes_the_defaults(api: Api) -> None:
    context_id = await make_context(api, "defaults")
    session_id = await api.create(
        persistenceDataList=[
            {"contextId": context_id, "path": "/home/a"},
            {"contextId": context_id, "path": "/home/b", "policy": ""},
            {"contextId": context_id, "path": "/home/c", "policy": "{}"},
        ]
    )
    entries = await context_info(api, session_id)
    assert sorted(e["path"] for e in entries) == ["/home/a", "/home/b", "/home/c"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"contextId": "{id}"}, 400),  # a context without a path
        ({"path": "/home/a"}, 400),  # a path without a context
        ({"contextId": "{id}", "path": "relative"}, 400),
        ({"contextId": "{id}", "path": "/a/../b"}, 400),
        ({"mode": "sideways"}, 400),
        ({"contextId": "SdkCtx-unknown", "path": "/workspace"}, 404),
        ({"contextId": "{other}", "path": "/workspace"}, 404),
    ],
)
async def test_sync_refuses_bad_requests_and_records_no_task(
    api: Api, params: dict[str, str], status: int
) -> None:
    mine = await make_context(api, "mine")
    theirs = await make_context(api, "theirs", key=KEY_B)
    session_id = await api.create()
    filled = {k: v.format(id=mine, other=theirs) for k, v in params.items()}
    assert_error(await sync(api, session_id, **filled), status)
    assert await context_info(api, session_id) == []


async def test_session_context_routes_answer_not_found_for_other_sessions(api: Api) -> None:
    session_id = await api.create()
    for method, path in [
        ("POST", p.PATH_SYNC_CONTEXT),
        ("GET", p.PATH_GET_CONTEXT_INFO),
        ("POST", p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT),
    ]:
        for session, key in [(session_id, KEY_B), ("session-unknown", None)]:
            reply = await api.call(method, path, params={"sessionId": session}, key=key or KEY_A)
            assert_error(reply, 400, p.CODE_SESSION_NOT_FOUND)


@pytest.mark.parametrize("types", ["not json", '{"a": 1}', "[1]"])
async def test_internal_context_types_must_be_a_list_of_strings(api: Api, types: str) -> None:
    session_id = await api.create()
    reply = await api.call(
        "POST",
        p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT,
        params={"sessionId": session_id, "contextTypes": types},
    )
    assert_error(reply, 400)
