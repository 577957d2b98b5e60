"""Context files (agb-wire.md §13.5): keys, folder listings, deletes, and bad paths refused
with nothing written."""

from __future__ import annotations

import pytest

from _support.server_app import Api, assert_error
from _support.server_contexts import (
    all_keys,
    file_url,
    get_file,
    list_files,
    make_context,
    put_file,
)
from aioagb import _protocol as p
from aioagb.server.state import STATE


async def test_listing_shows_the_entries_directly_in_a_folder(api: Api) -> None:
    context_id = await make_context(api, "files")
    await put_file(api, context_id, "/tmp/a.txt", b"aaa")
    await put_file(api, context_id, "/tmp/sub/b.txt", b"bb")
    await put_file(api, context_id, "/tmp/sub/deeper/c.txt", b"c")
    await put_file(api, context_id, "/home/d.txt", b"d")
    root = await list_files(api, context_id)
    assert [(e["filePath"], e["fileType"]) for e in root] == [
        ("/home", "folder"),
        ("/tmp", "folder"),
    ]
    tmp = await list_files(api, context_id, "/tmp/")  # a trailing slash is the same folder
    assert [(e["fileName"], e["fileType"], e["size"]) for e in tmp] == [
        ("a.txt", "file", 3),
        ("sub", "folder", 0),
    ]
    entry = tmp[0]
    assert entry["filePath"] == "/tmp/a.txt"
    assert entry["fileId"] and entry["gmtCreate"] and entry["gmtModified"] and entry["status"]
    assert await all_keys(api, context_id) == [
        "/home/d.txt",
        "/tmp/a.txt",
        "/tmp/sub/b.txt",
        "/tmp/sub/deeper/c.txt",
    ]
    # Pages count from 1; `count` (top level) is every entry of the folder.
    reply = await api.call(
        "POST",
        p.PATH_DESCRIBE_CONTEXT_FILES,
        params={"contextId": context_id, "parentFolderPath": "/tmp", "pageNumber": "2",
                "pageSize": "1"},
    )  # fmt: skip
    assert [e["fileName"] for e in reply.data] == ["sub"]
    assert reply.body[p.KEY_COUNT] == 2
    assert await list_files(api, context_id, "/nowhere") == []


async def test_a_file_is_overwritten_and_relative_keys_start_at_the_root(api: Api) -> None:
    context_id = await make_context(api, "over")
    await put_file(api, context_id, "notes/x.txt", b"one")  # relative: /notes/x.txt
    await put_file(api, context_id, "//notes/./x.txt", b"two")  # the same key, normalised
    assert await all_keys(api, context_id) == ["/notes/x.txt"]
    assert await get_file(api, context_id, "/notes/x.txt") == b"two"
    store = api.app[STATE].persistence.store
    await store.run(store.maintain)
    assert len(list(store.blobs.sealed_ids())) == 1  # the old version's blob is gone


async def test_delete_file_and_folder(api: Api) -> None:
    context_id = await make_context(api, "del")
    for path in ("/a/1.txt", "/a/b/2.txt", "/c.txt"):
        await put_file(api, context_id, path, b"x")
    params = {"contextId": context_id, "filePath": "/c.txt"}
    deleted = await api.call("POST", p.PATH_DELETE_CONTEXT_FILE, params=params)
    assert deleted.status == 200 and deleted.body["success"] is True
    assert await all_keys(api, context_id) == ["/a/1.txt", "/a/b/2.txt"]
    folder = {"contextId": context_id, "filePath": "/a/b/"}
    assert (await api.call("POST", p.PATH_DELETE_CONTEXT_FILE, params=folder)).status == 200
    assert await all_keys(api, context_id) == ["/a/1.txt"]
    again = await api.call("POST", p.PATH_DELETE_CONTEXT_FILE, params=params)
    assert_error(again, 404, "InvalidContextFile.NotFound")
    root = {"contextId": context_id, "filePath": "/"}
    assert_error(await api.call("POST", p.PATH_DELETE_CONTEXT_FILE, params=root), 400)
    assert await all_keys(api, context_id) == ["/a/1.txt"]


async def test_download_url_for_a_missing_file_is_a_404(api: Api) -> None:
    context_id = await make_context(api, "dl")
    reply = await file_url(api, context_id, "/nope.txt", upload=False)
    assert_error(reply, 404, "InvalidContextFile.NotFound")


async def test_a_key_is_a_file_or_a_folder_not_both(api: Api) -> None:
    context_id = await make_context(api, "conflict")
    await put_file(api, context_id, "/a/b.txt", b"x")
    for clash in ("/a", "/a/b.txt/c"):
        url = await file_url(api, context_id, clash, upload=True)
        async with api.client.session.put(url.data["url"], data=b"y") as resp:
            assert resp.status == 409
            assert (await resp.json())["code"] == "InvalidContextFile.Conflict"
    assert await all_keys(api, context_id) == ["/a/b.txt"]
    store = api.app[STATE].persistence.store
    assert len(list(store.blobs.sealed_ids())) == 1  # the refused uploads left no blob


BAD_PATHS = [
    "",
    "   ",
    "../etc/passwd",
    "/tmp/../../etc/passwd",
    "/tmp/..",
    "a/../b",
    "/tmp/x\ny",
    "/tmp/\x00x",
    "/tmp/dir/",  # a folder, not a file
    "/",
    "/" + "x" * 256,  # one component past NAME_MAX
    "/a" * 2100,  # past PATH_MAX
]


@pytest.mark.parametrize("path", BAD_PATHS)
@pytest.mark.parametrize("upload", [True, False])
async def test_bad_file_paths_get_a_400_and_nothing_is_written(
    api: Api, path: str, upload: bool
) -> None:
    context_id = await make_context(api, "paths")
    reply = await file_url(api, context_id, path, upload=upload)
    assert_error(reply, 400)
    assert await all_keys(api, context_id) == []


@pytest.mark.parametrize("folder", ["../x", "/a/../..", "/x\x01"])
async def test_bad_folder_paths_get_a_400(api: Api, folder: str) -> None:
    context_id = await make_context(api, "folders")
    reply = await api.call(
        "POST",
        p.PATH_DESCRIBE_CONTEXT_FILES,
        params={"contextId": context_id, "parentFolderPath": folder},
    )
    assert_error(reply, 400, "InvalidParameter.FilePath")


@pytest.mark.parametrize(
    "params",
    [{}, {"pageNumber": "0"}, {"pageSize": "0"}, {"pageSize": "1001"}, {"pageNumber": "x"}],
)
async def test_listing_refuses_bad_pages(api: Api, params: dict[str, str]) -> None:
    context_id = await make_context(api, "pages") if params else ""
    reply = await api.call(
        "POST", p.PATH_DESCRIBE_CONTEXT_FILES, params={"contextId": context_id, **params}
    )
    assert_error(reply, 400)
