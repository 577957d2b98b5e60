"""`agb.context`: the contexts of an API key, and the files stored in them (protocol §13).

A context is a named file store that outlives sessions: mount it in a session with
`CreateSessionParams(context_syncs=[ContextSync(...)])` (see `aioagb.context_sync` and
docs/guides/persistence.md), or read and write its files here through pre-signed URLs.

The methods have the official `ContextService`'s names, arguments and results, and its
validation messages; as everywhere in aioagb, invalid arguments raise `InvalidArgumentError`
(nothing is sent) where the official client returns a failed result. Each operation is
written once in raising style and wrapped by `_results.seed` (see `aioagb.errors`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from . import _protocol as p
from . import _validate as v
from ._engine import Engine
from ._polling import poll
from ._protocol import requests as rq
from ._protocol.replies import Reply, context_files_from, context_from, contexts_page
from ._results import seed
from ._streams import Progress, get_file, put_file, refuse_existing
from .errors import AGBError, ClearanceTimeoutError, FileTransferError
from .models import (
    ClearContextResult,
    Context,
    ContextFileListResult,
    ContextListParams,
    ContextListResult,
    ContextResult,
    DownloadResult,
    FileUrlResult,
    OperationResult,
    UploadResult,
)

__all__ = ["ContextService"]

FALLBACK = "HTTP {status} error"  # the official text when the server gives no message (§13.1)
MAX_PAGE_SIZE = 100


def _optional(name: str, value: object) -> str | None:
    """A name or id that may be absent: trimmed, and blank counts as absent (§13.3)."""
    if value is None:
        return None
    text = v.check_text(name, value, allow_empty=True).strip()
    return text or None


def _required(name: str, value: object) -> str:
    """An id or path that must be given: trimmed; the official message when it is not."""
    text = _optional(name, value)
    if text is None:
        raise v.fail(f"{name} cannot be empty or None")
    return text


def with_details(error: AGBError, facts: dict[str, object]) -> AGBError:
    """`error` with what a transfer had done (request ids, status, ...) in its details, so
    the failed result carries them as the official one does (the error's own win)."""
    error.details = {**facts, **error.details}
    return error


def _context_fields(context: object, *, need_name: bool) -> tuple[str, str]:
    if context is None:
        raise v.fail("context cannot be None")
    if not isinstance(context, Context):
        raise v.fail(f"context must be a Context, got {type(context).__name__}")
    context_id = _required("context.id", context.id)
    name = _required("context.name", context.name) if need_name else ""
    return context_id, name


class ContextService:
    """The contexts of this client's API key (the official `agb.context`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def _expect(self, request: rq.ApiRequest) -> Reply:
        return await self._engine.expect(request, FALLBACK, exactly_200=True)

    # --- listing -----------------------------------------------------------------------------

    async def list(self, params: ContextListParams | None = None) -> ContextListResult:
        """One page of contexts (`GET /sdk/ListContexts`); pass the previous page's
        `next_token` in `ContextListParams` for the next one, or use `iter_contexts()`.

        Unlike the official client, `next_token`, `max_results` and `total_count` are read
        where the server puts them (§13.2), so the pages can be walked."""
        params = params if params is not None else ContextListParams()
        if not isinstance(params, ContextListParams):
            raise v.fail(f"params must be ContextListParams, got {type(params).__name__}")
        max_results = params.max_results
        if max_results is None:
            max_results = p.DEFAULT_CONTEXT_LIST_LIMIT
        v.check_positive_int("max_results", max_results, maximum=MAX_PAGE_SIZE)
        token = _optional("next_token", params.next_token)
        return await seed(ContextListResult, self._list(max_results, token))

    async def _list(self, max_results: int, token: str | None) -> ContextListResult:
        reply = await self._expect(rq.list_contexts(max_results, token))
        page = contexts_page(reply)
        return ContextListResult(
            request_id=reply.request_id,
            success=True,
            contexts=page.contexts,
            next_token=page.next_token,
            max_results=page.max_results or max_results,
            total_count=page.total_count,
        )

    async def iter_contexts(
        self, *, page_size: int = p.DEFAULT_CONTEXT_LIST_LIMIT
    ) -> AsyncIterator[Context]:
        """Every context of the API key, one request per page, following `next_token` to
        the end. Async-native: a failed page raises its typed error."""
        v.check_positive_int("page_size", page_size, maximum=MAX_PAGE_SIZE)
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = await self._list(page_size, token)
            for context in page.contexts:
                yield context
            token = page.next_token
            if not token or token in seen:  # a token seen before would loop forever
                return
            seen.add(token)

    # --- one context -------------------------------------------------------------------------

    async def get(
        self,
        name: str | None = None,
        create: bool = False,
        login_region_id: str | None = None,
        context_id: str | None = None,
    ) -> ContextResult:
        """A context by `context_id` or by `name` (`GET /sdk/GetContext`); with
        `create=True`, the context of that name, made if it does not exist (the same one
        every time). `login_region_id`: the cloud's region (default cn-hangzhou)."""
        name = _optional("name", name)
        context_id = _optional("context_id", context_id)
        region = _optional("login_region_id", login_region_id)
        v.check_flag("create", create)
        if not context_id and not name:
            raise v.fail("Either context_id or name must be provided (cannot both be empty)")
        if create and context_id:
            raise v.fail(
                "context_id cannot be provided when create=True "
                "(only name is allowed when creating)"
            )
        return await seed(ContextResult, self._get(name, create, region, context_id))

    async def _get(
        self, name: str | None, create: bool, region: str | None, context_id: str | None
    ) -> ContextResult:
        reply = await self._expect(rq.get_context(context_id, name, region, create))
        context = context_from(reply.data_object(), context_id or "", name or "")
        return ContextResult(
            request_id=reply.request_id, success=True, context_id=context.id, context=context
        )

    async def create(self, name: str) -> ContextResult:
        """The context named `name`, made if it does not exist (`get(name, create=True)`)."""
        if _optional("name", name) is None:
            raise v.fail("name cannot be empty or None")
        return await self.get(name, create=True)

    async def update(self, context: Context) -> OperationResult[dict[str, str]]:
        """Rename a context to `context.name` (`POST /sdk/ModifyContext`); `data` is
        `{"context_id": ...}`."""
        context_id, name = _context_fields(context, need_name=True)
        request = rq.modify_context(context_id, name)
        return await seed(OperationResult, self._done(request, {"context_id": context_id}))

    async def delete(self, context: Context) -> OperationResult[dict[str, str]]:
        """Delete a context and every file in it (`POST /sdk/DeleteContext`)."""
        context_id, _ = _context_fields(context, need_name=False)
        request = rq.delete_context(context_id)
        return await seed(OperationResult, self._done(request, {"context_id": context_id}))

    async def _done(self, request: rq.ApiRequest, data: object) -> OperationResult[object]:
        reply = await self._expect(request)
        return OperationResult(request_id=reply.request_id, success=True, data=data)

    # --- clearing ----------------------------------------------------------------------------

    async def clear_async(self, context_id: str) -> ClearContextResult:
        """Start deleting every file of the context (`POST /sdk/ClearContext`); the context
        keeps its id and name. `status` is `"clearing"`: poll `get_clear_status`."""
        context_id = _required("context_id", context_id)
        return await seed(ClearContextResult, self._clear_async(context_id))

    async def _clear_async(self, context_id: str) -> ClearContextResult:
        reply = await self._expect(rq.clear_context(context_id))
        return ClearContextResult(
            request_id=reply.request_id,
            success=True,
            status=p.CONTEXT_CLEARING,
            context_id=context_id,
        )

    async def get_clear_status(self, context_id: str) -> ClearContextResult:
        """The context's state (`GET /sdk/GetContext`): `"clearing"` (also when the server
        sends none) or `"available"`."""
        context_id = _required("context_id", context_id)
        return await seed(ClearContextResult, self._clear_status(context_id))

    async def _clear_status(self, context_id: str) -> ClearContextResult:
        reply = await self._expect(rq.get_context(context_id, None, None, False))
        data = reply.data_object()
        return ClearContextResult(
            request_id=reply.request_id,
            success=True,
            status=str(data.get("state") or p.CONTEXT_CLEARING),
            context_id=str(data.get("id") or context_id),
        )

    async def clear(
        self,
        context_id: str,
        timeout: float = 60,  # noqa: ASYNC109 - the official name: how long to wait for the state
        poll_interval: float = 2.0,
    ) -> ClearContextResult:
        """Clear the context and wait until it is `"available"` again: ClearContext, then the
        clear status every `poll_interval` seconds for up to `timeout` seconds.

        Raises `ClearanceTimeoutError` when the time runs out, as the official client does;
        other failures are a failed result."""
        context_id = _required("context_id", context_id)
        timeout = v.check_seconds("timeout", timeout)
        poll_interval = v.check_seconds("poll_interval", poll_interval)
        result = await seed(ClearContextResult, self._clear(context_id, timeout, poll_interval))
        if isinstance(result.exception, ClearanceTimeoutError):
            raise result.exception
        return result

    async def _clear(self, context_id: str, bound: float, interval: float) -> ClearContextResult:
        started = await self._clear_async(context_id)

        async def available() -> ClearContextResult | None:
            status = await self._clear_status(context_id)
            return status if status.status == p.CONTEXT_AVAILABLE else None

        # The official client sleeps before each of int(bound / interval) reads; this one
        # reads at once too, so a quick server answers sooner, within the same time.
        attempts = max(1, int(bound / interval)) + 1
        done = await poll(available, interval=interval, attempts=attempts, timeout=bound)
        if done is None:
            raise ClearanceTimeoutError(
                f"Context clearing timed out after {bound:.2f} seconds",
                request_id=started.request_id,
            )
        return ClearContextResult(
            request_id=started.request_id,
            success=True,
            status=done.status,
            context_id=done.context_id,
        )

    # --- files -------------------------------------------------------------------------------

    async def list_files(
        self,
        context_id: str,
        parent_folder_path: str | None = None,
        page_number: int = 1,
        page_size: int = 50,
    ) -> ContextFileListResult:
        """The files directly under `parent_folder_path` (an absolute path; none: the root)
        in the context (`POST /sdk/DescribeContextFiles`); `count` is the total."""
        context_id = _required("context_id", context_id)
        folder = _optional("parent_folder_path", parent_folder_path)
        v.check_positive_int("page_number", page_number)
        v.check_positive_int("page_size", page_size)
        request = rq.describe_context_files(context_id, folder, page_number, page_size)
        return await seed(ContextFileListResult, self._list_files(request))

    async def _list_files(self, request: rq.ApiRequest) -> ContextFileListResult:
        reply = await self._expect(request)
        entries, count = context_files_from(reply)
        return ContextFileListResult(
            request_id=reply.request_id, success=True, entries=entries, count=count
        )

    async def get_file_upload_url(self, context_id: str, file_path: str) -> FileUrlResult:
        """A pre-signed URL to `PUT` the file at `file_path` (an absolute path) into the
        context. The PUT carries no authorization header: the URL is the credential."""
        return await self._file_url(context_id, file_path, upload=True)

    async def get_file_download_url(self, context_id: str, file_path: str) -> FileUrlResult:
        """A pre-signed URL to `GET` the file at `file_path` of the context."""
        return await self._file_url(context_id, file_path, upload=False)

    async def _file_url(self, context_id: str, file_path: str, *, upload: bool) -> FileUrlResult:
        context_id = _required("context_id", context_id)
        file_path = _required("file_path", file_path)
        return await seed(FileUrlResult, self._signed_url(context_id, file_path, upload=upload))

    async def _signed_url(self, context_id: str, file_path: str, *, upload: bool) -> FileUrlResult:
        """Raising style, arguments already checked (what file transfer uses)."""
        reply = await self._expect(rq.context_file_url(context_id, file_path, upload=upload))
        data = reply.data_object()
        url = data.get("url")
        expire = data.get("expireTime")
        if isinstance(expire, bool) or not isinstance(expire, int):
            expire = None  # its unit is unknown (§13.5); an int is passed on as it is
        return FileUrlResult(
            request_id=reply.request_id,
            success=True,
            url="" if url is None else str(url),
            expire_time=expire,
        )

    # --- whole files, streamed (not in the official SDK, whose docs PUT and GET by hand) -----

    async def upload_file(
        self,
        context_id: str,
        file_path: str,
        local_path: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        progress_cb: Progress | None = None,
    ) -> UploadResult:
        """Store the local file `local_path` in the context as `file_path` (an absolute
        path: where a session mounting the context sees it): the upload URL, then a PUT
        streamed from disk. `progress_cb(bytes_sent)` is called after each 1 MiB."""
        context_id = _required("context_id", context_id)
        file_path = _required("file_path", file_path)
        if content_type is not None:
            v.check_text("content_type", content_type)
        local = Path(os.fspath(local_path))
        operation = self._upload_file(context_id, file_path, local, content_type, progress_cb)
        return await seed(UploadResult, operation)

    async def _upload_file(
        self,
        context_id: str,
        file_path: str,
        local: Path,
        content_type: str | None,
        progress: Progress | None,
    ) -> UploadResult:
        """Raising style; a failure carries the result's fields in its details."""
        facts: dict[str, object] = {"path": file_path}
        try:
            if not await anyio.Path(local).is_file():
                raise FileTransferError(f"Local file not found: {local}")
            url = await self._url_for(context_id, file_path, upload=True)
            facts["request_id_upload_url"] = url.request_id
            status, etag, sent = await put_file(
                self._engine, url.url, local, content_type, progress
            )
        except AGBError as exc:
            raise with_details(exc, facts) from exc.__cause__
        return UploadResult(
            request_id=url.request_id,
            success=True,
            request_id_upload_url=url.request_id,
            http_status=status,
            etag=etag,
            bytes_sent=sent,
            path=file_path,
        )

    async def download_file(
        self,
        context_id: str,
        file_path: str,
        local_path: str | os.PathLike[str],
        *,
        overwrite: bool = True,
        progress_cb: Progress | None = None,
    ) -> DownloadResult:
        """Copy the context's file `file_path` to the local file `local_path` (its folders
        are made), streamed to disk; it appears under its name only when complete.
        `overwrite=False` fails when `local_path` exists."""
        context_id = _required("context_id", context_id)
        file_path = _required("file_path", file_path)
        v.check_flag("overwrite", overwrite)
        local = Path(os.fspath(local_path))
        operation = self._download_file(context_id, file_path, local, overwrite, progress_cb)
        return await seed(DownloadResult, operation)

    async def _download_file(
        self,
        context_id: str,
        file_path: str,
        local: Path,
        overwrite: bool,
        progress: Progress | None,
    ) -> DownloadResult:
        """Raising style; a failure carries the result's fields in its details."""
        facts: dict[str, object] = {"path": file_path, "local_path": str(local)}
        try:
            await refuse_existing(local, overwrite)
            url = await self._url_for(context_id, file_path, upload=False)
            facts["request_id_download_url"] = url.request_id
            received = await get_file(self._engine, url.url, local, overwrite, progress)
        except AGBError as exc:
            raise with_details(exc, facts) from exc.__cause__
        return DownloadResult(
            request_id=url.request_id,
            success=True,
            request_id_download_url=url.request_id,
            http_status=200,
            bytes_received=received,
            path=file_path,
            local_path=str(local),
        )

    async def _url_for(self, context_id: str, file_path: str, *, upload: bool) -> FileUrlResult:
        """A pre-signed URL, or the official transfer's error (`get_file_upload_url failed:
        ...`, here with the server's message, which the official client loses)."""
        name = "get_file_upload_url" if upload else "get_file_download_url"
        try:
            url = await self._signed_url(context_id, file_path, upload=upload)
        except AGBError as exc:
            raise exc.prefixed(f"{name} failed: ") from exc.__cause__
        if not url.url:
            raise FileTransferError(f"{name} failed: the server sent no URL")
        return url

    async def delete_file(self, context_id: str, file_path: str) -> OperationResult[bool]:
        """Delete one file of the context (`POST /sdk/DeleteContextFile`); `data` is True."""
        context_id = _required("context_id", context_id)
        file_path = _required("file_path", file_path)
        request = rq.delete_context_file(context_id, file_path)
        return await seed(OperationResult, self._done(request, True))
