"""Context sync in real sandboxes (agb-wire.md §13.6-§13.10): a context's files appear at any
absolute sync path when a session starts, the session's changes go back on SyncContext and
before release, with the policies' modes, lists, mapping and extraction."""

from __future__ import annotations

import io
import json
import zipfile

import anyio
import pytest

from _support.server_app import Api
from _support.server_contexts import (
    all_keys,
    context_info,
    get_file,
    list_files,
    make_context,
    mount,
    policy,
    put_file,
    shell,
    sync,
)
from aioagb import _protocol as p
from aioagb.server.state import STATE

DATA = "/home/user/data"  # outside /workspace and /tmp: a directory of its own, bound there


async def _release(api: Api, session_id: str) -> None:
    reply = await api.call("POST", p.PATH_RELEASE_ASYNC, body={"sessionId": session_id})
    assert reply.status == 200, reply.body


async def _mounted(
    api: Api, name: str, policy_text: str | None = None, seed: dict[str, bytes] | None = None
) -> tuple[str, str]:
    """A context (with `seed` files in it) mounted at DATA in a new session: their ids."""
    context_id = await make_context(api, name)
    for path, data in (seed or {}).items():
        await put_file(api, context_id, path, data)
    session_id = await api.create(persistenceDataList=[mount(context_id, DATA, policy_text)])
    return context_id, session_id


