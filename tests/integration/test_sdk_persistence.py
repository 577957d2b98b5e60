"""Persistence against a real AGB Local (issue 12): `agb.context`, contexts mounted in
sessions and kept across them, `session.context`, file transfer through pre-signed URLs, and
directory watching. Each test uses its own API key, so its contexts are its own."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import aiohttp
import anyio
import pytest
from yarl import URL

from aioagb import (
    AsyncAGB,
    BWList,
    ContextListParams,
    ContextSync,
    CreateSessionParams,
    FileChangeEvent,
    MappingPolicy,
    SyncPolicy,
    UploadMode,
    UploadPolicy,
    WhiteList,
)
from aioagb.server import LocalServer

IMAGE = "agb-code-space-2"
STATE = "/home/user/state"


def mounting(
    context_id: str, path: str = STATE, policy: SyncPolicy | None = None
) -> CreateSessionParams:
    sync = ContextSync.new(context_id, path, policy or SyncPolicy())
    return CreateSessionParams(image_id=IMAGE, context_syncs=[sync])


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def new_context(agb: AsyncAGB, name: str = "") -> str:
    result = await agb.context.create(name or f"ctx-{secrets.token_hex(4)}")
    assert result.success, result.error_message
    return result.context_id


# --- agb.context ---------------------------------------------------------------------------------


async def test_context_create_get_rename_list_and_delete(agb: AsyncAGB) -> None:
    """create is get-or-create (the same id twice); get by name and by id; rename; list and
    iter_contexts see it; delete removes it."""
    first = await agb.context.create("agent-state")
    again = await agb.context.get("agent-state", create=True)
    assert first.success and again.context_id == first.context_id
    by_id = await agb.context.get(context_id=first.context_id)
    assert by_id.success and by_id.context is not None and by_id.context.name == "agent-state"

    context = by_id.context
    context.name = "agent-state-2"  # the official update example renames in place
    assert (await agb.context.update(context)).success
    assert (await agb.context.get("agent-state-2")).context_id == first.context_id
    assert not (await agb.context.get("agent-state")).success

    listed = await agb.context.list()
    assert listed.success and [c.id for c in listed.contexts] == [first.context_id]
    assert [c.id async for c in agb.context.iter_contexts()] == [first.context_id]

    assert (await agb.context.delete(context)).success
    assert not (await agb.context.get(context_id=first.context_id)).success


async def test_iter_contexts_walks_every_page(agb: AsyncAGB) -> None:
    """§13.2: the server puts the pagination keys at the top level; the SDK follows them."""
    ids = {await new_context(agb, f"page-{n}") for n in range(5)}
    page = await agb.context.list(ContextListParams(max_results=2))
    assert len(page.contexts) == 2 and page.next_token and page.total_count == 5
    assert {c.id async for c in agb.context.iter_contexts(page_size=2)} == ids


async def test_context_files_through_presigned_urls(agb: AsyncAGB) -> None:
    """§13.5: PUT to the upload URL (no authorization header), list, GET the download URL,
    delete the file."""
    ctx = await new_context(agb)
    up = await agb.context.get_file_upload_url(ctx, f"{STATE}/notes.txt")
    assert up.success and up.url
    async with aiohttp.ClientSession() as http:  # a plain client: the URL is the credential
        async with http.put(URL(up.url, encoded=True), data=b"remember me") as put:
            assert put.status in (200, 201, 204)
        files = await agb.context.list_files(ctx, STATE)
        assert [e.file_path for e in files.entries] == [f"{STATE}/notes.txt"]
        down = await agb.context.get_file_download_url(ctx, f"{STATE}/notes.txt")
        async with http.get(URL(down.url, encoded=True)) as got:
            assert (got.status, await got.read()) == (200, b"remember me")
    assert (await agb.context.delete_file(ctx, f"{STATE}/notes.txt")).success
    assert (await agb.context.list_files(ctx, STATE)).entries == []


async def test_clear_empties_a_context_and_keeps_it(agb: AsyncAGB) -> None:
    ctx = await new_context(agb, "to-clear")
    up = await agb.context.get_file_upload_url(ctx, "/data/x")
    async with aiohttp.ClientSession() as http, http.put(URL(up.url, encoded=True), data=b"x"):
        pass
    cleared = await agb.context.clear(ctx, timeout=30, poll_interval=0.2)
    assert cleared.success and cleared.status == "available"
    assert (await agb.context.list_files(ctx, "/data")).entries == []
    assert (await agb.context.get("to-clear")).context_id == ctx


# --- contexts mounted in sessions ----------------------------------------------------------------


async def test_state_survives_a_session_through_auto_upload(agb: AsyncAGB) -> None:
    """The guide's story: leaving `agb.session()` uploads the mount; the next session that
    mounts the context starts with the files (create waited for the download)."""
    ctx = await new_context(agb)
    async with agb.session(mounting(ctx)) as session:
        assert (await session.file.write(f"{STATE}/memory.json", '{"step": 3}')).success
    async with agb.session(mounting(ctx)) as session:
        read = await session.file.read(f"{STATE}/memory.json")
        assert read.success and read.content == '{"step": 3}'
        info = await session.context.info()
        assert any(
            t.task_type == "download" and t.status == "Success" for t in info.context_status_data
        )


async def test_explicit_sync_with_auto_upload_off(agb: AsyncAGB) -> None:
    """With auto upload off, only an explicit `session.context.sync()` saves anything; a
    sessionId-only sync (what `delete(sync_context=True)` sends) skips such mounts on AGB
    Local (§13.10 item 4)."""
    ctx = await new_context(agb)
    manual = SyncPolicy(upload_policy=UploadPolicy(auto_upload=False))
    first = await agb.open_session(mounting(ctx, policy=manual))
    await first.file.write(f"{STATE}/a.txt", "a")
    synced = await first.context.sync(ctx, STATE, mode="upload")
    assert synced.success, synced.error_message
    await first.file.write(f"{STATE}/b.txt", "not saved")
    assert (await agb.delete(first, sync_context=True)).success

    async with agb.session(mounting(ctx, policy=manual)) as second:
        assert (await second.file.read(f"{STATE}/a.txt")).content == "a"
        assert not (await second.file.info(f"{STATE}/b.txt")).success


async def test_delete_with_sync_context_saves_the_files_for_the_next_session(agb: AsyncAGB) -> None:
    ctx = await new_context(agb)
    first = await agb.open_session(mounting(ctx))
    await first.file.write(f"{STATE}/a.txt", "a")
    assert (await first.delete(sync_context=True)).success
    async with agb.session(mounting(ctx)) as second:
        assert (await second.file.read(f"{STATE}/a.txt")).content == "a"


async def test_a_raising_body_still_saves_what_it_wrote(agb: AsyncAGB) -> None:
    ctx = await new_context(agb)

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        async with agb.session(mounting(ctx)) as session:
            await session.file.write(f"{STATE}/partial.txt", "half")
            raise Crash
    async with agb.session(mounting(ctx)) as session:
        assert (await session.file.read(f"{STATE}/partial.txt")).content == "half"


async def test_a_cancelled_body_still_saves_what_it_wrote(
    agb: AsyncAGB, local_server: LocalServer, api_key: str
) -> None:
    ctx = await new_context(agb)
    with anyio.CancelScope() as scope:
        async with agb.session(mounting(ctx)) as session:
            await session.file.write(f"{STATE}/before-cancel.txt", "kept")
            scope.cancel()
            await anyio.sleep_forever()
    assert local_server.live_sessions(api_key) == 0
    async with agb.session(mounting(ctx)) as session:
        assert (await session.file.read(f"{STATE}/before-cancel.txt")).content == "kept"


async def test_policies_reach_the_server(agb: AsyncAGB) -> None:
    """A white list limits what is uploaded; a mapping policy downloads another path's files;
    archive mode keeps the tree."""
    ctx = await new_context(agb)
    only_keep = SyncPolicy(
        upload_policy=UploadPolicy(upload_mode=UploadMode.ARCHIVE),
        bw_list=BWList([WhiteList("/keep")]),
    )
    async with agb.session(mounting(ctx, "/tmp/work", only_keep)) as session:
        await session.file.write("/tmp/work/keep/a.txt", "kept")
        await session.file.write("/tmp/work/scratch/b.txt", "dropped")
    mapped = SyncPolicy(
        upload_policy=UploadPolicy(upload_mode=UploadMode.ARCHIVE),
        mapping_policy=MappingPolicy("/tmp/work"),
    )
    async with agb.session(mounting(ctx, "/home/user/restored", mapped)) as session:
        assert (await session.file.read("/home/user/restored/keep/a.txt")).content == "kept"
        assert not (await session.file.info("/home/user/restored/scratch/b.txt")).success


# --- file transfer -------------------------------------------------------------------------------


async def test_upload_and_download_round_trip(
    agb: AsyncAGB, params: CreateSessionParams, tmp_path: Path
) -> None:
    """§14: a binary file up and back down, byte for byte, with progress, through the
    session's transfer folder."""
    data = secrets.token_bytes(3 * 1024 * 1024 + 17)
    local = tmp_path / "blob.bin"
    local.write_bytes(data)
    sent: list[int] = []
    async with agb.session(params) as session:
        folder = await session.file.transfer_path()
        assert folder
        remote = f"{folder}/blob.bin"
        up = await session.file.upload(local, remote, progress_cb=sent.append)
        assert up.success, up.error_message
        assert up.bytes_sent == len(data) and up.request_id_upload_url and up.request_id_sync
        info = await session.file.info(remote)
        assert info.file_info["size"] == len(data)

        await session.command.execute(f"cp {remote} {folder}/copy.bin", timeout_ms=10_000)
        back = tmp_path / "out" / "copy.bin"
        down = await session.file.download(f"{folder}/copy.bin", back)
        assert down.success, down.error_message
    assert sent[-1] == len(data)
    assert down.bytes_received == len(data)
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert names(back.parent) == ["copy.bin"]


