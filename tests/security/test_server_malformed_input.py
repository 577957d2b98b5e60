"""Issue 6 point 2: malformed requests to every route of AGB Local.

Hypothesis generates more than 1,000 malformed requests over every route the server has
(session routes, listing, tools and each tool's `args`, out-of-scope and unknown routes,
wrong methods, bad keys): wrong types, missing fields, huge values, invalid UTF-8 (in the body
and percent-encoded in the query), deeply nested JSON, oversized bodies, bad page tokens,
unknown tools. Each reply must be the protocol's envelope with a status below 500, the
server must log no unexpected error, and a well-formed SDK client working on the same server
the whole time must see no error and keep being served.

The requests travel as raw bytes on a socket (`raw_request`) so that nothing on the client
side cleans them up. The server is real (bubblewrap sandboxes), so tool calls with odd but
well-typed arguments reach a sandbox too.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator, Mapping

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _support.security import (
    IMAGE,
    KEY_A,
    KEY_B,
    ErrorRecords,
    RawReply,
    WellFormedClient,
    assert_envelope,
    bearer,
    raw_request,
    security_config,
    server_in_thread,
)
from aioagb import _protocol as p
from aioagb.server import LocalServer, app
from aioagb.server.tools import TOOLS

MAX_BODY = 64 * 1024
MAX_OUTPUT = 16 * 1024
SENT: list[int] = []  # one entry per malformed request, for the total check at the end

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=45,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@attrs.define
class Target:
    """The server under attack, and the ids the generated requests may name."""

    server: LocalServer
    client: WellFormedClient
    own_session: str  # a live session of KEY_A, with a running sandbox
    other_tenant_session: str  # a live session of KEY_B
    released_session: str

    @property
    def port(self) -> int:
        return self.server.port

    def send(
        self,
        method: str,
        target: bytes,
        body: bytes = b"",
        headers: Mapping[bytes, bytes] | None = None,
    ) -> RawReply:
        SENT.append(1)
        return raw_request(self.port, method, target, body, {**bearer(KEY_A), **(headers or {})})

    def create(self, key: str = KEY_A) -> str:
        target = f"{p.PATH_CREATE_SESSION}?{p.Q_IMAGE_ID}={IMAGE}".encode()
        reply = raw_request(self.port, "POST", target, b"{}", bearer(key))
        session_id: str = assert_envelope(reply)["data"]["sessionId"]
        return session_id

    def resolve(self, value: object, *, releasing: bool) -> object:
        """Placeholders become real ids; a release gets a fresh session of its own."""
        if value == "<own>":
            return self.create() if releasing else self.own_session
        if value == "<other>":
            return self.other_tenant_session
        if value == "<released>":
            return self.released_session
        return value


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    limits = attrs.evolve(security_config().limits, max_timeout_s=2.0, max_output_bytes=MAX_OUTPUT)
    config = security_config(max_body_bytes=MAX_BODY, limits=limits)
    with (
        ErrorRecords().watching("aioagb", "aiohttp") as errors,
        server_in_thread(config) as server,
    ):
        client = WellFormedClient(server)
        client.start()
        try:
            t = Target(server, client, "", "", "")
            t.own_session = t.create()
            assert_envelope(t.send("POST", _shell_target(), _tool_body(t.own_session, "true")))
            t.other_tenant_session = t.create(KEY_B)
            t.released_session = t.create()
            release = p.PATH_RELEASE_ASYNC.encode()
            assert_envelope(t.send("POST", release, _json({"sessionId": t.released_session})))
            yield t
        finally:
            client.stop()
        assert not errors.records, [r.getMessage() for r in errors.records]


@pytest.fixture(autouse=True)
def well_formed_client_keeps_working(target: Target) -> Iterator[None]:
    rounds_before, _ = target.client.snapshot()
    yield
    deadline = time.monotonic() + 10
    while target.client.snapshot()[0] <= rounds_before and time.monotonic() < deadline:
        time.sleep(0.01)  # a fast test may end between two of the client's rounds
    rounds_after, failures = target.client.snapshot()
    assert failures == 0, target.client.errors[:5]
    assert rounds_after > rounds_before, "the well-formed client made no progress"


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _shell_target() -> bytes:
    return f"{p.PATH_CALL_TOOL}?{p.Q_AUTO_GEN_SESSION}=false".encode()


def _tool_body(session_id: str, command: str) -> bytes:
    args = json.dumps({"command": command})
    return _json({"args": args, "sessionId": session_id, "name": p.TOOL_SHELL})


# --- strategies ---------------------------------------------------------------------------

NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
        "x\udcff",
        "../../../../etc/passwd",
        "/etc/shadow",
        "/proc/1/environ",
        "%ff%fe",
        "{",
        "{}",
        "[]",
        "null",
        '{"a": 1}',
        "9" * 400,
        "é" * 3000,
        "a" * 20000,
        "\n\r\t",
        "<script>",
        "'; DROP TABLE sessions; --",
    ]
)
HUGE_INTS = st.sampled_from([-(2**63), -1, 0, 2**31, 2**63, 10**30, -(10**30)])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(),  # NaN and infinities included: Python's json writes and reads them
    st.text(max_size=40),
    NASTY_TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
SESSION_IDS = st.one_of(
    st.sampled_from(["<own>", "<other>", "<released>"]), JSON_VALUES, st.text(max_size=30)
)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _encode_json(draw: st.DrawFn, value: object) -> bytes:
    """JSON as a client might write it; non-ASCII kept raw sometimes, lone surrogates then
    going out as invalid UTF-8 (CESU-8)."""
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


@st.composite
def deep_json(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([100, 1_000, 10_000, 30_000]))
    if draw(st.booleans()):
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """Bodies that are broken as bytes: invalid UTF-8, non-JSON, non-objects, too deep,
    too large."""
    return draw(
        st.one_of(
            st.binary(max_size=200),
            st.binary(min_size=1, max_size=50).map(lambda b: b'{"sessionId": "' + b + b'"}'),
            st.sampled_from(
                [
                    b"\xff\xfe{}",
                    b'{"sessionId": "\xc3\x28"}',
                    b"{",
                    b"null",
                    b"[]",
                    b'"text"',
                    b"12",
                    b"NaN",
                    b"{}" * 10,
                    b"\x00" * 16,
                ]
            ),
            deep_json(),
            st.sampled_from([MAX_BODY + 1, 2 * MAX_BODY, 4 * MAX_BODY]).map(
                lambda n: b'{"sessionId": "' + b"x" * n + b'"}'
            ),
        )
    )


@st.composite
def query_strings(draw: st.DrawFn, fields: tuple[str, ...]) -> bytes:
    """A query with the route's fields (and strangers) holding odd values, percent-encoded
    from arbitrary bytes (so %ff and lone surrogates' CESU-8 bytes appear), or raw junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([b"%", b"%zz", b"&&==&", b"a=%ff%fe", b"=", b"a" * 3000]))
    names = list(draw(st.lists(st.sampled_from(fields), unique=True))) if fields else []
    names += draw(st.lists(st.text(max_size=6), max_size=2))
    parts = []
    for name in names:
        value = draw(st.one_of(SCALARS.map(str), NASTY_TEXT, st.binary(max_size=20)))
        raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
        parts.append(
            urllib.parse.quote(name.encode("utf-8", "surrogatepass"), safe="")
            + "="
            + urllib.parse.quote_from_bytes(raw, safe="")
        )
    # Under aiohttp's 8 KiB request-line limit (a longer line gets the parser's plain 400,
    # see test_an_overlong_request_line_is_refused_by_the_http_parser).
    return "&".join(parts).encode()[:6000]


# --- the routes ---------------------------------------------------------------------------


@attrs.frozen
class Route:
    method: str
    path: str
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    session_in_query: bool = False

    @property
    def releases(self) -> bool:
        return self.path in (p.PATH_RELEASE, p.PATH_RELEASE_ASYNC)


ROUTES = [
    Route(
        "POST",
        p.PATH_CREATE_SESSION,
        (p.Q_IMAGE_ID, p.Q_SDK_STATS),
        ("labels", "timeout", "mcpPolicyId", "persistenceDataList"),
    ),
    Route("POST", p.PATH_GET_SESSION, body=(p.B_SESSION_ID,)),
    Route("POST", p.PATH_GET_SESSION_INFO, body=(p.B_SESSION_ID,)),
    Route("GET", p.PATH_LIST_SESSIONS, (p.Q_MAX_RESULTS, p.Q_LABELS, p.Q_NEXT_TOKEN)),
    Route("POST", p.PATH_SET_LABELS, (p.Q_SESSION_ID, p.Q_SET_LABELS), session_in_query=True),
    Route("GET", p.PATH_GET_LABELS, (p.Q_SESSION_ID,), session_in_query=True),
    Route("POST", p.PATH_RELEASE_ASYNC, body=(p.B_SESSION_ID,)),
    Route("POST", p.PATH_RELEASE, body=(p.B_SESSION_ID,)),
    Route("POST", p.PATH_KEEP_ALIVE, (p.Q_SESSION_ID,), session_in_query=True),
    Route(
        "GET", p.PATH_GET_LINK, (p.Q_SESSION_ID, p.Q_PROTOCOL_TYPE, p.Q_PORT), session_in_query=True
    ),
    Route("POST", p.PATH_GET_LINK_ASYNC, body=(p.B_SESSION_ID, "protocolType", "port")),
    Route("POST", p.PATH_GET_MCP_RESOURCE, body=(p.B_SESSION_ID,)),
    Route("GET", p.PATH_GET_CONTEXT_INFO, (p.Q_SESSION_ID,), session_in_query=True),
    Route("POST", p.PATH_LIST_TOOLS, (p.Q_IMAGE_ID,)),
    Route("POST", p.PATH_CALL_TOOL, (p.Q_AUTO_GEN_SESSION,), ("args", "sessionId", "name")),
    Route(
        "POST",
        p.PATH_SYNC_CONTEXT,
        (p.Q_SESSION_ID, p.Q_CONTEXT_ID, p.Q_PATH, p.Q_MODE),
        session_in_query=True,
    ),
    Route(
        "POST",
        p.PATH_GET_AND_LOAD_INTERNAL_CONTEXT,
        (p.Q_SESSION_ID, p.Q_CONTEXT_TYPES),
        session_in_query=True,
    ),
    Route("GET", p.PATH_LIST_CONTEXTS, (p.Q_MAX_RESULTS, p.Q_NEXT_TOKEN)),
    Route("GET", p.PATH_GET_CONTEXT, (p.Q_ID, p.Q_NAME, p.Q_ALLOW_CREATE, p.Q_LOGIN_REGION_ID)),
    Route("POST", p.PATH_MODIFY_CONTEXT, (p.Q_ID, p.Q_NAME)),
    Route("POST", p.PATH_DELETE_CONTEXT, (p.Q_ID,)),
    Route("POST", p.PATH_CLEAR_CONTEXT, (p.Q_ID,)),
    Route(
        "POST",
        p.PATH_DESCRIBE_CONTEXT_FILES,
        (p.Q_CONTEXT_ID, p.Q_PARENT_FOLDER_PATH, p.Q_PAGE_NUMBER, p.Q_PAGE_SIZE),
    ),
    Route("POST", p.PATH_GET_CONTEXT_FILE_UPLOAD_URL, (p.Q_CONTEXT_ID, p.Q_FILE_PATH)),
    Route("POST", p.PATH_GET_CONTEXT_FILE_DOWNLOAD_URL, (p.Q_CONTEXT_ID, p.Q_FILE_PATH)),
    Route("POST", p.PATH_DELETE_CONTEXT_FILE, (p.Q_CONTEXT_ID, p.Q_FILE_PATH)),
    Route(
        "POST",
        p.PATH_INIT_BROWSER,
        (p.Q_SESSION_ID, p.Q_PERSISTENT_PATH, p.Q_BROWSER_OPTION),
        session_in_query=True,
    ),
    Route("POST", p.PATH_GET_CDP_LINK, (p.Q_SESSION_ID,), session_in_query=True),
]


def test_the_fuzzed_routes_are_every_route_the_server_has() -> None:
    """A new route in the server's table fails this until it is fuzzed too."""
    served = set(app.ROUTES)
    assert served <= {r.path for r in ROUTES}, served - {r.path for r in ROUTES}


@st.composite
def field_values(draw: st.DrawFn, route: Route, name: str) -> object:
    if name in (p.B_SESSION_ID, p.Q_SESSION_ID):
        return draw(SESSION_IDS)
    if name == p.Q_IMAGE_ID:
        return draw(st.one_of(st.sampled_from([IMAGE, "code_latest", "nope"]), NASTY_TEXT))
    if name in (p.Q_LABELS, p.Q_SET_LABELS, p.B_LABELS):
        labels = draw(JSON_VALUES)
        return draw(st.sampled_from([labels, json.dumps(labels)]))
    if name == p.Q_NEXT_TOKEN:
        return draw(st.one_of(NASTY_TEXT, st.text(max_size=60), st.just("djEuMS4wMDAw")))
    return draw(JSON_VALUES)


@st.composite
def malformed_requests(draw: st.DrawFn, route: Route) -> tuple[str, dict[str, object], bytes]:
    """(query string, fields used, body): most bodies are JSON objects with wrong-typed or
    missing fields; some are broken bytes."""
    fields = (
        {
            name: draw(field_values(route, name))
            for name in draw(st.lists(st.sampled_from(route.body), unique=True))
            if route.body
        }
        if route.body
        else {}
    )
    extra = draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=2))
    if draw(st.integers(0, 5)) == 0:
        body = draw(raw_bodies())
    else:
        body = _encode_json(draw, {**extra, **fields})
    query = draw(query_strings(route.query))
    if route.session_in_query and draw(st.booleans()):
        session = draw(st.sampled_from(["<own>", "<other>", "<released>"]))
        query += f"&{p.Q_SESSION_ID}={session}".encode()
    return query.decode("ascii"), fields, body


