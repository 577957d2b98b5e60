"""Issue 6 point 5: API keys and tenants.

A missing or wrong key gets a 401 envelope on every route. Another tenant's session does not
exist for you on any route (get, status, labels, keep-alive, info, tool calls, delete, list),
and is left untouched. No key appears in any log record (server and SDK, DEBUG and up) or in
any error text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from _support.security import ENVELOPE_KEYS, IMAGE, KEY_A, KEY_B, NO_RETRIES, security_config
from aioagb import (
    AsyncAGB,
    AsyncSession,
    AuthenticationError,
    CreateSessionParams,
    NotFoundError,
    SessionCreateError,
)
from aioagb import _protocol as p
from aioagb.server import LocalServer

WRONG_KEY = "security-wrong-key-5555555555"
ALL_KEYS = (KEY_A, KEY_B, WRONG_KEY)

# The routes of contexts (§13): no session in them (their tenancy is tests/server's).
CONTEXT_ROUTES = [
    ("GET", p.PATH_LIST_CONTEXTS),
    ("GET", p.PATH_GET_CONTEXT),
    ("POST", p.PATH_MODIFY_CONTEXT),
    ("POST", p.PATH_DELETE_CONTEXT),
    ("POST", p.PATH_CLEAR_CONTEXT),
    ("POST", p.PATH_DESCRIBE_CONTEXT_FILES),
    ("POST", p.PATH_GET_CONTEXT_FILE_UPLOAD_URL),
    ("POST", p.PATH_GET_CONTEXT_FILE_DOWNLOAD_URL),
    ("POST", p.PATH_DELETE_CONTEXT_FILE),
]

# Every route, with the method its client uses; session ids go in the body and the query.
ROUTES = [
    ("POST", p.PATH_CREATE_SESSION),
    ("POST", p.PATH_GET_SESSION),
    ("POST", p.PATH_GET_SESSION_INFO),
    ("GET", p.PATH_LIST_SESSIONS),
    ("POST", p.PATH_SET_LABELS),
    ("GET", p.PATH_GET_LABELS),
    ("POST", p.PATH_RELEASE_ASYNC),
    ("POST", p.PATH_RELEASE),
    ("POST", p.PATH_KEEP_ALIVE),
    ("GET", p.PATH_GET_LINK),
    ("POST", p.PATH_GET_MCP_RESOURCE),
    ("GET", p.PATH_GET_CONTEXT_INFO),
    ("POST", p.PATH_LIST_TOOLS),
    ("POST", p.PATH_CALL_TOOL),
    ("POST", p.PATH_SYNC_CONTEXT),
    ("POST", p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT),
    *CONTEXT_ROUTES,
    ("POST", p.PATH_INIT_BROWSER),
    ("POST", p.PATH_GET_CDP_LINK),
]


# The routes that name a session (all but create, list, listTools and the context routes).
SESSION_ROUTES = [
    (method, path)
    for method, path in ROUTES
    if path not in (p.PATH_CREATE_SESSION, p.PATH_LIST_SESSIONS, p.PATH_LIST_TOOLS)
    and (method, path) not in CONTEXT_ROUTES
]


@pytest.fixture
async def server(caplog: pytest.LogCaptureFixture) -> AsyncIterator[LocalServer]:
    caplog.set_level(logging.DEBUG)  # every record of server and SDK, to look for keys
    async with LocalServer(security_config(backend="auto")) as started:
        yield started


def _client(server: LocalServer, key: str) -> AsyncAGB:
    return AsyncAGB(key, endpoint=server.endpoint, retry=NO_RETRIES)


async def _raw(
    server: LocalServer, method: str, path: str, session_id: str, auth: str | None
) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["authorization"] = auth
    body = {"sessionId": session_id, "name": p.TOOL_SHELL, "args": json.dumps({"command": "id"})}
    query = {"sessionId": session_id, "imageId": IMAGE, "Labels": '{"x": "y"}'}
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method,
            server.endpoint + path,
            params=query,
            data=json.dumps(body) if method == "POST" else None,
            headers=headers,
        ) as response,
    ):
        envelope = await response.json(content_type=None)
        assert set(envelope) >= ENVELOPE_KEYS, envelope
        assert envelope["httpStatusCode"] == response.status
        assert envelope["success"] is (response.status == 200)
        return response.status, envelope


@pytest.mark.parametrize(
    "auth",
    [None, "", "Bearer", "Bearer ", f"Bearer {WRONG_KEY}", f"Basic {KEY_A}", f"Bearer {KEY_A}x"],
)
async def test_a_missing_or_wrong_key_gets_a_401_envelope_on_every_route(
    server: LocalServer, auth: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    async with _client(server, KEY_A) as agb:
        own = await agb.open_session(CreateSessionParams(image_id=IMAGE))
        for method, path in ROUTES:
            status, envelope = await _raw(server, method, path, own.session_id, auth)
            assert status == 401, (path, envelope)
            assert envelope["code"] == "InvalidApiKey.NotFound"
        assert server.live_sessions() == 1  # nothing was created or released
        await own.aclose()
    _assert_no_key_in(caplog, [])


async def test_the_sdk_reports_a_wrong_key_as_an_authentication_error(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with _client(server, WRONG_KEY) as agb:
        with pytest.raises(AuthenticationError) as raised:
            await agb.open_session(CreateSessionParams(image_id=IMAGE))
        assert raised.value.http_status == 401
        result = await agb.create(CreateSessionParams(image_id=IMAGE))
        listed = await agb.list()
    assert not result.success and not listed.success
    texts = [str(raised.value), result.error_message, listed.error_message]
    assert isinstance(result.exception, AuthenticationError)
    _assert_no_key_in(caplog, texts)


async def test_another_tenants_session_is_not_found_on_every_route(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    texts: list[str] = []
    async with _client(server, KEY_A) as agb_a, _client(server, KEY_B) as agb_b:
        mine = await agb_a.open_session(CreateSessionParams(image_id=IMAGE, labels={"t": "a"}))
        assert (await mine.command.execute("echo ok > /workspace/mine.txt")).success
        theirs = AsyncSession(agb_b, mine.session_id)  # tenant B names A's session

        got = await agb_b.get(mine.session_id)
        detail = await agb_b.get_session(mine.session_id)
        status = await theirs.get_status()
        labels = await theirs.get_labels()
        set_labels = await theirs.set_labels({"t": "b"})
        alive = await theirs.keep_alive()
        info = await theirs.info()
        tool = await theirs.call_mcp_tool("shell", {"command": "cat /workspace/mine.txt"})
        code = await theirs.code.run("print(1)", "python")
        read = await theirs.file.read("/workspace/mine.txt")
        for result in (got, detail, status, labels, set_labels, alive, info, tool, code, read):
            assert not result.success, result
            assert "not found" in result.error_message.lower(), result
            texts.append(result.error_message)
        for result in (detail, status, labels, set_labels, alive, tool):
            assert isinstance(result.exception, NotFoundError), result
        assert detail.code == p.CODE_SESSION_NOT_FOUND
        assert mine.session_id not in (await agb_b.list()).session_ids
        assert [s async for s in agb_b.iter_sessions()] == []

        # Every session route on the wire, delete included (the SDK counts a not-found
        # delete as "gone"): not found, and A's session is untouched.
        for method, path in SESSION_ROUTES:
            code_, envelope = await _raw(server, method, path, mine.session_id, f"Bearer {KEY_B}")
            assert code_ == 400 and envelope["code"] == p.CODE_SESSION_NOT_FOUND, path
        await theirs.delete()
        assert server.live_sessions(KEY_A) == 1
        assert (await mine.get_labels()).data == {"t": "a"}
        assert (await mine.file.read("/workspace/mine.txt")).content == "ok\n"
        assert mine.session_id in (await agb_a.list()).session_ids
        await mine.aclose()
    _assert_no_key_in(caplog, texts)


async def test_open_session_with_a_key_of_no_tenant_is_refused_not_created(
    server: LocalServer,
) -> None:
    async with _client(server, WRONG_KEY) as agb:
        with pytest.raises((AuthenticationError, SessionCreateError)):
            await agb.open_session(CreateSessionParams(image_id=IMAGE))
    assert server.live_sessions() == 0


def _assert_no_key_in(caplog: pytest.LogCaptureFixture, texts: list[str]) -> None:
    assert caplog.records, "nothing was logged: the check would prove nothing"
    logged = [r.getMessage() + repr(r.__dict__) for r in caplog.records]
    for key in ALL_KEYS:
        for line in logged + texts:
            assert key not in line, line
