"""The durable store (server/store): what a server acknowledged is there after a restart, a
crash's leftovers are cleaned at start-up, one server per data directory, and files expire."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import anyio
import pytest

from _support.server_app import KEY_B, make_config, start_api
from _support.server_contexts import all_keys, get_file, make_context, put_file
from aioagb import _protocol as p
from aioagb.server.state import STATE
from aioagb.server.store import ContextStore, FilePut, StoreError


async def test_a_restarted_server_serves_the_same_contexts_and_files(tmp_path: Path) -> None:
    config = make_config(data_dir=tmp_path / "data")
    api = await start_api(tmp_path / "one", config)
    try:
        mine = await make_context(api, "mine")
        await put_file(api, mine, "/home/u/a.txt", b"a" * 1000)
        await put_file(api, mine, "/home/u/b/c.txt", b"c")
        theirs = await make_context(api, "theirs", key=KEY_B)
        await put_file(api, theirs, "/x", b"x", key=KEY_B)
        renamed = await make_context(api, "old-name")
        await api.call("POST", p.PATH_MODIFY_CONTEXT, params={"id": renamed, "name": "new-name"})
    finally:
        await api.client.close()
    api = await start_api(tmp_path / "two", config)
    try:
        assert await make_context(api, "mine") == mine  # get-or-create finds it again
        assert await all_keys(api, mine) == ["/home/u/a.txt", "/home/u/b/c.txt"]
        assert await get_file(api, mine, "/home/u/a.txt") == b"a" * 1000
        listed = await api.call("GET", p.PATH_LIST_CONTEXTS)
        assert [c["name"] for c in listed.data] == ["mine", "new-name"]
        # Still the other key's alone.
        reply = await api.call("GET", p.PATH_GET_CONTEXT, params={"id": theirs})
        assert reply.status == 404
        assert await get_file(api, theirs, "/x", key=KEY_B) == b"x"
    finally:
        await api.client.close()


def _opened(path: Path, **kwargs: object) -> ContextStore:
    store = ContextStore(path, **kwargs)  # type: ignore[arg-type]
    store.open()
    return store


def _put(store: ContextStore, tenant: str, context_id: str, path: str, data: bytes) -> str:
    with store.blobs.stage() as staged:
        staged.write(data)
        blob = staged.seal()
    store.files.commit(tenant, context_id, [FilePut(path, blob, len(data), 0)])
    return blob


def test_start_up_removes_what_a_crash_left_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = _opened(data)
    context = store.contexts.get_by_name("t", "c", create=True)
    kept = _put(store, "t", context.id, "/kept.txt", b"kept")
    internal = store.contexts.internal_for("t", "session-gone")
    _put(store, "t", internal.id, "/tmp/file_transfer/x", b"x")
    # A crash mid-upload: a staging file; and after a seal, before the commit: an orphan.
    (store.blobs.staging_dir / "half-written").write_bytes(b"half")
    orphan = store.blobs.stage()
    orphan.write(b"orphan")
    orphan_id = orphan.seal()
    # A crash between a commit and the removal of the old blob: a trash row.
    with store.db.transaction() as conn:
        conn.execute("INSERT INTO trash (blob, context_id) VALUES (?, NULL)", ("f" * 32,))
    store.close()

    store = _opened(data)
    try:
        assert list(store.blobs.staging_dir.iterdir()) == []
        assert set(store.blobs.sealed_ids()) == {kept}
        assert orphan_id not in set(store.blobs.sealed_ids())
        with store.db.reading() as conn:
            assert conn.execute("SELECT COUNT(*) FROM trash").fetchone()[0] == 0
        # Sessions do not survive a restart; neither do their internal contexts.
        with pytest.raises(Exception, match="Context not found"):
            store.contexts.get("t", internal.id, internal_ok=True)
        with store.blobs.open(store.files.get(context.id, "/kept.txt").blob) as kept_file:
            assert kept_file.read() == b"kept"
    finally:
        store.close()


def test_an_interrupted_clear_ends_at_start_up(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = _opened(data)
    context = store.contexts.get_by_name("t", "c", create=True)
    _put(store, "t", context.id, "/a", b"a")
    store.contexts.clear("t", context.id)  # acknowledged; the blobs are not removed yet
    assert store.contexts.get("t", context.id).state == p.CONTEXT_CLEARING
    store.close()
    store = _opened(data)
    try:
        assert store.contexts.get("t", context.id).state == p.CONTEXT_AVAILABLE
        assert list(store.blobs.sealed_ids()) == []
    finally:
        store.close()


def test_one_server_per_data_directory(tmp_path: Path) -> None:
    first = _opened(tmp_path / "data")
    try:
        with pytest.raises(StoreError, match="in use by another AGB Local"):
            _opened(tmp_path / "data")
    finally:
        first.close()
    _opened(tmp_path / "data").close()  # free again once the first one closed


def test_commits_are_durable_by_configuration(tmp_path: Path) -> None:
    store = _opened(tmp_path / "data")
    try:
        with store.db.reading() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    finally:
        store.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    _opened(tmp_path / "data").close()
    with sqlite3.connect(tmp_path / "data" / "store.sqlite3") as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(sqlite3.OperationalError, match="newer AGB Local"):
        _opened(tmp_path / "data")


def test_expired_files_vanish_and_their_blobs_go(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = _opened(tmp_path / "data", clock=lambda: now[0])
    try:
        context = store.contexts.get_by_name("t", "c", create=True)
        with store.blobs.stage() as staged:
            staged.write(b"log")
            blob = staged.seal()
        day = 86_400
        store.files.commit("t", context.id, [FilePut("/logs/l", blob, 3, 0, now[0] + day)])
        _put(store, "t", context.id, "/keep", b"k")
        assert [r.path for r in store.files.within(context.id, "/")] == ["/keep", "/logs/l"]
        now[0] += day + 1
        assert [r.path for r in store.files.within(context.id, "/")] == ["/keep"]
        with pytest.raises(Exception, match="No such file"):
            store.files.get(context.id, "/logs/l")
        assert blob in set(store.blobs.sealed_ids())
        store.maintain()
        assert blob not in set(store.blobs.sealed_ids())
    finally:
        store.close()


async def test_the_embedded_default_is_a_temporary_directory(tmp_path: Path) -> None:
    api = await start_api(tmp_path, make_config())
    store = api.app[STATE].persistence.store
    data_dir = store.data_dir
    assert await _exists(data_dir)
    await api.client.close()
    assert not await _exists(data_dir)


async def _exists(path: Path) -> bool:
    return await anyio.Path(path).exists()


def test_blobs_are_sealed_only_when_whole(tmp_path: Path) -> None:
    store = _opened(tmp_path / "data")
    try:
        with store.blobs.stage() as staged:
            staged.write(b"partial")
            staged_path = store.blobs.staging_dir / staged.blob_id
            assert staged_path.exists() and list(store.blobs.sealed_ids()) == []
        assert not staged_path.exists()  # abandoned: gone, never sealed
        assert os.listdir(store.blobs.staging_dir) == []
    finally:
        store.close()
