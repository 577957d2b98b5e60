"""Handlers of the context routes (agb-wire.md §13.1-§13.5): list, get (and get-or-create),
rename, delete, clear, list files, pre-signed upload and download URLs, delete a file.

Every parameter is in the query string (§13.1). Every store call runs in a worker thread.
"""

from __future__ import annotations

import datetime
import hashlib

from aiohttp import web

from ... import _protocol as p
from ..envelope import bad_request
from ..params import query_int, required_text
from ..state import Call
from ..store import ContextRecord, FolderEntry, checked_name
from ..store.paths import ROOT, file_key, folder_key
from ..store.paths import name as key_name

MAX_FILE_PAGE_SIZE = 1000
FILE_TYPE_FILE = "file"
FILE_TYPE_FOLDER = "folder"
FILE_STATUS = "available"
_CONTEXT_PAGES = {"listing": "contexts"}  # the page tokens' scope, apart from sessions'


def _time(ts: float | None) -> str | None:
    if ts is None:
        return None
    moment = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def context_data(record: ContextRecord) -> dict[str, object]:
    """The wire's context object (§13.1); `state` is what the clear poller reads."""
    return {
        "id": record.id,
        "name": record.name or "",
        "createTime": _time(record.created_at),
        "lastUsedTime": _time(record.last_used_at),
        "state": record.state,
    }


def _query_text(call: Call, key: str) -> str | None:
    value = call.query.get(key, "").strip()
    return value or None


async def _own_context(call: Call, *, internal_ok: bool = True) -> ContextRecord:
    """The caller's context named by `contextId` (the file routes reach internal ones)."""
    context_id = required_text(call.query, p.Q_CONTEXT_ID, "query").strip()
    store = call.persistence.store
    return await store.run(store.contexts.get, call.tenant, context_id, internal_ok=internal_ok)


def _allow_create(call: Call) -> bool:
    raw = call.query.get(p.Q_ALLOW_CREATE, "false").strip().lower()
    if raw not in ("true", "false"):
        raise bad_request(f"{p.Q_ALLOW_CREATE} must be true or false")
    return raw == "true"


async def list_contexts(call: Call) -> web.Response:
    """`/sdk/ListContexts` (§13.2): one page of the caller's contexts, oldest first."""
    limit = query_int(call.query, p.Q_MAX_RESULTS, p.DEFAULT_CONTEXT_LIST_LIMIT)
    if limit < 1:
        raise bad_request("maxResults must be at least 1")
    limit = min(limit, call.state.config.max_list_results)
    tokens = call.persistence.tokens
    token = call.query.get(p.Q_NEXT_TOKEN) or None
    after = tokens.resolve(call.tenant, _CONTEXT_PAGES, token) if token else 0
    store = call.persistence.store
    records, more, total = await store.run(store.contexts.page, call.tenant, limit, after)
    next_token = tokens.issue(call.tenant, _CONTEXT_PAGES, records[-1].seq) if more else ""
    # §13.2: `data` is the array the official client reads; the pagination keys go beside
    # it, where a client that can paginate finds them.
    extra = {p.KEY_NEXT_TOKEN: next_token, p.KEY_MAX_RESULTS: limit, p.KEY_TOTAL_COUNT: total}
    return call.ok([context_data(r) for r in records], extra)


async def get_context(call: Call) -> web.Response:
    """`/sdk/GetContext` (§13.3, §13.4): by id, else by name (made when `allowCreate`)."""
    context_id = _query_text(call, p.Q_ID)
    name = _query_text(call, p.Q_NAME)
    allow_create = _allow_create(call)
    store = call.persistence.store
    if context_id is not None:
        record = await store.run(store.contexts.get, call.tenant, context_id)
    elif name is not None:
        record = await store.run(
            store.contexts.get_by_name, call.tenant, checked_name(name), create=allow_create
        )
    else:
        raise bad_request("Either id or name is required")
    return call.ok(context_data(record))


async def modify_context(call: Call) -> web.Response:
    """`/sdk/ModifyContext` (§13.3): renames a context."""
    context_id = required_text(call.query, p.Q_ID, "query").strip()
    name = checked_name(required_text(call.query, p.Q_NAME, "query"))
    store = call.persistence.store
    await store.run(store.contexts.rename, call.tenant, context_id, name)
    return call.ok({"id": context_id, "name": name})


