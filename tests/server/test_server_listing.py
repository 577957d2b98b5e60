"""ListSession pagination and label filters, Set/GetLabel, and tenant isolation."""

from __future__ import annotations

import json

import pytest

from _support.server_app import KEY_A, KEY_B, Api, assert_error
from aioagb import _protocol as p


async def list_page(
    api: Api,
    labels: dict[str, str] | None = None,
    limit: int | None = 10,
    token: str | None = None,
    key: str = KEY_A,
) -> tuple[list[str], str, int]:
    params = {"labels": json.dumps(labels or {})}
    if limit is not None:
        params["maxResults"] = str(limit)
    if token is not None:
        params["nextToken"] = token
    reply = await api.call("GET", p.PATH_LIST_SESSIONS, params=params, key=key)
    assert reply.status == 200, reply.body
    assert reply.body["maxResults"] == (limit or 10)
    ids = [item["sessionId"] for item in reply.data]
    assert all(item["sessionStatus"] == "RUNNING" for item in reply.data)
    return ids, reply.body["nextToken"], reply.body["count"]


async def test_pages_walk_every_match_once_and_end_with_an_empty_token(api: Api) -> None:
    created = [await api.create(labels=json.dumps({"batch": "x"})) for _ in range(5)]
    await api.create(labels=json.dumps({"batch": "y"}))
    seen, token, pages = [], None, 0
    while True:
        ids, token, count = await list_page(api, {"batch": "x"}, 2, token)
        assert count == 5
        seen += ids
        pages += 1
        if not token:
            break
    assert seen == created and pages == 3


async def test_exact_page_boundary_has_no_extra_token(api: Api) -> None:
    for _ in range(4):
        await api.create()
    ids, token, _ = await list_page(api, limit=2)
    ids2, token2, _ = await list_page(api, limit=2, token=token)
    assert len(ids) == len(ids2) == 2 and token and token2 == ""


async def test_release_between_pages_neither_skips_nor_repeats(api: Api) -> None:
    created = [await api.create() for _ in range(4)]
    first, token, _ = await list_page(api, limit=2)
    await api.call("POST", p.PATH_RELEASE_ASYNC, body={"sessionId": created[0]})
    rest, token, count = await list_page(api, limit=2, token=token)
    assert first + rest == created and count == 3 and token == ""


async def test_labels_filter_is_an_and_subset(api: Api) -> None:
    dev = await api.create(labels=json.dumps({"project": "p1", "env": "dev"}))
    prod = await api.create(labels=json.dumps({"project": "p1", "env": "prod"}))
    plain = await api.create()
    assert (await list_page(api, {"project": "p1"}))[0] == [dev, prod]
    assert (await list_page(api, {"project": "p1", "env": "dev"}))[0] == [dev]
    assert (await list_page(api, {"project": "p2"}))[0] == []
    assert (await list_page(api, {}))[0] == [dev, prod, plain]


async def test_default_and_capped_page_size(api: Api) -> None:
    for _ in range(12):
        await api.create()
    ids, token, count = await list_page(api, limit=None)
    assert len(ids) == 10 and token and count == 12
    reply = await api.call("GET", p.PATH_LIST_SESSIONS, params={"maxResults": "100000"})
    assert reply.body["maxResults"] == 100 and len(reply.data) == 12


@pytest.mark.parametrize(
    "params",
    [
        {"maxResults": "ten"},
        {"maxResults": "0"},
        {"labels": "not json"},
        {"labels": "[]"},
        {"labels": json.dumps({"a": 1})},
        {"nextToken": "garbage"},
        {"nextToken": "djEuMS4wMDA"},
    ],
)
async def test_bad_list_parameters_get_400(api: Api, params: dict[str, str]) -> None:
    assert_error(await api.call("GET", p.PATH_LIST_SESSIONS, params=params), 400)


async def test_tokens_are_bound_to_tenant_and_filter(api: Api) -> None:
    for _ in range(3):
        await api.create(labels=json.dumps({"t": "1"}))
    _, token, _ = await list_page(api, {"t": "1"}, 1)
    other_tenant = {"labels": json.dumps({"t": "1"}), "maxResults": "1", "nextToken": token}
    reply = await api.call("GET", p.PATH_LIST_SESSIONS, params=other_tenant, key=KEY_B)
    assert_error(reply, 400, "InvalidParameter.NextToken")
    other_filter = {"labels": "{}", "maxResults": "1", "nextToken": token}
    assert_error(await api.call("GET", p.PATH_LIST_SESSIONS, params=other_filter), 400)


