"""Context routes (agb-wire.md §13.1-§13.4): get-or-create, get by id and name, list with its
pagination keys beside `data`, rename, delete, clear and its status flow, and tenancy."""

from __future__ import annotations

from pathlib import Path

import pytest

from _support.server_app import KEY_A, KEY_B, Api, assert_error, make_config, start_api
from _support.server_contexts import get_file, list_files, make_context, put_file
from aioagb import _protocol as p
from aioagb.server.state import STATE

NOT_FOUND = "InvalidContext.NotFound"


async def test_get_with_allow_create_is_get_or_create(api: Api) -> None:
    first = await api.call(
        "GET", p.PATH_GET_CONTEXT, params={"name": " ctx-a ", "allowCreate": "true"}
    )
    assert first.status == 200 and first.body["success"] is True
    data = first.data
    assert data["id"].startswith("SdkCtx-")
    assert data["name"] == "ctx-a"  # trimmed, as the official client trims it
    assert data["state"] == p.CONTEXT_AVAILABLE
    assert data["createTime"].endswith("Z") and data["lastUsedTime"]
    again = await api.call(
        "GET", p.PATH_GET_CONTEXT, params={"name": "ctx-a", "allowCreate": "true"}
    )
    assert again.data["id"] == data["id"]  # the same name always gives the same context
    by_id = await api.call(
        "GET", p.PATH_GET_CONTEXT, params={"id": data["id"], "allowCreate": "false"}
    )
    assert by_id.data == data
    by_name = await api.call(
        "GET", p.PATH_GET_CONTEXT, params={"name": "ctx-a", "loginRegionId": "us-west-1"}
    )
    assert by_name.data["id"] == data["id"]


async def test_get_unknown_context_is_a_404_and_creates_nothing(api: Api) -> None:
    for params in ({"name": "nope", "allowCreate": "false"}, {"id": "SdkCtx-nope"}):
        assert_error(await api.call("GET", p.PATH_GET_CONTEXT, params=params), 404, NOT_FOUND)
    listed = await api.call("GET", p.PATH_LIST_CONTEXTS)
    assert listed.data == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"allowCreate": "true"},
        {"name": "   ", "allowCreate": "true"},
        {"name": "x", "allowCreate": "maybe"},
        {"name": "bad\nname", "allowCreate": "true"},
        {"name": "n" * 256, "allowCreate": "true"},
    ],
)
async def test_get_refuses_bad_parameters(api: Api, params: dict[str, str]) -> None:
    assert_error(await api.call("GET", p.PATH_GET_CONTEXT, params=params), 400)
    assert (await api.call("GET", p.PATH_LIST_CONTEXTS)).data == []


async def test_list_pages_with_the_keys_beside_data(api: Api) -> None:
    made = [await make_context(api, f"ctx-{n}") for n in range(5)]
    first = await api.call("GET", p.PATH_LIST_CONTEXTS, params={"maxResults": "2"})
    # §13.2: an array in `data` (what the official client reads); the pagination keys at the
    # top level, where a client that can paginate finds them.
    assert [c["id"] for c in first.data] == made[:2]
    assert first.body[p.KEY_MAX_RESULTS] == 2 and first.body[p.KEY_TOTAL_COUNT] == 5
    token = first.body[p.KEY_NEXT_TOKEN]
    assert token
    second = await api.call(
        "GET", p.PATH_LIST_CONTEXTS, params={"maxResults": "2", "nextToken": token}
    )
    assert [c["id"] for c in second.data] == made[2:4]
    last = await api.call(
        "GET",
        p.PATH_LIST_CONTEXTS,
        params={"maxResults": "2", "nextToken": second.body["nextToken"]},
    )
    assert [c["id"] for c in last.data] == made[4:]
    assert last.body[p.KEY_NEXT_TOKEN] == ""
    everything = await api.call("GET", p.PATH_LIST_CONTEXTS)
    assert everything.body[p.KEY_MAX_RESULTS] == p.DEFAULT_CONTEXT_LIST_LIMIT
    assert len(everything.data) == 5
    # A token is bound to the key that got it, and a forged one is refused.
    foreign = await api.call("GET", p.PATH_LIST_CONTEXTS, params={"nextToken": token}, key=KEY_B)
    assert_error(foreign, 400, "InvalidParameter.NextToken")
    assert_error(await api.call("GET", p.PATH_LIST_CONTEXTS, params={"nextToken": "x"}), 400)
    assert_error(await api.call("GET", p.PATH_LIST_CONTEXTS, params={"maxResults": "0"}), 400)


async def test_modify_renames_and_keeps_names_unique(api: Api) -> None:
    a = await make_context(api, "a")
    await make_context(api, "b")
    renamed = await api.call("POST", p.PATH_MODIFY_CONTEXT, params={"id": a, "name": "a2"})
    assert renamed.status == 200
    got = await api.call("GET", p.PATH_GET_CONTEXT, params={"id": a})
    assert got.data["name"] == "a2"
    clash = await api.call("POST", p.PATH_MODIFY_CONTEXT, params={"id": a, "name": "b"})
    assert_error(clash, 409, "InvalidContext.NameConflict")
    assert_error(await api.call("POST", p.PATH_MODIFY_CONTEXT, params={"id": a, "name": " "}), 400)
    assert_error(await api.call("POST", p.PATH_MODIFY_CONTEXT, params={"name": "z"}), 400)
    missing = await api.call("POST", p.PATH_MODIFY_CONTEXT, params={"id": "SdkCtx-x", "name": "z"})
    assert_error(missing, 404, NOT_FOUND)