async def delete_context(call: Call) -> web.Response:
    """`/sdk/DeleteContext` (§13.3): the context and all its files."""
    context_id = required_text(call.query, p.Q_ID, "query").strip()
    store = call.persistence.store
    await store.run(store.contexts.delete, call.tenant, context_id)
    call.persistence.maintenance.poke()  # the files' blobs go soon, not at the next round
    return call.ok({"id": context_id})


async def clear_context(call: Call) -> web.Response:
    """`/sdk/ClearContext` (§13.4): drops every file; the context reads `clearing` until
    the store's upkeep has removed them, then `available`."""
    context_id = required_text(call.query, p.Q_ID, "query").strip()
    store = call.persistence.store
    await store.run(store.contexts.clear, call.tenant, context_id)
    call.persistence.maintenance.poke()
    return call.ok({"id": context_id, "state": p.CONTEXT_CLEARING})


def _file_data(context_id: str, entry: FolderEntry) -> dict[str, object]:
    file = entry.file
    return {
        # Stable per context and path, opaque like the cloud's.
        "fileId": hashlib.sha256(f"{context_id}\0{entry.path}".encode()).hexdigest()[:24],
        "fileName": key_name(entry.path),
        "filePath": entry.path,
        "fileType": FILE_TYPE_FOLDER if file is None else FILE_TYPE_FILE,
        "gmtCreate": None if file is None else _time(file.created_at),
        "gmtModified": None if file is None else _time(file.modified_at),
        "size": 0 if file is None else file.size,
        "status": FILE_STATUS,
    }


async def describe_context_files(call: Call) -> web.Response:
    """`/sdk/DescribeContextFiles` (§13.5): the entries directly in a folder, one page."""
    context = await _own_context(call)
    folder = folder_key(call.query.get(p.Q_PARENT_FOLDER_PATH), p.Q_PARENT_FOLDER_PATH)
    page_number = query_int(call.query, p.Q_PAGE_NUMBER, 1)
    page_size = query_int(call.query, p.Q_PAGE_SIZE, p.DEFAULT_FILE_PAGE_SIZE)
    if page_number < 1:
        raise bad_request("pageNumber must be at least 1")
    if not 1 <= page_size <= MAX_FILE_PAGE_SIZE:
        raise bad_request(f"pageSize must be between 1 and {MAX_FILE_PAGE_SIZE}")
    store = call.persistence.store
    entries, total = await store.run(
        store.files.folder_page, context.id, folder, page_number, page_size
    )
    # `count` is top-level when `data` is an array (§13.5).
    return call.ok([_file_data(context.id, e) for e in entries], {p.KEY_COUNT: total})


async def _file_url(call: Call, method: str) -> web.Response:
    context = await _own_context(call)
    path = file_key(required_text(call.query, p.Q_FILE_PATH, "query").strip())
    if method == "GET":  # a download URL for nothing would only fail later, less clearly
        store = call.persistence.store
        await store.run(store.files.get, context.id, path)
    signer, ttl = call.persistence.signer, call.state.config.presigned_url_ttl_s
    grant = signer.grant(call.tenant, context.id, path, method, ttl)
    base = f"{call.request.scheme}://{call.request.host}"
    return call.ok({"url": signer.issue(base, grant), "expireTime": grant.expires})


async def get_file_upload_url(call: Call) -> web.Response:
    """`/sdk/GetContextFileUploadUrl` (§13.5): a URL to PUT the file's bytes to."""
    return await _file_url(call, "PUT")


async def get_file_download_url(call: Call) -> web.Response:
    """`/sdk/GetContextFileDownloadUrl` (§13.5): a URL to GET the file's bytes from."""
    return await _file_url(call, "GET")


async def delete_context_file(call: Call) -> web.Response:
    """`/sdk/DeleteContextFile` (§13.5): a file, or a folder with everything in it."""
    context = await _own_context(call)
    path = folder_key(required_text(call.query, p.Q_FILE_PATH, "query"), p.Q_FILE_PATH)
    if path == ROOT:
        raise bad_request("filePath names the whole context; use ClearContext for that")
    store = call.persistence.store
    await store.run(store.files.delete, call.tenant, context.id, path)
    return call.ok(None)
