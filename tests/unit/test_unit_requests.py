"""The exact requests the SDK sends, endpoint by endpoint, against agb-wire.md.

Each case names the SDK call, the answers the mocked network gives, and every request that
must leave the client: method, path, raw query string (form encoding of §1.4: space -> `+`,
JSON punctuation percent-escaped) and body bytes (python-requests' `json=`: default
separators, non-ASCII escaped in the outer body, §1.4). Headers are checked once for every
request of every case (§0, §1.4).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

from _support.mock_wire import API_KEY, BASE, SESSION_ID, Wire, envelope, not_found, tool_data
from aioagb import AsyncAGB, AsyncSession, CreateSessionParams

IMAGE = "agb-code-space-2"
SDK_STATS = (
    "sdkStats=%7B%22source%22%3A%22sdk%22%2C%22sdk_language%22%3A%22python%22%2C"
    "%22sdk_version%22%3A%220.12.0%22%2C%22is_release%22%3Atrue%7D"
)
SID_BODY = b'{"sessionId": "s-1"}'
TOOL_QUERY = "autoGenSession=false"


def tool_body(name: str, args: str) -> bytes:
    """§4.1: `{"args": <JSON string>, "sessionId", "name"}` in that order."""
    return json.dumps({"args": args, "sessionId": SESSION_ID, "name": name}).encode()


@attrs.frozen
class Case:
    call: Callable[[AsyncAGB, AsyncSession], Awaitable[Any]]
    answers: list[tuple[str, str, dict[str, Any]]]  # (method, path, Wire.route kwargs)
    expected: list[tuple[str, str, str, bytes | None]]  # (method, path, query, body)
    check: Callable[[Any], bool] = lambda result: result.success


def ok(data: Any = None, **extra: Any) -> dict[str, Any]:
    return {"payload": envelope(data, **extra)}


def tool(text: str, *, is_error: bool = False) -> tuple[str, str, dict[str, Any]]:
    return ("POST", "/mcp", ok(tool_data(text, is_error=is_error)))


FILE_INFO = "size: 5\nisDirectory: false\nisFile: true\npermissions: 644"

CASES: dict[str, Case] = {
    # §3.2
    "get_session": Case(
        lambda agb, s: agb.get_session(SESSION_ID),
        [("POST", "/mcp/getSession", ok({"sessionId": SESSION_ID}))],
        [("POST", "/mcp/getSession", "", SID_BODY)],
    ),
    "get": Case(
        lambda agb, s: agb.get(SESSION_ID),
        [("POST", "/mcp/getSession", ok({"sessionId": SESSION_ID}))],
        [("POST", "/mcp/getSession", "", SID_BODY)],
    ),
    # §3.3
    "get_status": Case(
        lambda agb, s: s.get_status(),
        [("POST", "/mcp/getSessionInfo", ok({"status": "RUNNING"}))],
        [("POST", "/mcp/getSessionInfo", "", SID_BODY)],
    ),
    # §3.4: labels always present ({} without a filter), maxResults default 10
    "list_default": Case(
        lambda agb, s: agb.list(),
        [("GET", "/sdk/ListSession", ok([]))],
        [("GET", "/sdk/ListSession", "maxResults=10&labels=%7B%7D", None)],
    ),
    "list_labels_limit": Case(
        lambda agb, s: agb.list({"project": "p1"}, limit=2),
        [("GET", "/sdk/ListSession", ok([]))],
        # §10's example, byte for byte
        [("GET", "/sdk/ListSession", "maxResults=2&labels=%7B%22project%22%3A+%22p1%22%7D", None)],
    ),
    "list_two_labels_spaces": Case(
        lambda agb, s: agb.list({"env": "dev box", "team": "a/b"}),
        [("GET", "/sdk/ListSession", ok([]))],
        [
            (
                "GET",
                "/sdk/ListSession",
                "maxResults=10&labels=%7B%22env%22%3A+%22dev+box%22%2C+%22team%22%3A+%22a%2Fb%22%7D",
                None,
            )
        ],
    ),
    # §3.4 step 3: page N walks N-1 tokens first, same labels and maxResults
    "list_page_3": Case(
        lambda agb, s: agb.list({"k": "v"}, page=3, limit=2),
        [
            ("GET", "/sdk/ListSession", ok([{"sessionId": "a"}], nextToken="t 2")),
            ("GET", "/sdk/ListSession", ok([{"sessionId": "b"}], nextToken="t3")),
            ("GET", "/sdk/ListSession", ok([{"sessionId": "c"}], nextToken="")),
        ],
        [
            ("GET", "/sdk/ListSession", "maxResults=2&labels=%7B%22k%22%3A+%22v%22%7D", None),
            (
                "GET",
                "/sdk/ListSession",
                "maxResults=2&labels=%7B%22k%22%3A+%22v%22%7D&nextToken=t+2",
                None,
            ),
            (
                "GET",
                "/sdk/ListSession",
                "maxResults=2&labels=%7B%22k%22%3A+%22v%22%7D&nextToken=t3",
                None,
            ),
        ],
        lambda r: r.success and r.session_ids == ["c"],
    ),
    # §3.5: capital-L `Labels` in the query, body `{}`
    "set_labels": Case(
        lambda agb, s: s.set_labels({"project": "p1", "env": "dev"}),
        [("POST", "/sdk/SetLabel", ok())],
        [
            (
                "POST",
                "/sdk/SetLabel",
                "sessionId=s-1&Labels=%7B%22project%22%3A+%22p1%22%2C+%22env%22%3A+%22dev%22%7D",
                b"{}",
            )
        ],
    ),
    # §3.6
    "get_labels": Case(
        lambda agb, s: s.get_labels(),
        [("GET", "/sdk/GetLabel", ok({"labels": '{"a": "b"}'}))],
        [("GET", "/sdk/GetLabel", "sessionId=s-1", None)],
        lambda r: r.success and r.data == {"a": "b"},
    ),
    # §3.7: release, then status polls until FINISH or not-found
    "delete_not_found": Case(
        lambda agb, s: s.delete(),
        [
            ("POST", "/mcp/releaseSessionAsync", ok()),
            ("POST", "/mcp/getSessionInfo", {"status": 400, "payload": not_found()}),
        ],
        [
            ("POST", "/mcp/releaseSessionAsync", "", SID_BODY),
            ("POST", "/mcp/getSessionInfo", "", SID_BODY),
        ],
    ),
    "delete_polls_until_finish": Case(
        lambda agb, s: agb.delete(s),
        [
            ("POST", "/mcp/releaseSessionAsync", ok()),
            ("POST", "/mcp/getSessionInfo", ok({"status": "DELETING"})),
            ("POST", "/mcp/getSessionInfo", ok({"status": "FINISH"})),
        ],
        [
            ("POST", "/mcp/releaseSessionAsync", "", SID_BODY),
            ("POST", "/mcp/getSessionInfo", "", SID_BODY),
            ("POST", "/mcp/getSessionInfo", "", SID_BODY),
        ],
    ),
    # §3.9: sessionId in the query, body `{}`
    "keep_alive": Case(
        lambda agb, s: s.keep_alive(),
        [("POST", "/mcp/refreshSessionIdleTime", ok())],
        [("POST", "/mcp/refreshSessionIdleTime", "sessionId=s-1", b"{}")],
    ),
    # §3.11
    "info": Case(
        lambda agb, s: s.info(),
        [("POST", "/mcp/getMcpResource", ok({"sessionId": SESSION_ID, "resourceUrl": "u"}))],
        [("POST", "/mcp/getMcpResource", "", SID_BODY)],
        lambda r: r.success and r.data == {"session_id": SESSION_ID, "resource_url": "u"},
    ),
    # §3.12: imageId in the query, no sessionId, body `{}`
    "list_mcp_tools": Case(
        lambda agb, s: s.list_mcp_tools(),
        [("POST", "/mcp/listTools", ok('[{"name": "shell", "description": "d"}]'))],
        [("POST", "/mcp/listTools", f"imageId={IMAGE}", b"{}")],
        lambda r: r.success and [t.name for t in r.tools] == ["shell"],
    ),
    # §4.1 + §4.3
    "run_code": Case(
        lambda agb, s: s.code.run("print('hi')", "python"),
        [tool('{"result": [], "stdout": ["hi\\n"], "stderr": []}')],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                b'{"args": "{\\"code\\": \\"print(\'hi\')\\", \\"language\\": \\"python\\", '
                b'\\"timeout_s\\": 60}", "sessionId": "s-1", "name": "run_code"}',
            )
        ],
    ),
    # §4.3 aliases are canonicalised; §1.4 non-ASCII: kept in `args`, escaped by the outer body
    "run_code_alias_unicode": Case(
        lambda agb, s: s.run_code("print('é')", " JS ", timeout_s=5),
        [tool('{"result": [], "stdout": [], "stderr": []}')],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body(
                    "run_code", '{"code": "print(\'é\')", "language": "javascript", "timeout_s": 5}'
                ),
            )
        ],
    ),
    # §4.4: default timeout_ms 1000; cwd and envs only when given
    "shell_default": Case(
        lambda agb, s: s.command.execute("echo hi"),
        [tool('{"stdout": "hi\\n", "stderr": "", "exit_code": 0}')],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body("shell", '{"command": "echo hi", "timeout_ms": 1000}'),
            )
        ],
    ),
    "shell_cwd_envs": Case(
        lambda agb, s: s.command.execute("env", timeout_ms=5000, cwd="/tmp", envs={"A": "1"}),
        [tool('{"stdout": "", "stderr": "", "exit_code": 0}')],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body(
                    "shell",
                    '{"command": "env", "timeout_ms": 5000, "cwd": "/tmp", "envs": {"A": "1"}}',
                ),
            )
        ],
    ),
    # §4.5, one row per file tool
    "mkdir": Case(
        lambda agb, s: s.file.mkdir("/tmp/d"),
        [tool("ok")],
        [("POST", "/mcp", TOOL_QUERY, tool_body("create_directory", '{"path": "/tmp/d"}'))],
    ),
    "write_small": Case(
        lambda agb, s: s.file.write("/tmp/a.txt", "hello", mode="append"),
        [tool("ok")],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body(
                    "write_file", '{"path": "/tmp/a.txt", "content": "hello", "mode": "append"}'
                ),
            )
        ],
    ),
    "info_file": Case(
        lambda agb, s: s.file.info("/tmp/a.txt"),
        [tool(FILE_INFO)],
        [("POST", "/mcp", TOOL_QUERY, tool_body("get_file_info", '{"path": "/tmp/a.txt"}'))],
        lambda r: r.success and r.file_info["size"] == 5 and r.file_info["isDirectory"] is False,
    ),
    # §4.5 read: get_file_info first, then read_file with offset and length always sent
    "read_text": Case(
        lambda agb, s: s.file.read("/tmp/a.txt"),
        [tool(FILE_INFO), tool("hello")],
        [
            ("POST", "/mcp", TOOL_QUERY, tool_body("get_file_info", '{"path": "/tmp/a.txt"}')),
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body("read_file", '{"path": "/tmp/a.txt", "offset": 0, "length": 5}'),
            ),
        ],
        lambda r: r.success and r.content == "hello",
    ),
    "read_bytes": Case(
        lambda agb, s: s.file.read("/tmp/a.bin", format="bytes"),
        [tool(FILE_INFO), tool("AAEC/w==")],
        [
            ("POST", "/mcp", TOOL_QUERY, tool_body("get_file_info", '{"path": "/tmp/a.bin"}')),
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body(
                    "read_file",
                    '{"path": "/tmp/a.bin", "offset": 0, "length": 5, "format": "binary"}',
                ),
            ),
        ],
        lambda r: r.success and r.content == b"\x00\x01\x02\xff",
    ),
    # §4.5 read step 2: size 0 -> no read_file call
    "read_empty": Case(
        lambda agb, s: s.file.read("/tmp/e"),
        [tool("size: 0\nisDirectory: false")],
        [("POST", "/mcp", TOOL_QUERY, tool_body("get_file_info", '{"path": "/tmp/e"}'))],
        lambda r: r.success and r.content == "",
    ),
    "list_directory": Case(
        lambda agb, s: s.file.list("/tmp"),
        [tool("[DIR] d\n[FILE] a.txt\nnoise")],
        [("POST", "/mcp", TOOL_QUERY, tool_body("list_directory", '{"path": "/tmp"}'))],
        lambda r: (
            r.entries
            == [{"name": "d", "isDirectory": True}, {"name": "a.txt", "isDirectory": False}]
        ),
    ),
    "move": Case(
        lambda agb, s: s.file.move("/tmp/a", "/tmp/b"),
        [tool("moved")],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body("move_file", '{"source": "/tmp/a", "destination": "/tmp/b"}'),
            )
        ],
    ),
    "remove": Case(
        lambda agb, s: s.file.remove("/tmp/a"),
        [tool("deleted")],
        [("POST", "/mcp", TOOL_QUERY, tool_body("delete_file", '{"path": "/tmp/a"}'))],
    ),
    "edit": Case(
        lambda agb, s: s.file.edit("/tmp/a", [{"oldText": "x", "newText": "y"}], dry_run=True),
        [tool("diff")],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body(
                    "edit_file",
                    '{"path": "/tmp/a", "edits": [{"oldText": "x", "newText": "y"}], '
                    '"dryRun": true}',
                ),
            )
        ],
    ),
    "search": Case(
        lambda agb, s: s.file.search("/tmp", "*.txt"),
        [tool("/tmp/a.txt\n/tmp/b.txt\n")],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body("search_files", '{"path": "/tmp", "pattern": "*.txt"}'),
            )
        ],
        lambda r: r.matches == ["/tmp/a.txt", "/tmp/b.txt"],
    ),
    "search_exclude": Case(
        lambda agb, s: s.file.search("/tmp", "*", exclude_patterns=["*.log"]),
        [tool("No matches found")],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body(
                    "search_files",
                    '{"path": "/tmp", "pattern": "*", "excludePatterns": ["*.log"]}',
                ),
            )
        ],
        lambda r: r.success and r.matches == [],
    ),
    "read_batch": Case(
        lambda agb, s: s.file.read_batch(["/tmp/a", "/tmp/b"]),
        [tool("/tmp/a:\nA\n---\n/tmp/b:\nB\n")],
        [
            (
                "POST",
                "/mcp",
                TOOL_QUERY,
                tool_body("read_multiple_files", '{"paths": ["/tmp/a", "/tmp/b"]}'),
            )
        ],
        lambda r: r.contents == {"/tmp/a": "A", "/tmp/b": "B"},
    ),
    # §4.6
    "call_mcp_tool": Case(
        lambda agb, s: s.call_mcp_tool("get_metrics", {}),
        [tool('{"cpu_count": 2}')],
        [("POST", "/mcp", TOOL_QUERY, tool_body("get_metrics", "{}"))],
        lambda r: r.success and r.data == '{"cpu_count": 2}',
    ),
}


def register(wire: Wire, answers: list[tuple[str, str, dict[str, Any]]]) -> None:
    for method, path, kw in answers:
        wire.route(method, path, **kw)


def assert_headers(wire: Wire) -> None:
    """§0/§1.4: `authorization: Bearer <key>` (lower-case name) and a JSON content type on
    every request, GET included; bodies on POST only."""
    for sent in wire.sent:
        assert sent.headers["authorization"] == f"Bearer {API_KEY}"
        assert sent.headers["Content-Type"] == "application/json"
        # §1.4: POST always has a JSON body (`{}` at least), GET never has one
        if sent.method == "POST":
            assert sent.body is not None and isinstance(sent.json(), dict)
        else:
            assert sent.method == "GET" and sent.body is None


@pytest.mark.parametrize("name", list(CASES))
async def test_each_call_sends_exactly_the_documented_requests_and_headers(
    wire: Wire, agb: AsyncAGB, name: str
) -> None:
    """§0 quick reference, §1.4 encoding, and the section named in each case's comment."""
    case = CASES[name]
    register(wire, case.answers)
    session = AsyncSession(agb, SESSION_ID, image_id=IMAGE)

    result = await case.call(agb, session)

    got = [(s.method, s.path, s.query, s.body) for s in wire.sent]
    assert got == case.expected
    assert case.check(result), result
    assert_headers(wire)
    # MockTransport's own record agrees: same number of calls, same bodies and headers.
    recorded = [request for t in wire.transports for request in t.requests]
    assert len(recorded) == len(case.expected)
    assert [r.body for r in recorded] == [body for *_, body in case.expected]
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in recorded)


