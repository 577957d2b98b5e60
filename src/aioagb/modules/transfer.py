"""`session.file.upload/download/transfer_path`: files between this machine and a session,
through the session's file-transfer context and pre-signed URLs (protocol §14).

Upload: the file is stored in the session's file-transfer context (`agb.context`'s streamed
`upload_file`), then the session downloads it from there (SyncContext `mode=download`).
Download: the session uploads the file to the context (SyncContext `mode=upload`), then it
is fetched (`download_file`). Streaming, temporary files and cleanup: see `aioagb._streams`.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import anyio
import attrs

from .. import _protocol as p
from .. import _sync
from .. import _validate as v
from .._protocol import requests as rq
from .._protocol.replies import internal_context_from, reply_error
from .._streams import Progress, refuse_existing
from ..context import ContextService, with_details
from ..errors import AGBError, ContextSyncError, FileTransferError
from ..models import DownloadResult, UploadResult
from ._channel import SessionChannel

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


class FileTransfer:
    """Uploads and downloads of one session (the official `FileTransfer`), behind
    `session.file.upload`, `download` and `transfer_path`.

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

    async def _upload(
        self,  # the arguments checked by `session.file.upload`
        local: Path,
        remote: str,
        folder: str,
        content_type: str | None,
        timing: tuple[bool, float, float],
        progress: Progress | None,
    ) -> UploadResult:
        facts: dict[str, object] = {"path": remote}
        try:
            if not await anyio.Path(local).is_file():  # before anything is sent (§14.2)
                raise FileTransferError(f"Local file not found: {local}")
            context_id = await self._ensure()
            put = await self._contexts._upload_file(
                context_id, remote, local, content_type, progress
            )
            facts.update(
                request_id_upload_url=put.request_id_upload_url,
                http_status=put.http_status,
                etag=put.etag,
                bytes_sent=put.bytes_sent,
            )
            await self._sync(context_id, folder, p.SYNC_DOWNLOAD, timing, "Upload", facts)
        except AGBError as exc:
            raise with_details(exc, facts) from exc.__cause__
        sync_id = str(facts["request_id_sync"])
        return attrs.evolve(put, request_id=sync_id, request_id_sync=sync_id)

    # --- download (§14.3) --------------------------------------------------------------------

    async def _download(
        self,  # the arguments checked by `session.file.download`
        remote: str,
        folder: str,
        local: Path,
        overwrite: bool,
        timing: tuple[bool, float, float],
        progress: Progress | None,
    ) -> DownloadResult:
        facts: dict[str, object] = {"path": remote, "local_path": str(local)}
        try:
            await refuse_existing(local, overwrite)  # before anything is sent
            context_id = await self._ensure()
            await self._sync(context_id, folder, p.SYNC_UPLOAD, timing, "Download", facts)
            got = await self._contexts._download_file(
                context_id, remote, local, overwrite, progress
            )
        except AGBError as exc:
            raise with_details(exc, facts) from exc.__cause__
        return attrs.evolve(got, request_id_sync=str(facts["request_id_sync"]))

    # --- shared steps ------------------------------------------------------------------------

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


def check_remote(remote_path: object) -> tuple[str, str]:
    """`remote_path` and the folder its transfer syncs; a bare file name is refused."""
    remote = v.check_path("remote_path", remote_path)
    folder = remote_dir(remote)
    if folder is None:
        raise v.fail(
            f"remote_path must be an absolute path in the session, such as "
            f"<transfer_path()>/{remote.strip()}; got {remote!r}"
        )
    return remote, folder


def check_timing(
    wait: object, wait_timeout: object, poll_interval: object
) -> tuple[bool, float, float]:
    """`wait`, `wait_timeout` and `poll_interval`, checked."""
    return (
        v.check_flag("wait", wait),
        v.check_seconds("wait_timeout", wait_timeout),
        v.check_seconds("poll_interval", poll_interval),
    )