async def test_download_of_a_missing_file_leaves_nothing(
    agb: AsyncAGB, params: CreateSessionParams, tmp_path: Path
) -> None:
    async with agb.session(params) as session:
        folder = await session.file.transfer_path()
        result = await session.file.download(f"{folder}/nope.bin", tmp_path / "nope.bin")
    assert not result.success
    assert names(tmp_path) == []


# --- watching ------------------------------------------------------------------------------------


async def test_watch_reports_changes(agb: AsyncAGB, params: CreateSessionParams) -> None:
    """The baseline is taken when the iteration starts, so a writer keeps writing until the
    first batch arrives."""
    async with agb.session(params) as session:
        await session.file.mkdir("/tmp/watched")
        found = anyio.Event()

        async def keep_writing() -> None:
            n = 0
            while not found.is_set():
                n += 1
                await session.file.write("/tmp/watched/a.txt", str(n))
                await anyio.sleep(0.05)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(keep_writing)
                async for events in session.file.watch("/tmp/watched", interval=0.1):
                    if any(e.path.endswith("a.txt") for e in events):
                        found.set()
                        break
        assert all(isinstance(e, FileChangeEvent) for e in events)


async def test_watch_dir_calls_back(agb: AsyncAGB, params: CreateSessionParams) -> None:
    async with agb.session(params) as session:
        await session.file.mkdir("/tmp/watched")
        await session.file.write("/tmp/watched/a.txt", "1")
        seen: list[FileChangeEvent] = []
        modified = anyio.Event()

        def on_change(events: list[FileChangeEvent]) -> None:
            seen.extend(events)
            if any(e.event_type == "modify" for e in events):
                modified.set()

        async with session.file.watch_dir("/tmp/watched", on_change, interval=0.1):
            await session.file.write("/tmp/watched/a.txt", "2")
            with anyio.fail_after(30):
                await modified.wait()
    assert any(e.path.endswith("a.txt") for e in seen)


