"""Handlers of the session routes (agb-wire.md §3): create, get, status, list, labels,
release, keep-alive and resource info. (A session's context routes are in `syncs`, its
links in `links`, its browser in `browser`.)"""

from __future__ import annotations

import json

from aiohttp import web

from ... import _protocol as p
from ..envelope import bad_request
from ..images import ImageKind, image_kind, requested_image
from ..params import optional, optional_int, parse_json_object, query_int, string_map
from ..registry import SessionRecord
from ..state import Call
from ..sync import parse_mounts
from .stream import stream_fields


def session_id_of(call: Call) -> str:
    """The session id from wherever this route's client puts it (body or query)."""
    value = call.body.get(p.B_SESSION_ID, call.query.get(p.Q_SESSION_ID))
    if not isinstance(value, str):
        raise bad_request(
            "sessionId is required" if value is None else "sessionId must be a string"
        )
    if not value.strip():
        raise bad_request("sessionId is required")
    return value


def _resource_url(call: Call, record: SessionRecord) -> str:
    # The cloud's resource URL carries `resourceId=` and a test checks it (§8).
    base = f"{call.request.scheme}://{call.request.host}"
    return f"{base}/agb-local/session/{record.session_id}?resourceId={record.resource_id}"


def _session_data(call: Call, record: SessionRecord) -> dict[str, object]:
    # wsUrl and token for streaming (§5.2), but no linkUrl or toolList: the official client
    # then keeps every tool call on `POST /mcp` (§5.3).
    return {
        "sessionId": record.session_id,
        "resourceUrl": _resource_url(call, record),
        "appInstanceId": record.app_instance_id,
        "resourceId": record.resource_id,
        **stream_fields(call, record),
    }


async def create_session(call: Call) -> web.Response:
    """`/mcp/createSession` (§3.1): checks the image, labels and idle timeout; makes the session."""
    image_id = requested_image(call.query)
    labels: dict[str, str] = {}
    raw_labels = optional(call.body, p.B_LABELS, str, "body")
    if raw_labels:
        labels = string_map(parse_json_object(raw_labels, "body.labels"), "body.labels")
    timeout = optional_int(call.body, p.B_IDLE_TIMEOUT, "body")
    if timeout is not None and timeout < 0:
        raise bad_request("body.timeout must not be negative")
    optional(call.body, p.B_POLICY_ID, str, "body")  # accepted; AGB Local has no policies
    # Contexts mounted in the session (§13.6): all checked before anything is made.
    mounts = parse_mounts(call.body.get(p.B_PERSISTENCE_LIST))
    syncs = call.persistence.syncs
    await syncs.check_mounts(call.tenant, mounts)
    idle_timeout_s = float(timeout) if timeout else call.state.config.default_idle_timeout_s
    record = await call.registry.create(
        call.tenant,
        image_id,
        labels,
        idle_timeout_s,
        [m.path for m in mounts],
        browser=image_kind(image_id) is ImageKind.BROWSER_USE,
    )
    # The contexts' files are in place before the create answers, so the client's wait on
    # GetContextInfo (§3.1) finds every download task ended.
    await syncs.attach(record, mounts)
    return call.ok({**_session_data(call, record), "success": True})


async def get_session(call: Call) -> web.Response:
    """`/mcp/getSession` (§3.2): the session's ids, resource URL and status."""
    record = call.session(session_id_of(call))
    return call.ok({**_session_data(call, record), "status": record.status})


async def get_session_status(call: Call) -> web.Response:
    """`/mcp/getSessionInfo` (§3.3): the session's status, DELETING included."""
    # A session being deleted still answers, with DELETING; once gone it is not found.
    # Watching is not using: the official idle-release tests poll this every 2 s and expect
    # the session to be released on time, so a status query leaves the idle timer alone.
    record = call.session(session_id_of(call), deleting_ok=True, touch=False)
    return call.ok({"sessionId": record.session_id, "status": record.status})


async def list_sessions(call: Call) -> web.Response:
    """`/sdk/ListSession` (§3.4): one page of the tenant's running sessions matching the labels."""
    limit = query_int(call.query, p.Q_MAX_RESULTS, p.DEFAULT_LIST_LIMIT)
    if limit < 1:
        raise bad_request("maxResults must be at least 1")
    limit = min(limit, call.state.config.max_list_results)
    raw_filter = call.query.get(p.Q_LABELS) or "{}"
    labels = string_map(parse_json_object(raw_filter, "labels"), "labels")
    page = call.registry.list(call.tenant, labels, limit, call.query.get(p.Q_NEXT_TOKEN) or None)
    data = [{"sessionId": r.session_id, "sessionStatus": r.status} for r in page.sessions]
    # §3.4: the pagination keys are top-level siblings of `data`.
    extra: dict[str, object] = {
        p.KEY_NEXT_TOKEN: page.next_token,
        p.KEY_MAX_RESULTS: limit,
        p.KEY_COUNT: page.count,
    }
    return call.ok(data, extra)


async def set_labels(call: Call) -> web.Response:
    """`/sdk/SetLabel` (§3.5): replaces the session's labels."""
    record = call.session(session_id_of(call))
    raw = call.query.get(p.Q_SET_LABELS)
    if not raw:
        raise bad_request("Labels is required")
    labels = string_map(parse_json_object(raw, "Labels"), "Labels", non_empty=True)
    call.registry.set_labels(record, labels)
    return call.ok(None)


async def get_labels(call: Call) -> web.Response:
    """`/sdk/GetLabel` (§3.6): the session's labels, as a JSON string."""
    record = call.session(session_id_of(call))
    # §3.6: `labels` must be a JSON *string*; an object makes the official client raise.
    return call.ok({"labels": json.dumps(record.labels, ensure_ascii=False)})


async def release_session(call: Call) -> web.Response:
    """`/mcp/releaseSessionAsync` and `/mcp/releaseSession` (§3.7, §3.8): ends the session
    before answering."""
    record = call.session(session_id_of(call))
    # Released before answering, so the client's first status poll already sees not-found
    # and its delete returns at once (§3.7).
    await call.registry.release(record)
    return call.ok({"sessionId": record.session_id})


async def keep_alive(call: Call) -> web.Response:
    """`/mcp/refreshSessionIdleTime` (§3.9): restarts the session's idle timer."""
    call.session(session_id_of(call))  # the lookup itself restarts the idle timer
    return call.ok(None)


async def get_mcp_resource(call: Call) -> web.Response:
    """`/mcp/getMcpResource` (§3.11): the session's resource URL."""
    record = call.session(session_id_of(call))
    return call.ok({"sessionId": record.session_id, "resourceUrl": _resource_url(call, record)})