# --- create (§3.1) -----------------------------------------------------------------------

CREATE_OK = {"sessionId": SESSION_ID, "resourceUrl": "https://h/v?resourceId=r", "success": True}


async def test_create_request_carries_user_and_bookkeeping_labels(wire: Wire, agb: AsyncAGB):
    """§3.1: imageId and compact sdkStats in the query; `labels` a JSON *string* with the
    default separators, then `mcpPolicyId`, then `timeout` (seconds). The SDK adds its two
    bookkeeping labels (`aioagb-client`, `aioagb-create`; see _orphans) after the user's."""
    wire.ok("POST", "/mcp/createSession", CREATE_OK)
    params = CreateSessionParams(
        image_id=IMAGE, labels={"project": "p1"}, idle_release_timeout=120, policy_id="pol-1"
    )

    result = await agb.create(params)

    assert result.success and result.session is not None
    [sent] = wire.sent
    assert (sent.method, sent.path) == ("POST", "/mcp/createSession")
    assert sent.query == f"imageId={IMAGE}&{SDK_STATS}"
    body = sent.json()
    assert list(body) == ["labels", "mcpPolicyId", "timeout"]
    assert body["mcpPolicyId"] == "pol-1" and body["timeout"] == 120
    assert isinstance(body["labels"], str)
    labels = json.loads(body["labels"])
    assert list(labels) == ["project", "aioagb-client", "aioagb-create"]
    assert labels["project"] == "p1"
    assert labels["aioagb-client"] == agb.lifecycle.orphans.client_id
    assert re.fullmatch(r"[0-9a-f]{16}", labels["aioagb-create"])
    # the exact bytes: python-requests' json= over a json.dumps() string (§1.4)
    assert sent.body == json.dumps(
        {"labels": json.dumps(labels), "mcpPolicyId": "pol-1", "timeout": 120}
    ).encode("ascii")
    assert_headers(wire)