def _tasks(entries: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return sorted((e["path"], e["taskType"], e["status"], e["errorMessage"]) for e in entries)


async def test_a_context_appears_at_its_sync_path_and_goes_back(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "data")
    await put_file(api, context_id, f"{DATA}/seed.txt", b"seeded")
    await put_file(api, context_id, f"{DATA}/sub/deep.txt", b"deep")
    session_id = await api.create(persistenceDataList=[mount(context_id, DATA)])
    # The download ended before the create answered (§3.1: the client's wait finds it done).
    assert _tasks(await context_info(api, session_id)) == [(DATA, "download", "Success", "")]
    assert await shell(api, session_id, f"cat {DATA}/seed.txt {DATA}/sub/deep.txt") == "seededdeep"
    uid = (await shell(api, session_id, "id -u")).strip()
    owners = await shell(api, session_id, f"stat -c %u {DATA} {DATA}/seed.txt")
    assert owners.split() == [uid, uid]  # the path and its files are the session's own
    # The session writes there with its shell and with the file tools.
    await shell(api, session_id, f"echo from-shell > {DATA}/shell.txt && rm {DATA}/seed.txt")
    await api.tool_text(session_id, "write_file", {"path": f"{DATA}/tool.txt", "content": "t"})
    assert (await sync(api, session_id)).status == 200
    assert await all_keys(api, context_id) == [
        f"{DATA}/shell.txt",
        f"{DATA}/sub/deep.txt",
        f"{DATA}/tool.txt",
    ]  # seed.txt went with the local delete (deletePolicy.syncLocalFile)
    assert await get_file(api, context_id, f"{DATA}/shell.txt") == b"from-shell\n"
    assert _tasks(await context_info(api, session_id)) == [
        (DATA, "download", "Success", ""),
        (DATA, "upload", "Success", ""),
    ]
    uploads = await context_info(api, session_id, taskType="upload", contextId=context_id)
    assert [e["taskType"] for e in uploads] == ["upload"]
    assert await context_info(api, session_id, path="/elsewhere") == []


async def test_release_uploads_and_the_next_session_sees_it(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "carry")
    first = await api.create(persistenceDataList=[mount(context_id, DATA)])
    await shell(api, first, f"mkdir -p {DATA}/a && echo one > {DATA}/a/one.txt")
    await _release(api, first)  # no SyncContext: UploadBeforeResourceRelease
    assert await all_keys(api, context_id) == [f"{DATA}/a/one.txt"]
    second = await api.create(persistenceDataList=[mount(context_id, DATA)])
    assert await shell(api, second, f"cat {DATA}/a/one.txt") == "one\n"


async def test_auto_upload_off_leaves_the_context_alone(sandbox_api: Api) -> None:
    api = sandbox_api
    read_only = policy(uploadPolicy={"autoUpload": False})
    seed = {f"{DATA}/kept.txt": b"kept"}
    context_id, session_id = await _mounted(api, "read-only", read_only, seed)
    await shell(api, session_id, f"rm {DATA}/kept.txt; echo new > {DATA}/new.txt")
    await sync(api, session_id)  # a session-wide sync skips it (§13.10 item 4)
    assert [e["taskType"] for e in await context_info(api, session_id)] == ["download"]
    await _release(api, session_id)
    assert await all_keys(api, context_id) == [f"{DATA}/kept.txt"]


async def test_auto_download_off_makes_the_path_and_copies_nothing(sandbox_api: Api) -> None:
    api = sandbox_api
    lazy = policy(downloadPolicy={"autoDownload": False})
    context_id, session_id = await _mounted(api, "lazy", lazy, {f"{DATA}/later.txt": b"later"})
    assert await context_info(api, session_id) == []
    assert await shell(api, session_id, f"ls -A {DATA} && echo empty") == "empty\n"
    # An explicit download brings the files.
    params = {"contextId": context_id, "path": DATA, "mode": "download"}
    assert (await sync(api, session_id, **params)).status == 200
    assert await shell(api, session_id, f"cat {DATA}/later.txt") == "later"


async def test_delete_policy_off_never_deletes_from_the_context(sandbox_api: Api) -> None:
    api = sandbox_api
    keep = policy(deletePolicy={"syncLocalFile": False})
    context_id, session_id = await _mounted(api, "keep-all", keep, {f"{DATA}/old.txt": b"old"})
    await shell(api, session_id, f"rm {DATA}/old.txt; echo n > {DATA}/new.txt")
    await sync(api, session_id)
    assert await all_keys(api, context_id) == [f"{DATA}/new.txt", f"{DATA}/old.txt"]


async def test_white_lists_choose_what_syncs(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "listed")
    white = {"whiteLists": [{"path": "/keep", "excludePaths": ["/cache"]},
                            {"path": "top.txt", "excludePaths": []}]}  # fmt: skip
    session_id = await api.create(
        persistenceDataList=[mount(context_id, DATA, policy(bwList=white))]
    )
    await shell(
        api,
        session_id,
        f"cd {DATA} && mkdir -p keep/cache keep/sub other && echo 1 > keep/a.txt && "
        "echo 2 > keep/sub/b.txt && echo 3 > keep/cache/c.txt && echo 4 > other/d.txt && "
        "echo 5 > top.txt && echo 6 > skipped.txt",
    )
    await sync(api, session_id)
    assert await all_keys(api, context_id) == [
        f"{DATA}/keep/a.txt",
        f"{DATA}/keep/sub/b.txt",
        f"{DATA}/top.txt",
    ]
    # Keys outside the white lists are never deleted by a sync, nor downloaded.
    await put_file(api, context_id, f"{DATA}/other/uploaded.txt", b"u")
    await sync(api, session_id)
    assert f"{DATA}/other/uploaded.txt" in await all_keys(api, context_id)
    fresh = await api.create(persistenceDataList=[mount(context_id, DATA, policy(bwList=white))])
    listing = await shell(api, fresh, f"cd {DATA} && find . -type f | sort")
    assert listing.split() == ["./keep/a.txt", "./keep/sub/b.txt", "./top.txt"]


async def test_archive_mode_stores_one_zip_and_restores_the_tree(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "archived")
    archive = policy(uploadPolicy={"uploadMode": "Archive"})
    path = "/tmp/archive-mode-test"
    first = await api.create(persistenceDataList=[mount(context_id, path, archive)])
    await shell(
        api, first, f"mkdir -p {path}/d && echo a > {path}/a.txt && echo b > {path}/d/b.txt"
    )
    await sync(api, first)
    entries = await list_files(api, context_id, path)
    assert [e["fileName"] for e in entries] == ["agb-archive.zip"]  # one .zip (§13.9)
    archived = await get_file(api, context_id, f"{path}/agb-archive.zip")
    assert sorted(zipfile.ZipFile(io.BytesIO(archived)).namelist()) == ["a.txt", "d/b.txt"]
    await _release(api, first)
    second = await api.create(persistenceDataList=[mount(context_id, path, archive)])
    assert await shell(api, second, f"cat {path}/a.txt {path}/d/b.txt") == "a\nb\n"
    assert "agb-archive.zip" not in await shell(api, second, f"ls {path}")


async def test_a_mapping_policy_reads_another_path_of_the_context(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "mapped")
    browser = await api.create(
        "agb-browser-use-1", persistenceDataList=[mount(context_id, "/tmp/mapping")]
    )
    await shell(api, browser, "echo from-browser > /tmp/mapping/state.txt")
    await sync(api, browser)
    mapped = policy(mappingPolicy={"path": "/tmp/mapping"})
    code = await api.create(persistenceDataList=[mount(context_id, "/home/data", mapped)])
    assert await shell(api, code, "cat /home/data/state.txt") == "from-browser\n"
    assert [e["path"] for e in await context_info(api, code)] == ["/home/data"]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("extract", "expected"),
    [
        ({}, ["./pkg/m.txt", "./pkg/sub/n.txt"]),  # defaults: into pkg/, the zip removed
        ({"extractToCurrentFolder": True}, ["./m.txt", "./sub/n.txt"]),
        ({"deleteSrcFile": False}, ["./pkg.zip", "./pkg/m.txt", "./pkg/sub/n.txt"]),
        ({"extract": False}, ["./pkg.zip"]),
    ],
)
async def test_the_extract_policy_unpacks_zips(
    sandbox_api: Api, extract: dict[str, bool], expected: list[str]
) -> None:
    api = sandbox_api
    seed = {f"{DATA}/pkg.zip": _zip({"m.txt": b"m", "sub/n.txt": b"n"})}
    _, session_id = await _mounted(api, "zips", policy(extractPolicy=extract), seed)
    assert (await shell(api, session_id, f"cd {DATA} && find . -type f | sort")).split() == expected


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ({"../escape.txt": b"x"}, "unsafe entry name"),
        ({"/abs.txt": b"x"}, "unsafe entry name"),
        ({"big.bin": b"\0" * (2 * 1024 * 1024)}, "more than"),
    ],
)
async def test_an_unsafe_zip_fails_its_task_and_writes_nothing_outside(
    sandbox_api: Api, members: dict[str, bytes], why: str
) -> None:
    api = sandbox_api
    api.app[STATE].persistence.syncs._download_limit = 1024 * 1024  # a small session
    _, session_id = await _mounted(api, "bad-zip", seed={f"{DATA}/bad.zip": _zip(members)})
    [task] = await context_info(api, session_id)
    assert task["status"] == p.TASK_FAILED and why in task["errorMessage"]
    assert await shell(api, session_id, "ls /home/user/escape.txt /abs.txt 2>&1 | wc -l") == "2\n"
    assert not await anyio.Path("/home/user/escape.txt").exists()


