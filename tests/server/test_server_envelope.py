"""The envelope on every reply, authentication, and malformed requests -> 4xx envelopes."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _support.server_app import ENVELOPE_KEYS, KEY_A, Api, Reply, assert_error
from aioagb import _protocol as p


async def test_success_envelope_is_exact(api: Api) -> None:
    reply = await api.call("POST", p.PATH_CREATE_SESSION, params={p.Q_IMAGE_ID: "code_latest"})
    assert reply.status == 200
    assert set(reply.body) == ENVELOPE_KEYS
    assert reply.body["success"] is True
    assert reply.body["code"] == "ok"
    assert reply.body["message"] == ""
    assert reply.body["httpStatusCode"] == 200
    assert reply.body["requestId"]
    assert reply.headers[p.HEADER_REQUEST_ID] == reply.body["requestId"]


async def test_request_ids_are_unique(api: Api) -> None:
    ids = {(await api.call("GET", p.PATH_LIST_SESSIONS)).body["requestId"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong-key", "Basic " + KEY_A, KEY_A],
)
async def test_missing_or_unknown_keys_get_401(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = await api.client.get(p.PATH_LIST_SESSIONS, headers=headers)
    body = await resp.json()
    assert_error(Reply(resp.status, body, resp.headers), 401)


async def test_header_name_and_scheme_are_case_insensitive(api: Api) -> None:
    for name, scheme in (("authorization", "Bearer"), ("AUTHORIZATION", "bearer")):
        resp = await api.client.get(p.PATH_LIST_SESSIONS, headers={name: f"{scheme} {KEY_A}"})
        assert resp.status == 200


async def test_duplicate_slashes_and_trailing_slash_are_tolerated(api: Api) -> None:
    for path in ("//sdk/ListSession", "/sdk//ListSession", "/sdk/ListSession/"):
        reply = await api.call("GET", path)
        assert reply.status == 200, path


async def test_plus_in_query_is_a_space(api: Api) -> None:
    session_id = await api.create(labels=json.dumps({"team": "a b"}))
    # The official client's form encoding: spaces as '+', JSON escaped.
    query = "maxResults=10&labels=%7B%22team%22%3A+%22a+b%22%7D"
    reply = await api.call("GET", f"{p.PATH_LIST_SESSIONS}?{query}")
    assert [item["sessionId"] for item in reply.data] == [session_id]


async def test_unknown_routes_answer_404_and_wrong_methods_405(api: Api) -> None:
    assert_error(await api.call("GET", "/nope"), 404, "InvalidAction.NotFound")
    assert_error(await api.call("POST", "/mcp/doesNotExist"), 404)
    assert_error(await api.call("GET", p.PATH_CREATE_SESSION), 405)
    assert_error(await api.call("DELETE", p.PATH_CALL_TOOL), 405)


@pytest.mark.parametrize(
    "raw",
    ["{", "not json", "[1, 2]", '"a string"', "42", "null", '{"sessionId": 5}'],
)
async def test_malformed_bodies_get_400(api: Api, raw: str) -> None:
    assert_error(await api.call("POST", p.PATH_GET_SESSION, raw=raw), 400)


async def test_missing_session_id_gets_400(api: Api) -> None:
    assert_error(await api.call("POST", p.PATH_GET_SESSION, body={}), 400, "InvalidParameter")
    assert_error(await api.call("POST", p.PATH_GET_SESSION, body={"sessionId": " "}), 400)


async def test_oversized_body_gets_413(api: Api) -> None:
    big = json.dumps({"sessionId": "x", "pad": "a" * (5 * 1024 * 1024)})
    assert_error(await api.call("POST", p.PATH_GET_SESSION, raw=io.BytesIO(big.encode())), 413)


async def test_browser_routes_refuse_what_agb_local_cannot_do_with_the_reason(api: Api) -> None:
    code_space = await api.create()
    init = await api.call("POST", p.PATH_INIT_BROWSER, params={"sessionId": code_space})
    assert_error(init, 400, "NotSupported.AgbLocal")
    assert "agb-browser-use-" in init.body["message"]
    browser = await api.create("agb-browser-use-1")
    for option, code in (
        ({"useStealth": True}, "NotSupported.AgbLocal"),
        ({"proxies": [{"type": "custom", "server": "x:1"}]}, "NotSupported.AgbLocal"),
        ({"cmdArgs": ["--remote-debugging-port=1"]}, "InvalidParameter"),
        ({"viewport": {"width": 0, "height": 10}}, "InvalidParameter"),
        ({"defaultNavigateUrl": "--evil"}, "InvalidParameter"),
    ):
        params = {"sessionId": browser, p.Q_BROWSER_OPTION: json.dumps(option)}
        assert_error(await api.call("POST", p.PATH_INIT_BROWSER, params=params), 400, code)
    cdp = await api.call("POST", p.PATH_GET_CDP_LINK, params={"sessionId": browser})
    assert_error(cdp, 400, "Browser.NotRunning")


async def test_unexpected_errors_are_500_envelopes_without_internals(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(session_id: str, sync_paths: object = (), **_: object) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api.backend, "create", explode)
    reply = await api.call("POST", p.PATH_CREATE_SESSION, params={p.Q_IMAGE_ID: "code_latest"})
    assert_error(reply, 500, "InternalError")
    assert "secret" not in json.dumps(reply.body)
    assert reply.body["requestId"] in reply.body["message"]
    assert "secret internal detail" in caplog.text  # logged server-side, with the traceback


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    args=st.one_of(json_values, json_values.map(json.dumps)),
    name=st.one_of(st.sampled_from(["shell", "run_code", "read_file", "nope"]), json_values),
    session=st.one_of(st.none(), st.integers(), st.text(max_size=5)),
)
async def test_tool_calls_never_get_a_5xx(api: Api, args: Any, name: Any, session: Any) -> None:
    reply = await api.call(
        "POST", p.PATH_CALL_TOOL, body={"args": args, "name": name, "sessionId": session}
    )
    assert 400 <= reply.status < 500
    assert reply.body["success"] is False
