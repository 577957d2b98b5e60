"""The pre-signed URLs' own route (agb-wire.md §13.5, §14): `PUT` stores a context file, `GET`
returns it; the URL's token is the authority, no API key is needed.

Both stream: an upload goes to a staging blob a chunk at a time (so a 1 GB file costs the
server a chunk of memory, not a gigabyte) and is committed only once whole, fsynced and within
the tenant's quota; a download is read from the blob a chunk at a time. An upload cut short
leaves nothing behind.
"""

from __future__ import annotations

import time

import anyio
from aiohttp import web

from ... import _protocol as p
from ..envelope import ApiError, bad_request, success
from ..middleware import current_request_id
from ..presign import Q_TOKEN, Grant
from ..state import STATE, AppState
from ..store import FilePut, StagedBlob
from ..store.errors import storage_quota_exceeded

CHUNK_BYTES = 1024 * 1024


async def serve_presigned(request: web.Request) -> web.StreamResponse:
    """Checks the URL's token for this method, then receives or sends the file."""
    if request.method not in ("PUT", "GET"):
        raise ApiError(405, "InvalidAction.MethodNotAllowed", "Use PUT or GET with this URL")
    state = request.app[STATE]
    grant = state.persistence.signer.verify(request.query.get(Q_TOKEN, ""), request.method)
    store = state.persistence.store
    # The tenant still owns the context (it may have been deleted since the URL was made).
    await store.run(store.contexts.get, grant.tenant, grant.context_id, internal_ok=True)
    if request.method == "PUT":
        return await _receive(state, grant, request)
    return await _send(state, grant, request)


async def _receive(state: AppState, grant: Grant, request: web.Request) -> web.Response:
    store = state.persistence.store
    room = await store.run(store.files.room, grant.tenant, grant.context_id, grant.path)
    declared = request.content_length
    if room is not None and declared is not None and declared > room:
        raise _over_quota(state)  # refused before a byte is read
    staged: StagedBlob = await store.run(store.blobs.stage)
    try:
        received = await _stream_into(staged, request, room, state)
        if declared is not None and received != declared:
            # A body cut short must not be stored as if it were the file.
            raise bad_request(f"The body ended after {received} of {declared} bytes")
        blob = await store.run(staged.seal)
    finally:
        with anyio.CancelScope(shield=True):
            await store.run(staged.abort)  # a no-op once sealed
    put = FilePut(grant.path, blob, staged.size, time.time_ns())
    # The commit removes the blob itself if it fails (quota, conflict, context gone).
    await store.run(store.files.commit, grant.tenant, grant.context_id, [put])
    reply = success(current_request_id(), {"size": staged.size})
    reply.headers["ETag"] = f'"{blob}"'
    return reply


async def _stream_into(
    staged: StagedBlob, request: web.Request, room: int | None, state: AppState
) -> int:
    store = state.persistence.store
    received = 0
    pending = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        received += len(chunk)
        if room is not None and received > room:
            raise _over_quota(state)
        pending += chunk
        if len(pending) >= CHUNK_BYTES:
            await store.run(staged.write, bytes(pending))
            pending.clear()
    if pending:
        await store.run(staged.write, bytes(pending))
    return received


def _over_quota(state: AppState) -> ApiError:
    quota = state.persistence.store.files.quota
    assert quota is not None
    return storage_quota_exceeded(quota)


async def _send(state: AppState, grant: Grant, request: web.Request) -> web.StreamResponse:
    store = state.persistence.store
    record = await store.run(store.files.get, grant.context_id, grant.path)
    try:
        source = await store.run(store.blobs.open, record.blob)
    except FileNotFoundError:  # replaced between the lookup and the open: send the new one
        record = await store.run(store.files.get, grant.context_id, grant.path)
        source = await store.run(store.blobs.open, record.blob)
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "ETag": f'"{record.blob}"',
                p.HEADER_REQUEST_ID: current_request_id(),
            }
        )
        response.content_length = record.size
        await response.prepare(request)
        try:
            while chunk := await store.run(source.read, CHUNK_BYTES):
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away mid-download: nobody left to answer
        return response
    finally:
        source.close()