async def test_links_planted_in_the_session_are_never_followed(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "links")
    session_id = await api.create(persistenceDataList=[mount(context_id, DATA)])
    # Links to files and directories that exist on the host, seen from the sandbox.
    outside = f"/tmp/aioagb-link-target-{session_id}"
    await shell(
        api,
        session_id,
        f"ln -s /etc/passwd {DATA}/passwd && ln -s /etc {DATA}/etc && echo ok > {DATA}/real.txt",
    )
    await sync(api, session_id)
    assert await all_keys(api, context_id) == [f"{DATA}/real.txt"]
    # A download through a planted directory link fails instead of writing on the host.
    await shell(api, session_id, f"mkdir -p {outside} && ln -s {outside} {DATA}/into")
    await put_file(api, context_id, f"{DATA}/into/planted.txt", b"planted")
    params = {"contextId": context_id, "path": DATA, "mode": "download"}
    await sync(api, session_id, **params)
    [task] = await context_info(api, session_id, taskType="download")
    assert task["status"] == p.TASK_FAILED and "symbolic link" in task["errorMessage"]
    assert not await anyio.Path(f"{outside}/planted.txt").exists()  # not the host's /tmp


async def test_a_sync_path_inside_the_workspace_and_a_plain_path_sync(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "plain")
    await put_file(api, context_id, "/workspace/proj/keep.zip", _zip({"a": b"a"}))
    session_id = await api.create()
    # No mount: a download of a path copies the files as they are (no extraction).
    params = {"contextId": context_id, "path": "/workspace/proj", "mode": "download"}
    assert (await sync(api, session_id, **params)).status == 200
    assert await shell(api, session_id, "ls /workspace/proj") == "keep.zip\n"
    await shell(api, session_id, "echo r > /workspace/proj/result.txt")
    params["mode"] = "upload"
    await sync(api, session_id, **params)
    assert await get_file(api, context_id, "/workspace/proj/result.txt") == b"r\n"
    assert _tasks(await context_info(api, session_id)) == [
        ("/workspace/proj", "download", "Success", ""),
        ("/workspace/proj", "upload", "Success", ""),
    ]


