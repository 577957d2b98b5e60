"""Pre-signed URLs (agb-wire.md §13.5): served by AGB Local itself, usable with a plain PUT or
GET and no API key, bound by an HMAC to tenant, context, path and method, expiring; anything
else is a 403 envelope. Uploads stream to disk within the tenant's storage quota."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from yarl import URL

from _support.server_app import ENVELOPE_KEYS, KEY_B, Api, make_config, start_api
from _support.server_contexts import all_keys, file_url, get_file, make_context, put_file
from aioagb import _protocol as p
from aioagb.server.presign import Q_TOKEN
from aioagb.server.state import STATE


async def _send(
    api: Api, method: str, url: str, data: object = None
) -> tuple[int, dict[str, object]]:
    # No authorization header: the URL is the authority.
    async with api.client.session.request(method, URL(url, encoded=True), data=data) as resp:
        body = await resp.json(content_type=None)
        return resp.status, body


def _assert_refused(status: int, body: dict[str, object], expected: int, code: str) -> None:
    assert status == expected, body
    assert set(body) == ENVELOPE_KEYS
    assert body["success"] is False and body["code"] == code and body["message"]


async def test_plain_put_and_get_with_no_api_key(api: Api) -> None:
    context_id = await make_context(api, "urls")
    up = await file_url(api, context_id, "/tmp/report.csv", upload=True)
    assert up.data["url"].startswith(str(api.client.make_url("/agb-local/transfer/report.csv")))
    assert isinstance(up.data["expireTime"], int) and up.data["expireTime"] > time.time()
    async with api.client.session.put(up.data["url"], data=b"a,b\n1,2\n") as resp:
        assert resp.status == 200
        etag = resp.headers["ETag"]
    down = await file_url(api, context_id, "/tmp/report.csv", upload=False)
    async with api.client.session.get(down.data["url"]) as resp:
        assert resp.status == 200
        assert await resp.read() == b"a,b\n1,2\n"
        assert resp.headers["ETag"] == etag
        assert resp.headers["Content-Length"] == "8"


def _tampered(url: str, where: str) -> str:
    base, token = url.split(f"{Q_TOKEN}=", 1)
    body, mac = token.split(".")
    if where == "payload":
        body = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    elif where == "mac":
        mac = ("A" if mac[0] != "A" else "B") + mac[1:]
    elif where == "truncated":
        mac = mac[:10]
    elif where == "no-mac":
        return f"{base}{Q_TOKEN}={body}"
    elif where == "garbage":
        return f"{base}{Q_TOKEN}=%FF%00.zz"
    elif where == "missing":
        return base.rstrip("?")
    return f"{base}{Q_TOKEN}={body}.{mac}"


@pytest.mark.parametrize("where", ["payload", "mac", "truncated", "no-mac", "garbage", "missing"])
async def test_a_tampered_url_gets_a_403_envelope(api: Api, where: str) -> None:
    context_id = await make_context(api, "tamper")
    await put_file(api, context_id, "/f.txt", b"original")
    up = await file_url(api, context_id, "/f.txt", upload=True)
    status, body = await _send(api, "PUT", _tampered(up.data["url"], where), b"evil")
    _assert_refused(status, body, 403, "AccessDenied.SignatureMismatch")
    down = await file_url(api, context_id, "/f.txt", upload=False)
    status, body = await _send(api, "GET", _tampered(down.data["url"], where))
    _assert_refused(status, body, 403, "AccessDenied.SignatureMismatch")
    assert await get_file(api, context_id, "/f.txt") == b"original"


async def test_another_path_or_tenant_cannot_be_put_into_a_token(api: Api) -> None:
    # Another URL's payload with this URL's signature: the signature covers every field.
    context_id = await make_context(api, "swap")
    mine = (await file_url(api, context_id, "/mine.txt", upload=True)).data["url"]
    other = (await file_url(api, context_id, "/other.txt", upload=True)).data["url"]
    mine_body, mine_mac = mine.split(f"{Q_TOKEN}=")[1].split(".")
    other_body = other.split(f"{Q_TOKEN}=")[1].split(".")[0]
    swapped = mine.replace(f"{mine_body}.{mine_mac}", f"{other_body}.{mine_mac}")
    status, body = await _send(api, "PUT", swapped, b"x")
    _assert_refused(status, body, 403, "AccessDenied.SignatureMismatch")
    assert await all_keys(api, context_id) == []


async def test_a_url_is_bound_to_its_method(api: Api) -> None:
    context_id = await make_context(api, "method")
    await put_file(api, context_id, "/f.txt", b"data")
    up = (await file_url(api, context_id, "/f.txt", upload=True)).data["url"]
    down = (await file_url(api, context_id, "/f.txt", upload=False)).data["url"]
    _assert_refused(*await _send(api, "GET", up), 403, "AccessDenied.SignatureMismatch")
    _assert_refused(*await _send(api, "PUT", down, b"x"), 403, "AccessDenied.SignatureMismatch")
    _assert_refused(*await _send(api, "POST", up, b"x"), 405, "InvalidAction.MethodNotAllowed")
    assert await get_file(api, context_id, "/f.txt") == b"data"


async def test_an_expired_url_gets_a_403_envelope(api: Api) -> None:
    context_id = await make_context(api, "expiry")
    await put_file(api, context_id, "/f.txt", b"data")
    up = await file_url(api, context_id, "/f.txt", upload=True)
    down = await file_url(api, context_id, "/f.txt", upload=False)
    signer = api.app[STATE].persistence.signer
    ttl = api.app[STATE].config.presigned_url_ttl_s
    signer.clock = lambda: time.time() + ttl + 5  # the server's clock, past the expiry
    _assert_refused(*await _send(api, "PUT", up.data["url"], b"x"), 403, "AccessDenied.UrlExpired")
    _assert_refused(*await _send(api, "GET", down.data["url"]), 403, "AccessDenied.UrlExpired")
    signer.clock = time.time
    assert await get_file(api, context_id, "/f.txt") == b"data"


async def test_a_url_of_a_deleted_context_finds_nothing(api: Api) -> None:
    context_id = await make_context(api, "gone")
    await put_file(api, context_id, "/f.txt", b"data")
    down = (await file_url(api, context_id, "/f.txt", upload=False)).data["url"]
    up = (await file_url(api, context_id, "/g.txt", upload=True)).data["url"]
    await api.call("POST", p.PATH_DELETE_CONTEXT, params={"id": context_id})
    _assert_refused(*await _send(api, "GET", down), 404, "InvalidContext.NotFound")
    _assert_refused(*await _send(api, "PUT", up, b"x"), 404, "InvalidContext.NotFound")


async def test_a_download_url_of_a_deleted_file_is_a_404(api: Api) -> None:
    context_id = await make_context(api, "file-gone")
    await put_file(api, context_id, "/f.txt", b"data")
    down = (await file_url(api, context_id, "/f.txt", upload=False)).data["url"]
    params = {"contextId": context_id, "filePath": "/f.txt"}
    await api.call("POST", p.PATH_DELETE_CONTEXT_FILE, params=params)
    _assert_refused(*await _send(api, "GET", down), 404, "InvalidContextFile.NotFound")


# --- the storage quota ---------------------------------------------------------------------


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[Api]:
    started = await start_api(tmp_path, make_config(storage_quota_bytes=1000))
    try:
        yield started
    finally:
        await started.client.close()


def _staged(api: Api) -> list[Path]:
    return list(api.app[STATE].persistence.store.blobs.staging_dir.iterdir())


async def test_an_upload_past_the_quota_is_refused_before_it_is_read(small: Api) -> None:
    context_id = await make_context(small, "q")
    up = (await file_url(small, context_id, "/big", upload=True)).data["url"]
    _assert_refused(*await _send(small, "PUT", up, b"x" * 1001), 413, "QuotaExceeded.Storage")
    assert await all_keys(small, context_id) == [] and _staged(small) == []


async def test_a_streamed_upload_past_the_quota_is_cut_and_leaves_nothing(small: Api) -> None:
    context_id = await make_context(small, "q")

    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length to check first
        for _ in range(20):
            yield b"y" * 100
            await asyncio.sleep(0)

    up = (await file_url(small, context_id, "/big", upload=True)).data["url"]
    _assert_refused(*await _send(small, "PUT", up, chunks()), 413, "QuotaExceeded.Storage")
    assert await all_keys(small, context_id) == [] and _staged(small) == []
    store = small.app[STATE].persistence.store
    assert list(store.blobs.sealed_ids()) == []


async def test_the_quota_counts_every_context_of_a_key_and_only_that_key(small: Api) -> None:
    first = await make_context(small, "one")
    second = await make_context(small, "two")
    await put_file(small, first, "/a", b"a" * 600)
    up = (await file_url(small, second, "/b", upload=True)).data["url"]
    _assert_refused(*await _send(small, "PUT", up, b"b" * 600), 413, "QuotaExceeded.Storage")
    await put_file(small, first, "/a", b"a" * 900)  # replacing a file frees its old size
    other = await make_context(small, "theirs", key=KEY_B)
    await put_file(small, other, "/c", b"c" * 900, key=KEY_B)
    assert await get_file(small, first, "/a") == b"a" * 900


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(400):  # the server acts when it reads from the socket; give it the time
        if condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the server never got there")


async def test_a_body_cut_short_is_not_stored(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    context_id = await make_context(api, "short")
    url = URL((await file_url(api, context_id, "/f", upload=True)).data["url"], encoded=True)
    _, writer = await asyncio.open_connection(url.host, url.port)
    head = (
        f"PUT {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host}\r\nContent-Length: 100\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + b"z" * 40)
    await writer.drain()
    await _until(lambda: bool(_staged(api)))  # the upload is being received
    writer.close()  # 60 bytes short
    await writer.wait_closed()
    await _until(lambda: not _staged(api))  # and was dropped, not stored
    assert await all_keys(api, context_id) == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_urls_outlive_a_restart_of_the_server(tmp_path: Path) -> None:
    config = make_config(data_dir=tmp_path / "data")
    api = await start_api(tmp_path / "first", config)
    try:
        context_id = await make_context(api, "kept")
        await put_file(api, context_id, "/f.txt", b"kept")
        down = (await file_url(api, context_id, "/f.txt", upload=False)).data["url"]
    finally:
        await api.client.close()
    again = await start_api(tmp_path / "second", config)
    try:
        path_qs = URL(down, encoded=True).raw_path_qs
        async with again.client.session.get(again.client.make_url(path_qs)) as resp:
            assert resp.status == 200 and await resp.read() == b"kept"
    finally:
        await again.client.close()