async def test_local_with_a_data_dir_serves_its_contexts_to_the_next_local(
    tmp_path: Path,
) -> None:
    """`AsyncAGB.local(data_dir=...)`: contexts and their files outlive the block, and the
    next `local()` on the same directory sees them (the same key, kept beside them)."""
    data = tmp_path / "agent-data"
    async with AsyncAGB.local(data_dir=data) as agb:
        made = await agb.context.get("kept-across-runs", create=True)
        assert made.success
        up = await agb.context.get_file_upload_url(made.context_id, "/state/notes.txt")
        body = b"remember me"
        async with (
            aiohttp.ClientSession() as http,
            http.put(URL(up.url, encoded=True), data=body) as put,
        ):
            assert put.status in (200, 201, 204)
    assert (data / "local-api-key").stat().st_mode & 0o777 == 0o600
    async with AsyncAGB.local(data_dir=data) as agb:
        found = await agb.context.get("kept-across-runs")
        assert found.success and found.context_id == made.context_id
        down = await agb.context.get_file_download_url(made.context_id, "/state/notes.txt")
        async with aiohttp.ClientSession() as http, http.get(URL(down.url, encoded=True)) as got:
            assert (got.status, await got.read()) == (200, b"remember me")
    async with AsyncAGB.local() as other:  # no data_dir: a temporary store, a fresh key
        assert not (await other.context.get("kept-across-runs")).success
