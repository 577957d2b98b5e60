"""The official SDK (agbcloud-sdk 0.12.0, unmodified) drives AGB Local's contexts (agb-wire.md
§13, §14): CRUD, clear, files and their pre-signed URLs (with httpx and requests), context sync
with policies (File and Archive modes, white lists, mapping), `delete(sync_context=True)`,
browser extensions, and `session.file.upload`/`download`.

Where the spec said less than the official client's code, the truth is encoded here and noted.
"""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
import requests
from agb import AGB
from agb.context import Context, ContextListParams
from agb.context_sync import (
    BWList,
    ContextSync,
    MappingPolicy,
    SyncPolicy,
    UploadMode,
    UploadPolicy,
    WhiteList,
)
from agb.exceptions import ClearanceTimeoutError
from agb.extension import ExtensionOption, ExtensionsService
from agb.session import Session
from agb.session_params import BrowserContext, CreateSessionParams

from _support.official_sdk import create

BROWSER = "agb-browser-use-1"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _context(agb: AGB, prefix: str) -> Context:
    result = agb.context.create(_name(prefix))
    assert result.success, result.error_message
    assert result.context is not None
    return result.context


def _create_on(agb: AGB, image: str, **params: object) -> Session:
    result = agb.create(CreateSessionParams(image_id=image, **params))  # type: ignore[arg-type]
    assert result.success, result.error_message
    session: Session = result.session
    return session


def _sh(session: Session, command: str) -> str:
    result = session.command.execute(command, timeout_ms=20_000)
    assert result.success, result.error_message
    output: str = result.output
    return output


def test_context_create_get_list_rename_and_delete_with_official_quirks(agb: AGB) -> None:
    name = _name("crud")
    made = agb.context.create(name)
    assert made.success and made.request_id and made.context_id.startswith("SdkCtx-")
    assert agb.context.get(name, create=True).context_id == made.context_id  # get-or-create
    by_id = agb.context.get(context_id=made.context_id)
    assert by_id.success and by_id.context is not None and by_id.context.name == name
    assert by_id.context.created_at and by_id.context.last_used_at

    listed = agb.context.list(ContextListParams(max_results=100))
    assert listed.success and made.context_id in [c.id for c in listed.contexts]
    # §13.2 quirk, encoded: with `data` an array, 0.12.0 reads no pagination keys at all.
    assert listed.next_token is None and listed.total_count is None
    assert listed.max_results == 100

    context = by_id.context
    context.name = name + "-renamed"
    updated = agb.context.update(context)
    assert updated.success and updated.data == {"context_id": context.id}
    assert agb.context.get(name + "-renamed").context_id == context.id
    assert agb.context.delete(context).success
    gone = agb.context.get(context_id=context.id)
    assert not gone.success and gone.error_message == "Context not found"
    assert not agb.context.get(name + "-renamed").success


def test_clear_empties_the_context_keeps_it_usable_and_fails_for_a_missing_one(agb: AGB) -> None:
    context = _context(agb, "clear")
    url = agb.context.get_file_upload_url(context.id, "/tmp/c.txt").url
    assert requests.put(url, data=b"to be cleared", timeout=30).status_code == 200
    started = agb.context.clear_async(context.id)
    assert started.success and started.status == "clearing"
    cleared = agb.context.clear(context.id, timeout=20, poll_interval=0.2)
    assert cleared.success and cleared.status == "available"
    assert agb.context.get_clear_status(context.id).status == "available"
    assert agb.context.list_files(context.id, "/tmp").entries == []
    # Still the same, usable context.
    assert agb.context.get(context_id=context.id).context.name == context.name  # type: ignore[union-attr]
    missing = agb.context.clear("SdkCtx-missing", timeout=1, poll_interval=0.5)
    assert not missing.success and "not found" in missing.error_message.lower()


