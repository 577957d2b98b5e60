"""`session.file.upload/download/transfer_path` (agb-wire.md §14): the API requests on the
scripted `Wire`, the PUT and GET on a loopback object store standing in for the pre-signed
URLs' host (no authorization header, streamed, `Content-Length` set), progress, and local
files that are never left half-written under their final name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from _support.mock_wire import SESSION_ID, Wire, envelope
from aioagb import AsyncAGB, AsyncSession, InvalidArgumentError
from aioagb._streams import CHUNK_BYTES
from aioagb.modules.transfer import remote_dir

FT = "ft-ctx"
FT_PATH = "/tmp/file_transfer"


@attrs.define
class Store:
    """A loopback object store: PUT stores the body, GET serves it (or misbehaves)."""

    server: TestServer
    objects: dict[str, bytes] = attrs.field(factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = attrs.field(factory=list)
    put_status: int = 200
    get_status: int = 200
    break_get_after: int | None = None  # bytes sent before the connection is dropped
    stall_get_after: int | None = None  # bytes sent before the GET hangs
    stalled: anyio.Event = attrs.field(factory=anyio.Event)

    def url(self, key: str) -> str:
        return str(self.server.make_url(f"/oss/{key}")) + "?Signature=a%2Fb%3D&Expires=9"


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    app = web.Application(client_max_size=1 << 30)
    holder: list[Store] = []

    async def put(request: web.Request) -> web.Response:
        s = holder[0]
        s.seen.append(("PUT", request.path_qs, dict(request.headers)))
        s.objects[request.match_info["key"]] = await request.read()
        return web.Response(status=s.put_status, headers={"ETag": '"e-1"'})

    async def get(request: web.Request) -> web.StreamResponse:
        s = holder[0]
        s.seen.append(("GET", request.path_qs, dict(request.headers)))
        if s.get_status != 200:
            return web.Response(status=s.get_status)
        data = s.objects[request.match_info["key"]]
        response = web.StreamResponse(headers={"Content-Length": str(len(data))})
        await response.prepare(request)
        cut = s.break_get_after if s.break_get_after is not None else s.stall_get_after
        await response.write(data[: cut if cut is not None else len(data)])
        if s.stall_get_after is not None:
            s.stalled.set()
            await anyio.sleep_forever()
        if s.break_get_after is not None:
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response

    app.router.add_put("/oss/{key}", put)
    app.router.add_get("/oss/{key}", get)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    holder.append(Store(server))
    try:
        yield holder[0]
    finally:
        await server.close()


@pytest.fixture
def session(agb: AsyncAGB) -> AsyncSession:
    return AsyncSession(agb, SESSION_ID)


def status(*tasks: dict[str, Any]) -> dict[str, str]:
    return {"contextStatus": json.dumps([{"type": "data", "data": json.dumps(list(tasks))}])}


def done(task_type: str, path: str = FT_PATH, status_: str = "Success") -> dict[str, str]:
    return status({"contextId": FT, "path": path, "status": status_, "taskType": task_type})


def internal_context(wire: Wire) -> None:
    wire.ok(
        "POST",
        "/sdk/GetAndLoadInternalContext",
        [{"contextId": FT, "contextType": "file_transfer", "contextPath": FT_PATH}],
        rid="r-ft",
    )


def requests(wire: Wire) -> list[tuple[str, str, str]]:
    return [(s.method, s.path, s.query) for s in wire.sent]


LOAD = (
    "POST",
    "/sdk/GetAndLoadInternalContext",
    "sessionId=s-1&contextTypes=%5B%22file_transfer%22%5D",
)


def test_remote_dir_is_the_official_rule() -> None:
    """§14.2 step 4, the official `_extract_remote_dir_path`."""
    assert remote_dir("/tmp/file_transfer/a.txt") == "/tmp/file_transfer"
    assert remote_dir("/tmp/file_transfer/sub/") == "/tmp/file_transfer/sub"
    assert remote_dir("/a.txt") == "/"
    assert remote_dir("/") == "/"
    assert remote_dir("a.txt") is None
    assert remote_dir(" ") is None


async def test_transfer_path_loads_the_context_once(wire: Wire, session: AsyncSession) -> None:
    """§14.1: `contextTypes` is json.dumps(["file_transfer"]), body `{}`; cached."""
    wire.ok(
        "POST",
        "/sdk/GetAndLoadInternalContext",
        [
            {"contextId": "", "contextPath": "/x"},
            {"contextId": FT, "contextType": "other", "contextPath": FT_PATH},
        ],
    )
    assert await session.file.transfer_path() == FT_PATH
    assert await session.file.transfer_path() == FT_PATH
    assert requests(wire) == [LOAD]
    assert wire.sent[0].body == b"{}"


async def test_transfer_path_is_none_without_a_context(wire: Wire, session: AsyncSession) -> None:
    wire.ok("POST", "/sdk/GetAndLoadInternalContext", {"not": "an array"})
    assert await session.file.transfer_path() is None


async def test_upload_puts_the_file_to_a_presigned_url_then_syncs_it_into_the_session(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    """§14.2: upload URL, PUT (no authorization, Content-Length, no Content-Type unless
    given, the signature byte for byte), SyncContext mode=download of the parent folder,
    then the wait on GetContextInfo filtered by context, path and task type."""
    local = tmp_path / "model.bin"
    data = bytes(range(256)) * (CHUNK_BYTES // 256 * 2 + 3)  # two chunks and a bit
    local.write_bytes(data)
    remote = f"{FT_PATH}/model.bin"
    internal_context(wire)
    wire.ok("POST", "/sdk/GetContextFileUploadUrl", {"url": store.url("k1")}, rid="r-url")
    wire.ok("POST", "/sdk/SyncContext", rid="r-sync")
    wire.ok("GET", "/sdk/GetContextInfo", {"contextStatus": ""})
    wire.ok("GET", "/sdk/GetContextInfo", done("download"))
    progress: list[int] = []

    result = await session.file.upload(local, remote, progress_cb=progress.append)

    assert result.success, result.error_message
    assert (result.request_id_upload_url, result.request_id_sync) == ("r-url", "r-sync")
    assert (result.http_status, result.etag, result.bytes_sent, result.path) == (
        200,
        '"e-1"',
        len(data),
        remote,
    )
    assert store.objects["k1"] == data
    [(method, path_qs, headers)] = store.seen
    assert (method, path_qs) == ("PUT", "/oss/k1?Signature=a%2Fb%3D&Expires=9")
    assert "Authorization" not in headers and "authorization" not in headers
    assert headers["Content-Length"] == str(len(data))
    assert "Content-Type" not in headers and "Transfer-Encoding" not in headers
    assert progress == [CHUNK_BYTES, 2 * CHUNK_BYTES, len(data)]
    q = "sessionId=s-1&contextId=ft-ctx&path=%2Ftmp%2Ffile_transfer"
    assert requests(wire) == [
        LOAD,
        (
            "POST",
            "/sdk/GetContextFileUploadUrl",
            "contextId=ft-ctx&filePath=%2Ftmp%2Ffile_transfer%2Fmodel.bin",
        ),
        ("POST", "/sdk/SyncContext", f"{q}&mode=download"),
        ("GET", "/sdk/GetContextInfo", f"{q}&taskType=download"),
        ("GET", "/sdk/GetContextInfo", f"{q}&taskType=download"),
    ]


async def test_upload_with_content_type_and_no_wait(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    local = tmp_path / "a.json"
    local.write_text("{}")
    internal_context(wire)
    wire.ok("POST", "/sdk/GetContextFileUploadUrl", {"url": store.url("k")})
    wire.ok("POST", "/sdk/SyncContext")
    result = await session.file.upload(
        str(local), f"{FT_PATH}/a.json", content_type="application/json", wait=False
    )
    assert result.success
    assert store.seen[0][2]["Content-Type"] == "application/json"
    assert wire.paths()[-1] == "POST /sdk/SyncContext"  # no wait


@pytest.mark.parametrize(
    ("setup", "message", "fields"),
    [
        ("missing_file", "Local file not found:", {"request_id_upload_url": None}),
        ("url_refused", "get_file_upload_url failed: denied", {}),
        ("no_url", "get_file_upload_url failed: the server sent no URL", {}),
        (
            "put_403",
            "Upload failed with HTTP 403",
            {"http_status": 403, "request_id_upload_url": "r-url"},
        ),
        (
            "task_error",
            "Upload sync not finished: Task error: no space",
            {"request_id_sync": "r-sync"},
        ),
        ("task_failed", "Upload sync not finished: Task error: Failed", {}),
        ("never_done", "Upload sync not finished: task not finished", {"bytes_sent": 2}),
    ],
)
async def test_upload_failure_is_an_unsuccessful_result_naming_the_step_that_failed(
    wire: Wire,
    session: AsyncSession,
    store: Store,
    tmp_path: Path,
    setup: str,
    message: str,
    fields: dict[str, Any],
) -> None:
    local = tmp_path / "f.txt"
    if setup != "missing_file":
        local.write_text("hi")
    internal_context(wire)
    if setup == "url_refused":
        wire.route(
            "POST",
            "/sdk/GetContextFileUploadUrl",
            status=403,
            payload=envelope(success=False, message="denied"),
        )
    elif setup == "no_url":
        wire.ok("POST", "/sdk/GetContextFileUploadUrl", {"url": ""})
    else:
        wire.ok("POST", "/sdk/GetContextFileUploadUrl", {"url": store.url("k")}, rid="r-url")
    store.put_status = 403 if setup == "put_403" else 200
    wire.ok("POST", "/sdk/SyncContext", rid="r-sync")
    task_status = {"task_error": "Running", "task_failed": "Failed"}.get(setup, "Running")
    error = {"errorMessage": "no space"} if setup == "task_error" else {}
    tasks = status(
        {"contextId": FT, "path": FT_PATH, "status": task_status, "taskType": "download", **error}
    )
    wire.ok("GET", "/sdk/GetContextInfo", tasks, repeat=True)

    result = await session.file.upload(local, f"{FT_PATH}/f.txt", wait_timeout=3, poll_interval=1)

    assert not result.success
    assert result.error_message.startswith(message), result.error_message
    assert result.path == f"{FT_PATH}/f.txt"
    for name, value in fields.items():
        assert getattr(result, name) == value
    if setup == "missing_file":
        assert wire.sent == []  # checked before anything is sent, as the official client


async def test_upload_to_a_bare_file_name_is_refused(
    wire: Wire, session: AsyncSession, tmp_path: Path
):
    """§14.2 quirk: with no folder the official client never syncs and times out; here it
    is an argument error, before anything is sent."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidArgumentError, match="remote_path must be an absolute path"):
        await session.file.upload(tmp_path / "f", "f.txt")
    assert wire.sent == []