async def test_delete_removes_the_context_and_its_files(api: Api) -> None:
    context_id = await make_context(api, "doomed")
    await put_file(api, context_id, "/data/a.txt", b"a")
    store = api.app[STATE].persistence.store
    blobs_before = len(list(store.blobs.sealed_ids()))
    assert (await api.call("POST", p.PATH_DELETE_CONTEXT, params={"id": context_id})).status == 200
    assert_error(await api.call("GET", p.PATH_GET_CONTEXT, params={"id": context_id}), 404)
    again = await api.call("POST", p.PATH_DELETE_CONTEXT, params={"id": context_id})
    assert_error(again, 404, NOT_FOUND)
    await store.run(store.maintain)
    assert len(list(store.blobs.sealed_ids())) == blobs_before - 1
    # The name is free again, for a new context with a new id.
    assert await make_context(api, "doomed") != context_id


async def test_clear_drops_every_file_and_reports_clearing_then_available(api: Api) -> None:
    context_id = await make_context(api, "to-clear")
    await put_file(api, context_id, "/x/1.txt", b"1")
    await put_file(api, context_id, "/x/2.txt", b"2")
    store = api.app[STATE].persistence.store
    cleared = await api.call("POST", p.PATH_CLEAR_CONTEXT, params={"id": context_id})
    assert cleared.status == 200
    assert await list_files(api, context_id, "/x") == []
    await store.run(store.maintain)
    state = await api.call(
        "GET", p.PATH_GET_CONTEXT, params={"id": context_id, "allowCreate": "false"}
    )
    assert state.data["state"] == p.CONTEXT_AVAILABLE
    assert state.data["name"] == "to-clear"  # same id and name: only the files went
    # Clearing an empty context succeeds, and the context stays usable.
    assert (await api.call("POST", p.PATH_CLEAR_CONTEXT, params={"id": context_id})).status == 200
    await put_file(api, context_id, "/x/3.txt", b"3")
    assert await get_file(api, context_id, "/x/3.txt") == b"3"
    missing = await api.call("POST", p.PATH_CLEAR_CONTEXT, params={"id": "SdkCtx-missing"})
    assert_error(missing, 404, NOT_FOUND)


async def test_clearing_state_lasts_until_the_files_are_gone(tmp_path: Path) -> None:
    # Upkeep that never runs on its own (a day apart): the state stays `clearing` until it
    # runs, which is what a client polling GetContext sees while a large clear is under way.
    api = await start_api(tmp_path, make_config(store_maintenance_interval_s=86_400.0))
    try:
        context_id = await make_context(api, "slow")
        await put_file(api, context_id, "/f.txt", b"f")
        persistence = api.app[STATE].persistence
        persistence.maintenance.poke = lambda: None  # type: ignore[method-assign]
        await api.call("POST", p.PATH_CLEAR_CONTEXT, params={"id": context_id})
        state = await api.call("GET", p.PATH_GET_CONTEXT, params={"id": context_id})
        assert state.data["state"] == p.CONTEXT_CLEARING
        await persistence.store.run(persistence.store.maintain)
        state = await api.call("GET", p.PATH_GET_CONTEXT, params={"id": context_id})
        assert state.data["state"] == p.CONTEXT_AVAILABLE
    finally:
        await api.client.close()


CONTEXT_ROUTES = [
    ("GET", p.PATH_GET_CONTEXT, {"id": "{id}"}),
    ("POST", p.PATH_MODIFY_CONTEXT, {"id": "{id}", "name": "stolen"}),
    ("POST", p.PATH_DELETE_CONTEXT, {"id": "{id}"}),
    ("POST", p.PATH_CLEAR_CONTEXT, {"id": "{id}"}),
    ("POST", p.PATH_DESCRIBE_CONTEXT_FILES, {"contextId": "{id}"}),
    ("POST", p.PATH_GET_CONTEXT_FILE_UPLOAD_URL, {"contextId": "{id}", "filePath": "/f"}),
    ("POST", p.PATH_GET_CONTEXT_FILE_DOWNLOAD_URL, {"contextId": "{id}", "filePath": "/f"}),
    ("POST", p.PATH_DELETE_CONTEXT_FILE, {"contextId": "{id}", "filePath": "/f"}),
]


@pytest.mark.parametrize(("method", "path", "params"), CONTEXT_ROUTES)
async def test_another_keys_context_does_not_exist(
    api: Api, method: str, path: str, params: dict[str, str]
) -> None:
    context_id = await make_context(api, "private")
    await put_file(api, context_id, "/f", b"secret")
    filled = {k: v.format(id=context_id) for k, v in params.items()}
    assert_error(await api.call(method, path, params=filled, key=KEY_B), 404, NOT_FOUND)
    # Same names per key are separate contexts.
    assert await make_context(api, "private", key=KEY_B) != context_id
    assert (await api.call("GET", p.PATH_LIST_CONTEXTS, key=KEY_B)).body[p.KEY_TOTAL_COUNT] == 1
    # Nothing changed for the owner.
    assert await get_file(api, context_id, "/f", key=KEY_A) == b"secret"
    owner = await api.call("GET", p.PATH_GET_CONTEXT, params={"id": context_id})
    assert owner.data["name"] == "private"


@pytest.mark.parametrize(("method", "path", "params"), CONTEXT_ROUTES)
async def test_context_routes_need_an_api_key(
    api: Api, method: str, path: str, params: dict[str, str]
) -> None:
    filled = {k: v.format(id="SdkCtx-x") for k, v in params.items()}
    assert_error(await api.call(method, path, params=filled, key=None), 401)
    assert_error(await api.call(method, path, params=filled, key="wrong"), 401)