async def test_a_task_that_cannot_run_ends_failed_with_the_reason(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "fails")
    session_id = await api.create()
    outside = {"contextId": context_id, "path": "/srv/nowhere", "mode": "download"}
    assert (await sync(api, session_id, **outside)).status == 200
    missing = {"contextId": context_id, "path": "/workspace/missing"}
    assert (await sync(api, session_id, **missing)).status == 200
    entries = {e["path"]: e for e in await context_info(api, session_id)}
    assert entries["/srv/nowhere"]["status"] == p.TASK_FAILED
    assert "outside the session" in entries["/srv/nowhere"]["errorMessage"]
    assert entries["/workspace/missing"]["status"] == p.TASK_FAILED
    assert "No such file" in entries["/workspace/missing"]["errorMessage"]
    # Only the latest task per key is reported: a later success replaces the failure.
    await shell(api, session_id, "mkdir -p /workspace/missing")
    await sync(api, session_id, **missing)
    [latest] = await context_info(api, session_id, path="/workspace/missing")
    assert latest["status"] == p.TASK_SUCCESS and latest["errorMessage"] == ""


async def test_an_upload_past_the_quota_fails_and_changes_nothing(sandbox_api: Api) -> None:
    api = sandbox_api
    api.app[STATE].persistence.store.files.quota = 10_000
    context_id = await make_context(api, "quota")
    await put_file(api, context_id, f"{DATA}/small.txt", b"s")
    session_id = await api.create(persistenceDataList=[mount(context_id, DATA)])
    await shell(api, session_id, f"head -c 20000 /dev/zero > {DATA}/big.bin; rm {DATA}/small.txt")
    await sync(api, session_id)
    [task] = await context_info(api, session_id, taskType="upload")
    assert task["status"] == p.TASK_FAILED and "quota" in task["errorMessage"]
    assert await all_keys(api, context_id) == [f"{DATA}/small.txt"]  # all or nothing
    store = api.app[STATE].persistence.store
    assert list(store.blobs.staging_dir.iterdir()) == []


async def test_a_recycle_policy_gives_synced_files_an_expiry(sandbox_api: Api) -> None:
    api = sandbox_api
    context_id = await make_context(api, "recycled")
    recycle = policy(recyclePolicy={"lifecycle": "Lifecycle_3Days", "paths": ["logs"]})
    session_id = await api.create(persistenceDataList=[mount(context_id, DATA, recycle)])
    await shell(api, session_id, f"mkdir -p {DATA}/logs && echo l > {DATA}/logs/l.txt && "
                f"echo k > {DATA}/keep.txt")  # fmt: skip
    await sync(api, session_id)
    store = api.app[STATE].persistence.store
    records = {r.path: r for r in await store.run(store.files.within, context_id, DATA)}
    logs, kept = records[f"{DATA}/logs/l.txt"], records[f"{DATA}/keep.txt"]
    assert kept.expires_at is None
    assert logs.expires_at is not None
    assert logs.expires_at - logs.modified_at == pytest.approx(3 * 86_400, abs=5)


async def test_file_transfer_context_is_stable_hidden_carries_files_and_goes_with_its_session(
    sandbox_api: Api,
) -> None:
    api = sandbox_api
    session_id = await api.create()
    params = {"sessionId": session_id, "contextTypes": json.dumps(["file_transfer"])}
    first = await api.call("POST", p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT, params=params)
    [item] = first.data
    assert item["contextType"] == "file_transfer" and item["contextPath"] == "/tmp/file_transfer"
    again = await api.call("POST", p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT, params=params)
    assert again.data == first.data  # stable for the session
    transfer_id = item["contextId"]
    # Internal: not listed, not reachable by the management routes.
    assert (await api.call("GET", p.PATH_LIST_CONTEXTS)).data == []
    assert (await api.call("GET", p.PATH_GET_CONTEXT, params={"id": transfer_id})).status == 404
    # §14.2: PUT, then a download sync of the remote path's directory.
    await put_file(api, transfer_id, "/tmp/file_transfer/in.txt", b"uploaded")
    down = {"contextId": transfer_id, "path": "/tmp/file_transfer", "mode": "download"}
    await sync(api, session_id, **down)
    assert await shell(api, session_id, "cat /tmp/file_transfer/in.txt") == "uploaded"
    # §14.3: an upload sync of the directory, then GET.
    await shell(api, session_id, "echo out > /workspace/out.txt")
    await sync(api, session_id, contextId=transfer_id, path="/workspace", mode="upload")
    assert await get_file(api, transfer_id, "/workspace/out.txt") == b"out\n"
    other = await api.call("POST", p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT,
                           params={**params, "contextTypes": '["other"]'})  # fmt: skip
    assert other.data == []
    await _release(api, session_id)  # the context goes with its session
    store = api.app[STATE].persistence.store
    with pytest.raises(Exception, match="Context not found"):
        await store.run(store.contexts.get, "x", transfer_id, internal_ok=True)