async def test_download_syncs_the_file_out_then_gets_it_from_a_presigned_url(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    """§14.3: SyncContext mode=upload and its wait first, then the download URL and GET;
    the folders of `local_path` are made; the file appears complete under its name."""
    data = b"x" * (CHUNK_BYTES + 5)
    store.objects["k2"] = data
    internal_context(wire)
    wire.ok("POST", "/sdk/SyncContext", rid="r-sync")
    wire.ok("GET", "/sdk/GetContextInfo", done("upload", path=f"{FT_PATH}/out"))
    wire.ok("POST", "/sdk/GetContextFileDownloadUrl", {"url": store.url("k2")}, rid="r-url")
    local = tmp_path / "new" / "dir" / "result.bin"
    seen: list[int] = []

    async def progress(received: int) -> None:
        seen.append(received)

    result = await session.file.download(f"{FT_PATH}/out/result.bin", local, progress_cb=progress)

    assert result.success, result.error_message
    assert (result.request_id_sync, result.request_id_download_url) == ("r-sync", "r-url")
    assert (result.http_status, result.bytes_received) == (200, len(data))
    assert result.local_path == str(local)
    assert local.read_bytes() == data
    assert names(local.parent) == ["result.bin"]
    assert seen[-1] == len(data)
    assert "Authorization" not in store.seen[0][2]
    q = "sessionId=s-1&contextId=ft-ctx&path=%2Ftmp%2Ffile_transfer%2Fout"
    assert requests(wire)[1:] == [
        ("POST", "/sdk/SyncContext", f"{q}&mode=upload"),
        ("GET", "/sdk/GetContextInfo", f"{q}&taskType=upload"),
        (
            "POST",
            "/sdk/GetContextFileDownloadUrl",
            "contextId=ft-ctx&filePath=%2Ftmp%2Ffile_transfer%2Fout%2Fresult.bin",
        ),
    ]


def _download_routes(wire: Wire, store: Store, key: str = "k") -> None:
    internal_context(wire)
    wire.ok("POST", "/sdk/SyncContext")
    wire.ok("POST", "/sdk/GetContextFileDownloadUrl", {"url": store.url(key)}, rid="r-url")


async def test_download_http_error_leaves_nothing(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    _download_routes(wire, store)
    store.get_status = 404
    result = await session.file.download(f"{FT_PATH}/a", tmp_path / "a", wait=False)
    assert not result.success and result.error_message == "Download failed with HTTP 404"
    assert result.http_status == 404 and result.request_id_download_url == "r-url"
    assert names(tmp_path) == []


async def test_a_broken_download_keeps_the_old_file_and_no_partial(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    """A connection lost mid-body: the destination keeps its old content, no `.part`."""
    store.objects["k"] = b"n" * (3 * CHUNK_BYTES)
    store.break_get_after = CHUNK_BYTES + 10
    _download_routes(wire, store)
    local = tmp_path / "a"
    local.write_bytes(b"old")
    result = await session.file.download(f"{FT_PATH}/a", local, wait=False)
    assert not result.success and result.error_message.startswith("Download failed:")
    assert local.read_bytes() == b"old"
    assert names(tmp_path) == ["a"]


async def test_a_cancelled_download_leaves_no_partial_file(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    """Cancelled mid-body, after a first chunk was written to the temporary file."""
    store.objects["k"] = b"n" * (3 * CHUNK_BYTES)
    store.stall_get_after = 2 * CHUNK_BYTES
    _download_routes(wire, store)
    local = tmp_path / "a"
    written = anyio.Event()

    def progress(received: int) -> None:
        assert partial_files(tmp_path)  # the bytes are in the `.part` file, not in `a`
        written.set()

    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await session.file.download(f"{FT_PATH}/a", local, wait=False, progress_cb=progress)

        tg.start_soon(run)
        await written.wait()
        tg.cancel_scope.cancel()
    assert names(tmp_path) == []


def partial_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part") and p.stat().st_size]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_download_without_overwrite_fails_before_sending_and_keeps_the_file(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    """§14.3: an existing file with overwrite=False fails; checked here before anything is
    sent (the official client checks after its sync and URL requests)."""
    local = tmp_path / "a"
    local.write_bytes(b"keep")
    result = await session.file.download(f"{FT_PATH}/a", local, overwrite=False)
    assert not result.success
    assert result.error_message == f"Destination exists and overwrite=False: {local}"
    assert wire.sent == [] and local.read_bytes() == b"keep"


async def test_download_sync_wait_times_out(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    internal_context(wire)
    wire.ok("POST", "/sdk/SyncContext", rid="r-sync")
    wire.ok("GET", "/sdk/GetContextInfo", {"contextStatus": ""}, repeat=True)
    result = await session.file.download(
        f"{FT_PATH}/a", tmp_path / "a", wait_timeout=2, poll_interval=1
    )
    assert result.error_message == "Download sync not finished: task not finished"
    assert result.request_id_sync == "r-sync"
    assert wire.paths().count("GET /sdk/GetContextInfo") == 3  # at once, then after 1 s and 2 s


async def test_progress_callback_errors_abort_and_propagate(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    store.objects["k"] = b"n" * (2 * CHUNK_BYTES)
    _download_routes(wire, store)

    def stop(received: int) -> None:
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        await session.file.download(f"{FT_PATH}/a", tmp_path / "a", wait=False, progress_cb=stop)
    assert names(tmp_path) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wait": "yes"}, "wait must be a bool"),
        ({"wait_timeout": 0}, "wait_timeout must be positive"),
        ({"poll_interval": -1}, "poll_interval must be positive"),
        ({"overwrite": 1}, "overwrite must be a bool"),
    ],
)
async def test_download_refuses_bad_arguments_before_sending_anything(
    wire: Wire, session: AsyncSession, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        await session.file.download(f"{FT_PATH}/a", tmp_path / "a", **kwargs)
    assert wire.sent == []


async def test_upload_progress_errors_abort_and_propagate(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    local = tmp_path / "big"
    local.write_bytes(b"u" * (3 * CHUNK_BYTES))
    internal_context(wire)
    wire.ok("POST", "/sdk/GetContextFileUploadUrl", {"url": store.url("k")})

    def stop(sent: int) -> None:
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        await session.file.upload(local, f"{FT_PATH}/big", progress_cb=stop)
    assert "k" not in store.objects


async def test_context_files_up_and_down_without_a_session(
    wire: Wire, agb: AsyncAGB, store: Store, tmp_path: Path
) -> None:
    """`agb.context.upload_file/download_file`: the URL request and the streamed PUT/GET,
    nothing else (no session, no sync)."""
    local = tmp_path / "notes.txt"
    local.write_bytes(b"state")
    wire.ok("POST", "/sdk/GetContextFileUploadUrl", {"url": store.url("n")}, rid="r-up")
    wire.ok("POST", "/sdk/GetContextFileDownloadUrl", {"url": store.url("n")}, rid="r-down")

    up = await agb.context.upload_file("ctx", "/home/data/notes.txt", local)
    down = await agb.context.download_file("ctx", "/home/data/notes.txt", tmp_path / "back.txt")

    assert (up.success, up.request_id, up.bytes_sent, up.request_id_sync) == (True, "r-up", 5, None)
    assert (down.success, down.request_id, down.bytes_received) == (True, "r-down", 5)
    assert (tmp_path / "back.txt").read_bytes() == b"state"
    assert requests(wire) == [
        (
            "POST",
            "/sdk/GetContextFileUploadUrl",
            "contextId=ctx&filePath=%2Fhome%2Fdata%2Fnotes.txt",
        ),
        (
            "POST",
            "/sdk/GetContextFileDownloadUrl",
            "contextId=ctx&filePath=%2Fhome%2Fdata%2Fnotes.txt",
        ),
    ]


async def test_a_download_that_cannot_be_written_is_a_failed_result(
    wire: Wire, session: AsyncSession, store: Store, tmp_path: Path
) -> None:
    """A folder where the file should go: the OS error becomes the result's error."""
    store.objects["k"] = b"data"
    _download_routes(wire, store)
    (tmp_path / "a").mkdir()
    result = await session.file.download(f"{FT_PATH}/a", tmp_path / "a", wait=False)
    assert not result.success and result.error_message.startswith(f"Cannot write {tmp_path / 'a'}")
    assert names(tmp_path) == ["a"]
