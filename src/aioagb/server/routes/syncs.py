"""Handlers of a session's context routes: SyncContext (§13.8), GetContextInfo (§13.7,
§3.13) and GetAndLoadInternalContext (§14.1)."""

from __future__ import annotations

import json

from aiohttp import web

from ... import _protocol as p
from ..envelope import bad_request
from ..params import required_text
from ..state import Call
from ..sync import SYNC_MODES


def _text(call: Call, key: str) -> str | None:
    value = call.query.get(key, "")
    return value if value.strip() else None


async def sync_context(call: Call) -> web.Response:
    """`/sdk/SyncContext` (§13.8): uploads (the default) or downloads the session's mounts,
    or one context at one path; answers once the tasks ended (see GetContextInfo)."""
    record = call.session(required_text(call.query, p.Q_SESSION_ID, "query"))
    context_id = _text(call, p.Q_CONTEXT_ID)
    path = _text(call, p.Q_PATH)
    if (context_id is None) != (path is None):
        raise bad_request("contextId and path must be given together, or both left out")
    if path is not None and not path.strip().startswith("/"):
        raise bad_request(f"path must be an absolute sandbox path, not {path!r}")
    mode = (_text(call, p.Q_MODE) or p.SYNC_UPLOAD).strip().lower()
    if mode not in SYNC_MODES:
        raise bad_request(f"mode must be {' or '.join(SYNC_MODES)}, not {mode!r}")
    await call.persistence.syncs.sync(
        record, context_id and context_id.strip(), path and path.strip(), mode
    )
    return call.ok(None)


async def get_context_info(call: Call) -> web.Response:
    """`/sdk/GetContextInfo` (§13.7): the session's latest sync task per context, path and
    task type, filtered."""
    record = call.session(required_text(call.query, p.Q_SESSION_ID, "query"))
    status = call.persistence.syncs.info(
        record, _text(call, p.Q_CONTEXT_ID), _text(call, p.Q_PATH), _text(call, p.Q_TASK_TYPE)
    )
    return call.ok({"contextStatus": status})


def _wanted_types(call: Call) -> list[object]:
    raw = call.query.get(p.Q_CONTEXT_TYPES)
    if raw is None or not raw.strip():
        return [p.CONTEXT_TYPE_FILE_TRANSFER]
    try:
        types = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad_request(f"{p.Q_CONTEXT_TYPES} must be a JSON array of strings") from None
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise bad_request(f"{p.Q_CONTEXT_TYPES} must be a JSON array of strings")
    return types


async def get_and_load_internal_context(call: Call) -> web.Response:
    """`/sdk/GetAndLoadInternalContext` (§14.1): the session's file-transfer context, made on
    first use and deleted with the session."""
    record = call.session(required_text(call.query, p.Q_SESSION_ID, "query"))
    if p.CONTEXT_TYPE_FILE_TRANSFER not in _wanted_types(call):
        return call.ok([])  # the only internal context type AGB Local (and §14) knows
    context, path = await call.persistence.syncs.transfer_context(record)
    item = {
        "contextId": context.id,
        "contextType": p.CONTEXT_TYPE_FILE_TRANSFER,
        "contextPath": path,
    }
    return call.ok([item])