def test_clear_that_never_ends_raises_the_clients_timeout(agb: AGB) -> None:
    # Sanity of the poller against this server: a zero budget polls nothing and raises.
    context = _context(agb, "clear-timeout")
    with pytest.raises(ClearanceTimeoutError):
        agb.context.clear(context.id, timeout=0, poll_interval=1.0)


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_file_urls_with_plain_http_clients(agb: AGB, client: str) -> None:
    context = _context(agb, "urls")
    path = "/tmp/integration_upload_test.txt"
    content = f"uploaded with {client}\n".encode()
    up = agb.context.get_file_upload_url(context.id, path)
    assert up.success and up.url and up.request_id and isinstance(up.expire_time, int)
    if client == "httpx":
        with httpx.Client(timeout=30) as http:
            assert http.put(up.url, content=content).status_code in (200, 204)
    else:
        assert requests.put(up.url, data=content, timeout=30).status_code in (200, 204)
    down = agb.context.get_file_download_url(context.id, path)
    assert down.success and down.url
    got = (
        httpx.get(down.url, timeout=30) if client == "httpx" else requests.get(down.url, timeout=30)
    )
    assert got.status_code == 200 and got.content == content

    listing = agb.context.list_files(context.id, "/tmp", page_number=1, page_size=50)
    assert listing.success and listing.count == 1
    [entry] = listing.entries
    assert (entry.file_path, entry.file_name, entry.size) == (path, "integration_upload_test.txt",
                                                              len(content))  # fmt: skip
    assert entry.file_type == "file" and entry.gmt_create and entry.gmt_modified
    deleted = agb.context.delete_file(context.id, path)
    assert deleted.success and deleted.data is True
    assert agb.context.list_files(context.id, "/tmp").entries == []
    # After a delete, no download URL: a clear failure instead of a URL that 404s later.
    assert not agb.context.get_file_download_url(context.id, path).success


def test_sync_with_white_lists_then_delete_with_sync_context(agb: AGB) -> None:
    context = _context(agb, "sync")
    path = "/home/user/data"
    listed = SyncPolicy(
        bw_list=BWList(white_lists=[WhiteList(path="/keep", exclude_paths=["/cache"])])
    )
    first = create(agb, context_syncs=[ContextSync.new(context.id, path, listed)])
    info = first.context.info()
    assert info.success
    assert [(s.path, s.task_type, s.status) for s in info.context_status_data] == [
        (path, "download", "Success")
    ]
    assert first.file.write(f"{path}/keep/a.txt", "kept").success
    _sh(first, f"mkdir -p {path}/keep/cache && echo c > {path}/keep/cache/c.txt && "
               f"echo o > {path}/other.txt")  # fmt: skip
    synced = asyncio.run(first.context.sync())
    assert synced.success and synced.request_id
    files = agb.context.list_files(context.id, f"{path}/keep")
    assert [e.file_name for e in files.entries] == ["a.txt"]
    assert first.file.write(f"{path}/keep/b.txt", "after the sync").success
    deleted = first.delete(sync_context=True)  # SyncContext, its polling, then the release
    assert deleted.success

    second = create(agb, context_syncs=[ContextSync.new(context.id, path, listed)])
    try:
        assert second.file.read(f"{path}/keep/a.txt").content == "kept"
        assert second.file.read(f"{path}/keep/b.txt").content == "after the sync"
        assert not second.file.read(f"{path}/other.txt").success  # never synced
    finally:
        agb.delete(second, sync_context=True)


def test_sync_of_one_context_and_path_succeeds_and_a_context_id_alone_is_refused(agb: AGB) -> None:
    context = _context(agb, "one")
    session = create(agb, context_syncs=[ContextSync.new(context.id, "/tmp/one", SyncPolicy())])
    try:
        assert session.file.write("/tmp/one/x.txt", "x").success
        synced = asyncio.run(session.context.sync(context_id=context.id, path="/tmp/one"))
        assert synced.success
        entries = session.context.info(context_id=context.id, path="/tmp/one", task_type="upload")
        assert [(s.context_id, s.status) for s in entries.context_status_data] == [
            (context.id, "Success")
        ]
        half = asyncio.run(session.context.sync(context_id=context.id))  # no path: refused locally
        assert not half.success and "provided together" in half.error_message
    finally:
        session.delete()


@pytest.mark.parametrize("mode", [UploadMode.FILE, UploadMode.ARCHIVE])
def test_file_mode_stores_the_file_archive_mode_one_zip_and_both_restore_it(
    agb: AGB, mode: UploadMode
) -> None:
    context = _context(agb, mode.value.lower())
    path = f"/tmp/{mode.value.lower()}-mode-test"
    policy = SyncPolicy(upload_policy=UploadPolicy(upload_mode=mode))
    first = create(agb, context_syncs=[ContextSync.new(context.id, path, policy)])
    assert first.file.mkdir(path).success
    assert first.file.write(f"{path}/test-file.txt", "mode test " * 100).success
    assert asyncio.run(first.context.sync()).success
    assert first.context.info().success
    listing = agb.context.list_files(context.id, path, page_number=1, page_size=10)
    assert listing.success
    names = [e.file_name for e in listing.entries]
    # The official Archive example checks exactly this: one `.zip` in Archive mode, the
    # file itself in File mode.
    if mode is UploadMode.ARCHIVE:
        assert len(names) == 1 and names[0].endswith(".zip")
    else:
        assert names == ["test-file.txt"]
    assert first.delete(sync_context=True).success
    second = create(agb, context_syncs=[ContextSync.new(context.id, path, policy)])
    try:
        assert second.file.read(f"{path}/test-file.txt").content == "mode test " * 100
    finally:
        second.delete()


