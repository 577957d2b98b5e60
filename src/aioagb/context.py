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

from collections.abc import AsyncIterator

from . import _protocol as p
from . import _validate as v
from ._engine import Engine
from ._polling import poll
from ._protocol import requests as rq
from ._protocol.replies import Reply, context_files_from, context_from, contexts_page
from ._results import seed
from .errors import ClearanceTimeoutError
from .models import (
    ClearContextResult,
    Context,
    ContextFileListResult,
    ContextListParams,
    ContextListResult,
    ContextResult,
    FileUrlResult,
    OperationResult,
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
        if not isinstance(create, bool):
            raise v.fail(f"create must be a bool, got {create!r}")
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
        self, context_id: str, timeout: float = 60, poll_interval: float = 2.0
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

    async def _clear(self, context_id: str, timeout: float, interval: float) -> ClearContextResult:
        started = await self._clear_async(context_id)

        async def available() -> ClearContextResult | None:
            status = await self._clear_status(context_id)
            return status if status.status == p.CONTEXT_AVAILABLE else None

        # The official client sleeps before each of int(timeout / interval) reads; this one
        # reads at once too, so a quick server answers sooner, within the same time.
        attempts = max(1, int(timeout / interval)) + 1
        done = await poll(available, interval=interval, attempts=attempts, timeout=timeout)
        if done is None:
            raise ClearanceTimeoutError(
                f"Context clearing timed out after {timeout:.2f} seconds",
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

    async def delete_file(self, context_id: str, file_path: str) -> OperationResult[bool]:
        """Delete one file of the context (`POST /sdk/DeleteContextFile`); `data` is True."""
        context_id = _required("context_id", context_id)
        file_path = _required("file_path", file_path)
        request = rq.delete_context_file(context_id, file_path)
        return await seed(OperationResult, self._done(request, True))