async def test_create_minimal_has_only_bookkeeping_labels(wire: Wire, agb: AsyncAGB):
    """§3.1: no policy -> no `mcpPolicyId`; no idle timeout -> no `timeout`. The body is
    never `{}` because the bookkeeping labels are always there (a deliberate addition)."""
    wire.ok("POST", "/mcp/createSession", CREATE_OK)
    wire.ok("POST", "/mcp/createSession", CREATE_OK)

    await agb.create(CreateSessionParams(image_id=IMAGE))
    await agb.create(CreateSessionParams(image_id=IMAGE))

    first, second = (s.json() for s in wire.sent)
    assert list(first) == ["labels"]
    a, b = json.loads(first["labels"]), json.loads(second["labels"])
    assert set(a) == {"aioagb-client", "aioagb-create"}
    assert a["aioagb-client"] == b["aioagb-client"]  # one id per client ...
    assert a["aioagb-create"] != b["aioagb-create"]  # ... one token per create


async def test_create_image_id_is_form_encoded(wire: Wire, agb: AsyncAGB):
    """§1.4: the query string is form encoded (space -> '+', '/' escaped)."""
    wire.ok("POST", "/mcp/createSession", CREATE_OK)
    await agb.create(CreateSessionParams(image_id="img a/b"))
    assert wire.sent[0].query.startswith("imageId=img+a%2Fb&sdkStats=")


async def test_endpoint_path_prefix_is_kept(wire: Wire):
    """§1.1: a path prefix in the endpoint is kept; the SDK drops a trailing '/' rather than
    sending `//mcp/...` (the official client would; servers tolerate both)."""
    from _support.mock_wire import client

    wire.route("POST", "/prefix/mcp/getSessionInfo", payload=envelope())
    async with client(endpoint=BASE + "/prefix/") as agb:
        await AsyncSession(agb, SESSION_ID).get_status()
    assert wire.sent[0].url == BASE + "/prefix/mcp/getSessionInfo"