def test_a_mapping_policy_carries_files_across_images_and_paths(agb: AGB) -> None:
    context = _context(agb, "mapping")
    browser = _create_on(
        agb, BROWSER, context_syncs=[ContextSync.new(context.id, "/tmp/mapping", SyncPolicy())]
    )
    assert browser.file.write("/tmp/mapping/state.json", '{"from": "browser"}').success
    assert browser.delete(sync_context=True).success
    mapped = SyncPolicy(mapping_policy=MappingPolicy(path="/tmp/mapping"))
    code = create(agb, context_syncs=[ContextSync.new(context.id, "/home/data", mapped)])
    try:
        assert code.file.read("/home/data/state.json").content == '{"from": "browser"}'
        assert [s.path for s in code.context.info().context_status_data] == ["/home/data"]
    finally:
        code.delete()


def _extension_zip(tmp_path: Path) -> Path:
    path = tmp_path / "plugin.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("manifest.json", '{"manifest_version": 3, "name": "t", "version": "1"}')
        zf.writestr("js/background.js", "// nothing")
    path.write_bytes(buffer.getvalue())
    return path


def test_browser_extensions_upload_list_and_unpack(agb: AGB, tmp_path: Path) -> None:
    service = ExtensionsService(agb, _name("extensions"))
    extension = service.create(str(_extension_zip(tmp_path)))  # a requests PUT, with retries
    assert extension.id.startswith("ext_") and extension.id.endswith(".zip")
    assert [e.id for e in service.list()] == [extension.id]
    data = _context(agb, "browser-data")
    option = ExtensionOption(service.context_id, [extension.id])
    browser_context = BrowserContext(data.id, auto_upload=True, extension_option=option)
    session = _create_on(agb, BROWSER, browser_context=browser_context)
    try:
        # The mount `/tmp/extensions/` white-lists the zip, and the extract policy unpacks it
        # into a folder named after it and drops the zip.
        unpacked = f"/tmp/extensions/{extension.id[: -len('.zip')]}"
        assert session.file.read(f"{unpacked}/js/background.js").content == "// nothing"
        assert _sh(session, "ls /tmp/extensions").split() == [extension.id[: -len(".zip")]]
        paths = {s.path for s in session.context.info().context_status_data}
        assert paths == {"/tmp/extensions/", "/tmp/agb_browser_data"}  # echoed as sent
    finally:
        session.delete(sync_context=True)
    # The extension mount is read-only (autoUpload off): the context still holds the zip.
    assert [e.id for e in service.list()] == [extension.id]


def test_upload_and_download_move_exact_bytes_and_report_local_errors(
    agb: AGB, session: Session, tmp_path: Path
) -> None:
    transfer = session.file.transfer_path()
    assert transfer == "/tmp/file_transfer"
    local = tmp_path / "in.bin"
    local.write_bytes(bytes(range(256)) * 1000)
    up = session.file.upload(str(local), f"{transfer}/in.bin")
    assert up.success, up.error_message
    assert up.request_id_upload_url and up.request_id_sync and up.http_status == 200
    assert up.bytes_sent == 256_000 and up.etag
    assert _sh(session, f"sha256sum < {transfer}/in.bin").split()[0] == _sha256(local)

    _sh(session, "mkdir -p /workspace/out && printf result > /workspace/out/r.txt")
    target = tmp_path / "dl" / "r.txt"
    down = session.file.download("/workspace/out/r.txt", str(target))
    assert down.success, down.error_message
    assert target.read_bytes() == b"result" and down.bytes_received == 6
    kept = session.file.download("/workspace/out/r.txt", str(target), overwrite=False)
    assert not kept.success and "overwrite=False" in kept.error_message
    missing = session.file.upload(str(tmp_path / "nope"), f"{transfer}/nope")
    assert not missing.success and "Local file not found" in missing.error_message


def test_file_transfer_quirk_a_bare_remote_name_never_syncs(
    session: Session, tmp_path: Path
) -> None:
    # §14.2 quirk, encoded: with no directory in the remote path the client's own check
    # refuses SyncContext (context id without path), and its wait runs out.
    local = tmp_path / "bare.txt"
    local.write_text("bare")
    result = session.file.upload(str(local), "bare.txt", wait_timeout=0.5, poll_interval=0.1)
    assert not result.success and "Upload sync not finished" in result.error_message


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