def _resolve_query(t: Target, query: str, releasing: bool) -> bytes:
    for placeholder in ("<own>", "<other>", "<released>"):
        if placeholder in query:
            query = query.replace(placeholder, str(t.resolve(placeholder, releasing=releasing)))
    return query.encode("ascii")


def _resolve_body(t: Target, fields: Mapping[str, object], body: bytes, route: Route) -> bytes:
    for name, value in fields.items():
        if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
            real = t.resolve(value, releasing=route.releases)
            body = body.replace(json.dumps(value).encode(), json.dumps(real).encode())
            del name
    return body


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method}{r.path}")
@FUZZ
@given(data=st.data())
def test_every_route_answers_malformed_requests_with_a_4xx_envelope(
    target: Target, route: Route, data: st.DataObject
) -> None:
    query, fields, body = data.draw(malformed_requests(route))
    url = route.path.encode() + b"?" + _resolve_query(target, query, route.releases)
    reply = target.send(route.method, url, _resolve_body(target, fields, body, route))
    assert_envelope(reply)


# --- each tool's args ---------------------------------------------------------------------

TOOL_NAMES = sorted(TOOLS)


@st.composite
def tool_args(draw: st.DrawFn, tool: str) -> str:
    """The `args` string: the tool's own fields with odd values, or not an object at all."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.one_of(NASTY_TEXT, st.text(max_size=30)))
    if kind == 1:
        return draw(deep_json()).decode()
    names = list(TOOLS[tool].properties) if tool in TOOLS else ["path", "command"]
    names = names or ["unexpected"]  # a tool without arguments (get_metrics) gets stray ones
    chosen = draw(st.lists(st.sampled_from(names), unique=True))
    args: dict[str, object] = {}
    for name in chosen:
        # Mostly harmless but well-typed values (they reach the sandbox), or anything at all.
        args[name] = draw(
            st.one_of(
                JSON_VALUES,
                NASTY_TEXT,
                st.sampled_from(["/workspace/f.txt", "/tmp", "x/../../..", "/", "true"]),
                HUGE_INTS,
                st.lists(NASTY_TEXT, max_size=3),
            )
        )
    return json.dumps(args, ensure_ascii=draw(st.booleans()))


@pytest.mark.parametrize("tool", [*TOOL_NAMES, "screenshot", "no_such_tool"])
@FUZZ
@given(data=st.data())
def test_every_tool_answers_malformed_args_with_an_envelope(
    target: Target, tool: str, data: st.DataObject
) -> None:
    args = data.draw(tool_args(tool))
    session = data.draw(st.sampled_from(["<own>", "<own>", "<own>", "<other>", "<released>"]))
    body = {"args": args, "sessionId": target.resolve(session, releasing=False), "name": tool}
    raw = json.dumps(body, ensure_ascii=data.draw(st.booleans())).encode("utf-8", "surrogatepass")
    reply = target.send("POST", _shell_target(), raw)
    envelope = assert_envelope(reply)
    if reply.status == 200:  # a tool result: text content, error or not
        assert isinstance(envelope["data"]["isError"], bool)
        assert isinstance(envelope["data"]["content"][0]["text"], str)


# --- keys, methods, unknown routes ----------------------------------------------------------


@FUZZ
@given(
    path=st.one_of(
        st.sampled_from([r.path for r in ROUTES]),
        st.text(max_size=30).map(lambda s: "/" + urllib.parse.quote(_utf8(s))),
        st.sampled_from(["/", "//mcp//getSession", "/mcp/../etc/passwd", "/%2e%2e/%2e%2e"]),
    ),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    auth=st.one_of(
        st.none(),
        st.sampled_from([b"", b"Bearer", b"Bearer ", b"Basic abc", b"bearer wrong", b"\xff\xfe"]),
        # Any bytes a header value may hold (control characters are refused by the parser).
        st.lists(st.integers(0x20, 0xFF).filter(lambda c: c != 0x7F), max_size=40).map(bytes),
        st.just(b"Bearer " + KEY_A.encode() + b"x"),
    ),
)
def test_unknown_routes_methods_and_keys_get_an_envelope(
    target: Target, path: str, method: str, auth: bytes | None
) -> None:
    SENT.append(1)
    headers = {} if auth is None else {b"authorization": auth}
    reply = raw_request(target.port, method, path.encode("ascii"), b"{}", headers)
    assert_envelope(reply)
    assert reply.status in (400, 401, 404, 405), reply.body


# --- the limits -----------------------------------------------------------------------------


def test_request_bodies_are_limited_with_a_413_envelope(target: Target) -> None:
    route = p.PATH_GET_SESSION.encode()
    padding = b" " * (MAX_BODY - 40)
    near_limit = b'{"sessionId": "nope"}' + padding
    assert target.send("POST", route, near_limit).status == 400  # read, parsed: not found
    reply = target.send("POST", route, b'{"sessionId": "' + b"x" * (MAX_BODY + 1) + b'"}')
    assert reply.status == 413
    assert assert_envelope(reply)["code"] == "InvalidParameter.BodyTooLarge"


def test_captured_output_is_limited(target: Target) -> None:
    args = json.dumps({"command": "head -c 5000000 /dev/zero | tr '\\0' x", "timeout_ms": 5000})
    body = _json({"args": args, "sessionId": target.own_session, "name": p.TOOL_SHELL})
    reply = target.send("POST", _shell_target(), body)
    payload = json.loads(assert_envelope(reply)["data"]["content"][0]["text"])
    assert len(payload["stdout"]) < MAX_OUTPUT + 200
    assert f"output truncated at {MAX_OUTPUT} bytes" in payload["stdout"]
    assert len(reply.body) < 2 * MAX_OUTPUT + 10_000


def test_an_overlong_request_line_is_refused_by_the_http_parser(target: Target) -> None:
    """Not an envelope (aiohttp's parser answers before AGB Local sees a request), but a
    4xx, and the server goes on serving."""
    SENT.append(1)
    url = p.PATH_LIST_SESSIONS.encode() + b"?labels=" + b"%7B" * 4000
    assert raw_request(target.port, "GET", url, b"", bearer(KEY_A)).status == 400
    assert assert_envelope(target.send("GET", p.PATH_LIST_SESSIONS.encode()))["success"]


def test_zz_more_than_1000_malformed_requests_were_sent_and_the_client_was_served(
    target: Target,
) -> None:
    """Runs last (file order): the total over this module, and the well-formed client's
    record over the whole attack."""
    assert len(SENT) >= 1000, len(SENT)
    client = target.client
    assert client.rounds >= 20 and not client.errors, (client.rounds, client.errors[:5])
    worst = max(client.latencies)
    assert worst < 10.0, f"a well-formed round took {worst:.1f} s during the attack"
    rounds = client.rounds
    print(f"\n{len(SENT)} malformed requests; client: {rounds} rounds, worst {worst:.3f} s")
