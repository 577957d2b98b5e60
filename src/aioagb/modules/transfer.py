"""`session.file.upload/download/transfer_path`: files between this machine and a session,
through the session's file-transfer context and pre-signed URLs (protocol §14).

Upload: the file is `PUT` to a pre-signed URL of the file-transfer context, then the session
downloads it from the context (SyncContext `mode=download`). Download: the session uploads
the file to the context (SyncContext `mode=upload`), then it is fetched with `GET`. Both
stream from and to disk in 1 MiB chunks, so a file of any size takes constant memory; a
download goes to a temporary file next to its destination and is renamed into place only
when complete (removed on failure and on cancellation). The PUT and GET carry no
authorization header: the URL is the credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path, PurePosixPath

import aiohttp
import anyio
from yarl import URL

from .. import _protocol as p
from .. import _sync
from .. import _validate as v
from .._protocol import requests as rq
from .._protocol.replies import internal_context_from, reply_error
from .._results import seed
from ..context import ContextService
from ..errors import AGBError, ContextSyncError, FileTransferError
from ..models import DownloadResult, FileUrlResult, UploadResult
from ._channel import SessionChannel

CHUNK_BYTES = 1 << 20
PUT_OK = (200, 201, 204)  # what the official client accepts from the PUT (§14.2)
Progress = Callable[[int], object]  # cumulative bytes; may be a coroutine function
LocalPath = str | os.PathLike[str]


def remote_dir(remote_path: str) -> str | None:
    """The folder a transfer syncs (§14.2 step 4): the POSIX parent of `remote_path`, or
    `remote_path` itself when it ends with `/`; None for a bare file name."""
    raw = remote_path.strip().replace("\\", "/")
    if not raw:
        return None
    if raw.endswith("/"):
        return raw.rstrip("/") or "/"
    parent = str(PurePosixPath(raw).parent)
    return None if parent == "." else parent


async def _report(progress: Progress | None, done: int) -> None:
    if progress is not None:
        outcome = progress(done)
        if inspect.isawaitable(outcome):
            await outcome


def _with_details(error: AGBError, facts: dict[str, object]) -> AGBError:
    """`error` with what the transfer had done (request ids, status, ...) in its details,
    so the failed result carries them as the official one does."""
    error.details = {**facts, **error.details}
    return error


class FileTransfer:
    """Uploads and downloads of one session (the official `FileTransfer`).

    `context_id` and `context_path` are the session's file-transfer context, known after the
    first transfer or `transfer_path()`.
    """

    def __init__(self, channel: SessionChannel) -> None:
        self._channel = channel
        self._contexts = ContextService(channel.engine)
        self.context_id: str | None = None
        self.context_path: str | None = None

    # --- the file-transfer context (§14.1) ---------------------------------------------------

    async def ensure_context_id(self) -> tuple[bool, str]:
        """Load the file-transfer context (once); (True, "") or (False, the reason)."""
        try:
            await self._ensure()
        except AGBError as exc:
            return False, exc.message
        return True, ""

    async def transfer_path(self) -> str | None:
        """The folder of the session that transfers go through (e.g. `/tmp/file_transfer`),
        or None when the server has none for this session."""
        ok, _ = await self.ensure_context_id()
        return self.context_path if ok else None

    async def _ensure(self) -> str:
        """Raising style: the file-transfer context's id, loaded on first use."""
        if self.context_id is None:
            request = rq.get_and_load_internal_context(self._channel.session_id)
            reply = await self._channel.expect(request, "HTTP {status} error", exactly_200=True)
            found = internal_context_from(reply)
            if found is None:
                raise reply_error(reply, "Response contains no data")
            self.context_id, self.context_path = found
        return self.context_id

    # --- upload (§14.2) ----------------------------------------------------------------------

    async def upload(
        self,
        local_path: LocalPath,
        remote_path: str,
        *,
        content_type: str | None = None,
        wait: bool = True,
        wait_timeout: float = 30.0,
        poll_interval: float = 1.5,
        progress_cb: Progress | None = None,
    ) -> UploadResult:
        """Copy the local file `local_path` to `remote_path` in the session (an absolute
        path, in practice under `transfer_path()`).

        With `wait` (the default), returns once the session has the file, polling every
        `poll_interval` seconds for up to `wait_timeout`. `progress_cb(bytes_sent)` is called
        after each chunk; an exception from it stops the upload and propagates.
        """
        local = Path(os.fspath(local_path))
        remote, folder = _remote(remote_path)
        if content_type is not None:
            v.check_text("content_type", content_type)
        timing = _timing(wait, wait_timeout, poll_interval)
        operation = self._upload(local, remote, folder, content_type, timing, progress_cb)
        return await seed(UploadResult, operation)

    async def _upload(
        self,
        local: Path,
        remote: str,
        folder: str,
        content_type: str | None,
        timing: tuple[bool, float, float],
        progress: Progress | None,
    ) -> UploadResult:
        facts: dict[str, object] = {"path": remote}
        try:
            if not await anyio.Path(local).is_file():
                raise FileTransferError(f"Local file not found: {local}")
            context_id = await self._ensure()
            url = await self._url(context_id, remote, upload=True)
            facts["request_id_upload_url"] = url.request_id
            status, etag, sent = await self._put(url.url, local, content_type, progress)
            facts.update(http_status=status, etag=etag, bytes_sent=sent)
            if status not in PUT_OK:
                raise FileTransferError(f"Upload failed with HTTP {status}")
            await self._sync(context_id, folder, p.SYNC_DOWNLOAD, timing, "Upload", facts)
        except AGBError as exc:
            raise _with_details(exc, facts) from exc.__cause__
        return UploadResult(
            request_id=str(facts["request_id_sync"]),
            success=True,
            request_id_upload_url=url.request_id,
            request_id_sync=str(facts["request_id_sync"]),
            http_status=status,
            etag=etag,
            bytes_sent=sent,
            path=remote,
        )

    async def _put(
        self, url: str, local: Path, content_type: str | None, progress: Progress | None
    ) -> tuple[int, str | None, int]:
        size = (await anyio.Path(local).stat()).st_size
        headers = {"Content-Length": str(size)}
        if content_type:
            headers["Content-Type"] = content_type
        http = self._channel.engine.http_session()
        # The file is opened and closed here, in this task: aiohttp reads the body in a task
        # of its own and may leave the generator suspended after the last byte.
        async with await anyio.open_file(local, "rb") as source:
            body = _FileBody(source, local, size, progress)
            try:
                async with http.put(
                    URL(url, encoded=True),  # a signature must reach the server byte for byte
                    data=body.chunks(),
                    headers=headers,
                    skip_auto_headers=() if content_type else ("Content-Type",),
                    timeout=self._http_timeout(),
                ) as response:
                    await response.read()
                    return response.status, response.headers.get("ETag"), size
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                if body.failure is not None:  # aiohttp wraps what the body raised: unwrap it
                    raise body.failure from None
                raise _network_error("Upload", exc) from None

    # --- download (§14.3) --------------------------------------------------------------------

    async def download(
        self,
        remote_path: str,
        local_path: LocalPath,
        *,
        overwrite: bool = True,
        wait: bool = True,
        wait_timeout: float = 30.0,
        poll_interval: float = 1.5,
        progress_cb: Progress | None = None,
    ) -> DownloadResult:
        """Copy `remote_path` of the session to the local file `local_path` (its folders
        are made). The file appears under its name only when complete: it is written to a
        temporary file next to it, renamed at the end, and removed on failure or
        cancellation. `overwrite=False` fails when `local_path` exists.

        With `wait` (the default), the session's upload of the file to the transfer
        context is awaited (every `poll_interval` seconds, up to `wait_timeout`) before the
        GET. `progress_cb(bytes_received)` is called after each chunk.
        """
        remote, folder = _remote(remote_path)
        local = Path(os.fspath(local_path))
        if not isinstance(overwrite, bool):
            raise v.fail(f"overwrite must be a bool, got {overwrite!r}")
        timing = _timing(wait, wait_timeout, poll_interval)
        operation = self._download(remote, folder, local, overwrite, timing, progress_cb)
        return await seed(DownloadResult, operation)

    async def _download(
        self,
        remote: str,
        folder: str,
        local: Path,
        overwrite: bool,
        timing: tuple[bool, float, float],
        progress: Progress | None,
    ) -> DownloadResult:
        facts: dict[str, object] = {"path": remote, "local_path": str(local)}
        try:
            await _refuse_existing(local, overwrite)
            context_id = await self._ensure()
            await self._sync(context_id, folder, p.SYNC_UPLOAD, timing, "Download", facts)
            url = await self._url(context_id, remote, upload=False)
            facts["request_id_download_url"] = url.request_id
            received = await self._get(url.url, local, overwrite, progress, facts)
        except AGBError as exc:
            raise _with_details(exc, facts) from exc.__cause__
        return DownloadResult(
            request_id=url.request_id,
            success=True,
            request_id_download_url=url.request_id,
            request_id_sync=str(facts["request_id_sync"]),
            http_status=200,
            bytes_received=received,
            path=remote,
            local_path=str(local),
        )

    async def _get(
        self,
        url: str,
        local: Path,
        overwrite: bool,
        progress: Progress | None,
        facts: dict[str, object],
    ) -> int:
        await anyio.Path(local.parent).mkdir(parents=True, exist_ok=True)
        partial = local.parent / f".{local.name}.aioagb-{secrets.token_hex(4)}.part"
        http = self._channel.engine.http_session()
        try:
            async with http.get(URL(url, encoded=True), timeout=self._http_timeout()) as response:
                facts["http_status"] = response.status
                if response.status != 200:
                    raise FileTransferError(f"Download failed with HTTP {response.status}")
                received = await _write_chunks(response, partial, progress)
            await _refuse_existing(local, overwrite)  # it may have appeared meanwhile
            await anyio.Path(partial).replace(local)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            await _remove(partial)
            raise _network_error("Download", exc) from None
        except BaseException:
            await _remove(partial)
            raise
        return received

    # --- shared steps ------------------------------------------------------------------------

    async def _url(self, context_id: str, remote: str, *, upload: bool) -> FileUrlResult:
        name = "get_file_upload_url" if upload else "get_file_download_url"
        try:
            url = await self._contexts._signed_url(context_id, remote, upload=upload)
        except AGBError as exc:
            raise exc.prefixed(f"{name} failed: ") from exc.__cause__
        if not url.url:
            raise FileTransferError(f"{name} failed: the server sent no URL")
        return url

    async def _sync(
        self,
        context_id: str,
        folder: str,
        mode: str,
        timing: tuple[bool, float, float],
        what: str,
        facts: dict[str, object],
    ) -> None:
        """SyncContext of the transfer folder, then (with `wait`) the task wait (§14.2);
        the sync's request id goes in `facts["request_id_sync"]`."""
        channel, session_id = self._channel, self._channel.session_id
        request_id = await _sync.start_sync(channel, session_id, context_id, folder, mode)
        facts["request_id_sync"] = request_id
        wait, timeout, interval = timing
        if wait:
            try:
                await _sync.wait_for_task(
                    channel,
                    session_id,
                    context_id,
                    folder,
                    mode,
                    interval=interval,
                    timeout=timeout,
                )
            except ContextSyncError as exc:
                prefixed = exc.prefixed(f"{what} sync not finished: ")
                prefixed.request_id = prefixed.request_id or request_id
                raise prefixed from None

    def _http_timeout(self) -> aiohttp.ClientTimeout:
        # No total: a large file takes as long as it takes; but the connection must open,
        # and data must keep flowing, within the client's request timeout.
        seconds = self._channel.engine.request_timeout
        return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)


def _remote(remote_path: object) -> tuple[str, str]:
    remote = v.check_path("remote_path", remote_path)
    folder = remote_dir(remote)
    if folder is None:
        raise v.fail(
            f"remote_path must be an absolute path in the session, such as "
            f"<transfer_path()>/{remote.strip()}; got {remote!r}"
        )
    return remote, folder


def _timing(wait: object, wait_timeout: object, poll_interval: object) -> tuple[bool, float, float]:
    if not isinstance(wait, bool):
        raise v.fail(f"wait must be a bool, got {wait!r}")
    return (
        wait,
        v.check_seconds("wait_timeout", wait_timeout),
        v.check_seconds("poll_interval", poll_interval),
    )


async def _refuse_existing(local: Path, overwrite: bool) -> None:
    if not overwrite and await anyio.Path(local).exists():
        raise FileTransferError(f"Destination exists and overwrite=False: {local}")


def _network_error(what: str, exc: BaseException) -> FileTransferError:
    if isinstance(exc, asyncio.TimeoutError):
        return FileTransferError(f"{what} timed out: no data within the request timeout")
    return FileTransferError(f"{what} failed: {type(exc).__name__}: {exc}")


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