async def test_set_labels_replaces_and_get_labels_is_a_json_string(api: Api) -> None:
    session_id = await api.create(labels=json.dumps({"old": "1", "keep": "x"}))
    labels = json.dumps({"keep": "y", "new": "a b"})
    reply = await api.call(
        "POST", p.PATH_SET_LABELS, params={"sessionId": session_id, "Labels": labels}
    )
    assert reply.status == 200 and reply.body["success"] is True
    got = await api.call("GET", p.PATH_GET_LABELS, params={"sessionId": session_id})
    assert isinstance(got.data["labels"], str)
    assert json.loads(got.data["labels"]) == {"keep": "y", "new": "a b"}
    assert (await list_page(api, {"old": "1"}))[0] == []
    assert (await list_page(api, {"new": "a b"}))[0] == [session_id]


async def test_get_labels_of_an_unlabelled_session(api: Api) -> None:
    session_id = await api.create()
    got = await api.call("GET", p.PATH_GET_LABELS, params={"sessionId": session_id})
    assert got.data == {"labels": "{}"}


@pytest.mark.parametrize(
    "labels", [None, "", "{}", "not json", json.dumps({"a": ""}), json.dumps({"a": 2})]
)
async def test_set_labels_refuses_bad_labels(api: Api, labels: str | None) -> None:
    session_id = await api.create()
    params = {"sessionId": session_id}
    if labels is not None:
        params["Labels"] = labels
    assert_error(await api.call("POST", p.PATH_SET_LABELS, params=params), 400)


async def test_lower_case_labels_parameter_is_not_set_label(api: Api) -> None:
    session_id = await api.create()
    params = {"sessionId": session_id, "labels": json.dumps({"a": "b"})}
    assert_error(await api.call("POST", p.PATH_SET_LABELS, params=params), 400)


async def test_another_key_cannot_see_or_touch_a_session(api: Api) -> None:
    mine = await api.create(labels=json.dumps({"owner": "a"}))
    theirs = await api.create(key=KEY_B, labels=json.dumps({"owner": "b"}))
    assert (await list_page(api, key=KEY_A))[0] == [mine]
    assert (await list_page(api, key=KEY_B))[0] == [theirs]
    assert (await list_page(api, {"owner": "a"}, key=KEY_B))[0] == []
    by_body = [p.PATH_GET_SESSION, p.PATH_GET_SESSION_INFO, p.PATH_GET_MCP_RESOURCE]
    for path in by_body:
        reply = await api.call("POST", path, body={"sessionId": mine}, key=KEY_B)
        assert_error(reply, 400, p.CODE_SESSION_NOT_FOUND)
    for method, path in (("GET", p.PATH_GET_LABELS), ("POST", p.PATH_KEEP_ALIVE)):
        reply = await api.call(method, path, params={"sessionId": mine}, key=KEY_B)
        assert_error(reply, 400, p.CODE_SESSION_NOT_FOUND)
    params = {"sessionId": mine, "Labels": json.dumps({"owner": "b"})}
    assert_error(await api.call("POST", p.PATH_SET_LABELS, params=params, key=KEY_B), 400)
    tool = await api.tool(mine, "shell", {"command": "echo hi"}, key=KEY_B)
    assert_error(tool, 400, p.CODE_SESSION_NOT_FOUND)
    assert api.backend.sandboxes[mine].calls == []
    for release in (p.PATH_RELEASE_ASYNC, p.PATH_RELEASE):
        reply = await api.call("POST", release, body={"sessionId": mine}, key=KEY_B)
        assert_error(reply, 400, p.CODE_SESSION_NOT_FOUND)
    assert not api.backend.sandboxes[mine].closed
    # ...and the owner still has it, labels unchanged.
    got = await api.call("GET", p.PATH_GET_LABELS, params={"sessionId": mine})
    assert json.loads(got.data["labels"]) == {"owner": "a"}
