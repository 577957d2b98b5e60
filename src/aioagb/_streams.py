"""Files to and from pre-signed URLs, streamed (protocol §13.5, §14). What `agb.context`'s
file transfers and `session.file.upload/download` share.

Both directions stream between disk and the network in 1 MiB chunks, so a file of any size
takes constant memory, over the client's aiohttp session (`Engine.http_session()`). The PUT
and GET carry no authorization header (the URL is the credential) and send the URL byte for
byte. A download goes to a temporary file next to its destination, renamed into place only
when complete, and removed on failure and on cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import anyio
from yarl import URL

from ._engine import Engine
from .errors import FileTransferError

CHUNK_BYTES = 1 << 20
PUT_OK = (200, 201, 204)  # what the official client accepts from the PUT (§14.2)
Progress = Callable[[int], object]  # cumulative bytes; may be a coroutine function


async def put_file(
    engine: Engine, url: str, local: Path, content_type: str | None, progress: Progress | None
) -> tuple[int, str | None, int]:
    """PUT the file at `url`; (HTTP status, ETag, bytes sent). A status other than 200, 201
    or 204 raises `FileTransferError` ("Upload failed with HTTP N", the status, ETag and
    size in its details), and so does a file that cannot be read; an exception from
    `progress` aborts and propagates."""
    try:
        size = (await anyio.Path(local).stat()).st_size
        source = await anyio.open_file(local, "rb")
    except OSError as exc:
        raise FileTransferError(f"Cannot read {local}: {exc.strerror or exc}") from None
    headers = {"Content-Length": str(size)}  # a pre-signed PUT is not chunked
    if content_type:
        headers["Content-Type"] = content_type
    http = engine.http_session()
    # The file is opened and closed here, in this task: aiohttp reads the body in a task of
    # its own and may leave the generator suspended after the last byte.
    async with source:
        body = _FileBody(source, local, size, progress)
        try:
            async with http.put(
                URL(url, encoded=True),  # a signature must reach the server byte for byte
                data=body.chunks(),
                headers=headers,
                skip_auto_headers=() if content_type else ("Content-Type",),
                timeout=_timeout(engine),
            ) as response:
                await response.read()
                status, etag = response.status, response.headers.get("ETag")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            if body.failure is not None:  # aiohttp wraps what the body raised: unwrap it
                raise body.failure from None
            raise _network_error("Upload", exc) from None
    if status not in PUT_OK:
        raise FileTransferError(
            f"Upload failed with HTTP {status}",
            details={"http_status": status, "etag": etag, "bytes_sent": size},
        )
    return status, etag, size


async def get_file(
    engine: Engine, url: str, local: Path, overwrite: bool, progress: Progress | None
) -> int:
    """GET `url` into the file `local` (its folders made); the bytes received. Anything but
    HTTP 200 raises `FileTransferError` ("Download failed with HTTP N"), and so does a file
    that cannot be written (nothing is left of it)."""
    await refuse_existing(local, overwrite)
    try:
        await anyio.Path(local.parent).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileTransferError(f"Cannot write {local}: {exc.strerror or exc}") from None
    partial = local.parent / f".{local.name}.aioagb-{secrets.token_hex(4)}.part"
    http = engine.http_session()
    try:
        async with http.get(URL(url, encoded=True), timeout=_timeout(engine)) as response:
            if response.status != 200:
                raise FileTransferError(
                    f"Download failed with HTTP {response.status}",
                    details={"http_status": response.status},
                )
            received = await _write_chunks(response, partial, progress)
        await refuse_existing(local, overwrite)  # it may have appeared meanwhile
        await anyio.Path(partial).replace(local)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        await _remove(partial)
        raise _network_error("Download", exc) from None
    except OSError as exc:  # the disk: full, read-only, a folder in the way
        await _remove(partial)
        raise FileTransferError(f"Cannot write {local}: {exc.strerror or exc}") from None
    except BaseException:
        await _remove(partial)
        raise
    return received


async def refuse_existing(local: Path, overwrite: bool) -> None:
    """`FileTransferError` when `local` exists and may not be overwritten."""
    if not overwrite and await anyio.Path(local).exists():
        raise FileTransferError(f"Destination exists and overwrite=False: {local}")


def _timeout(engine: Engine) -> aiohttp.ClientTimeout:
    # No total: a large file takes as long as it takes; but the connection must open, and
    # data must keep flowing, within the client's request timeout.
    seconds = engine.request_timeout
    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)


def _network_error(what: str, exc: BaseException) -> FileTransferError:
    if isinstance(exc, asyncio.TimeoutError):
        return FileTransferError(f"{what} timed out: no data within the request timeout")
    return FileTransferError(f"{what} failed: {type(exc).__name__}: {exc}")


async def _report(progress: Progress | None, done: int) -> None:
    if progress is not None:
        outcome = progress(done)
        if inspect.isawaitable(outcome):
            await outcome


class _FileBody:
    """The file's first `size` bytes (its size when the upload started), chunk by chunk,
    for aiohttp to send. aiohttp runs it in its own writer task and wraps what it raises in a
    connection error: `failure` keeps the original (a progress callback's, a read's)."""

    def __init__(
        self, source: anyio.AsyncFile[bytes], local: Path, size: int, progress: Progress | None
    ) -> None:
        self.source, self.local, self.size, self.progress = source, local, size, progress
        self.failure: BaseException | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            sent = 0
            while sent < self.size:
                chunk = await self.source.read(min(CHUNK_BYTES, self.size - sent))
                if not chunk:
                    raise FileTransferError(f"{self.local} shrank during the upload")
                sent += len(chunk)
                yield chunk
                await _report(self.progress, sent)
        except Exception as exc:
            self.failure = exc
            raise


async def _write_chunks(
    response: aiohttp.ClientResponse, partial: Path, progress: Progress | None
) -> int:
    """Stream the body into `partial` in writes of about 1 MiB; the bytes written."""
    received = 0
    pending = bytearray()
    async with await anyio.open_file(partial, "wb") as target:
        async for piece in response.content.iter_chunked(CHUNK_BYTES):
            pending += piece
            if len(pending) >= CHUNK_BYTES:
                await target.write(bytes(pending))
                received += len(pending)
                pending.clear()
                await _report(progress, received)
        if pending:
            await target.write(bytes(pending))
            received += len(pending)
            await _report(progress, received)
    return received


async def _remove(path: Path) -> None:
    """Remove a partial download, even when cancelled (shielded, bounded)."""
    with anyio.CancelScope(shield=True), anyio.move_on_after(10), contextlib.suppress(OSError):
        await anyio.Path(path).unlink(missing_ok=True)
