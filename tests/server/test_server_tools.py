"""POST /mcp and listTools through the HTTP layer (with the fake sandbox)."""

from __future__ import annotations

import base64
import json

import pytest

from _support.server_app import Api, assert_error
from aioagb import _protocol as p

CHUNK = p.READ_CHUNK_BYTES


def only_text(reply_data: dict[str, object]) -> str:
    content = reply_data["content"]
    assert isinstance(content, list) and len(content) == 1
    assert content[0]["type"] == "text"
    text: str = content[0]["text"]
    return text


async def test_list_tools_data_is_a_json_string(api: Api) -> None:
    for image in ("agb-code-space-2", "agb-browser-use-1"):
        reply = await api.call("POST", p.PATH_LIST_TOOLS, params={"imageId": image})
        assert reply.status == 200 and isinstance(reply.data, str)
        tools = json.loads(reply.data)
        names = {tool["name"] for tool in tools}
        assert {"run_code", "shell", "read_file", "get_file_change", "get_metrics"} <= names
        assert all(t["description"] and t["inputSchema"]["type"] == "object" for t in tools)
        # run_code names the languages the backend runs: the fake runs python only.
        run_code = next(tool for tool in tools if tool["name"] == "run_code")
        assert run_code["inputSchema"]["properties"]["language"]["enum"] == ["python"]
        assert "java" not in run_code["description"]
    assert_error(await api.call("POST", p.PATH_LIST_TOOLS), 400)
    assert_error(await api.call("POST", p.PATH_LIST_TOOLS, params={"imageId": "nope"}), 400)


async def test_run_code_keeps_state_and_uses_the_new_format(api: Api) -> None:
    sid = await api.create()
    await api.tool_text(sid, "run_code", {"code": "x = 41", "language": "python"})
    text = await api.tool_text(sid, "run_code", {"code": "print('hi')\nx + 1"})
    payload = json.loads(text)
    assert payload["stdout"] == ["hi\n"]
    assert payload["result"] == [{"text/plain": "42", "isMainResult": True}]
    assert payload["execution_count"] == 2 and "executionError" not in payload


async def test_run_code_reports_python_errors_and_unsupported_or_missing_languages(
    api: Api,
) -> None:
    sid = await api.create()
    failed = json.loads(await api.tool_text(sid, "run_code", {"code": "undefined_name"}))
    assert failed["executionError"].startswith("NameError")
    reply = await api.tool(sid, "run_code", {"code": "1", "language": "ruby"})
    assert reply.data["isError"] is True and "Unsupported language" in only_text(reply.data)
    reply = await api.tool(sid, "run_code", {"code": "1", "language": "javascript"})
    assert reply.status == 200 and reply.body["message"] == ""
    assert reply.data["isError"] is True and "not available" in only_text(reply.data)


async def test_shell_failure_is_an_is_error_payload_with_error_code_in_a_200_reply(
    api: Api,
) -> None:
    sid = await api.create()
    ok = json.loads(await api.tool_text(sid, "shell", {"command": "echo hi", "timeout_ms": 5000}))
    assert ok["stdout"] == "hi\n" and ok["exit_code"] == 0
    reply = await api.tool(sid, "shell", {"command": "echo oops >&2; exit 3", "timeout_ms": 5000})
    assert reply.status == 200 and reply.body["success"] is True
    assert reply.body["message"] == ""  # a non-empty message would hide the payload (§4.2)
    assert reply.data["isError"] is True
    failed = json.loads(only_text(reply.data))
    assert failed["errorCode"] == 3 and failed["stderr"] == "oops\n" and failed["traceId"]
    env = {"command": "echo $X", "timeout_ms": 5000, "envs": {"X": "y"}}
    assert json.loads(await api.tool_text(sid, "shell", env))["stdout"] == "y\n"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("shell", {}),
        ("shell", {"command": 1}),
        ("shell", {"command": "x", "timeout_ms": "10"}),
        ("shell", {"command": "x", "envs": {"a": 1}}),
        ("run_code", {"language": "python"}),
        ("read_file", {"path": ""}),
        ("read_file", {"path": "/a", "offset": -1, "length": 1}),
        ("write_file", {"path": "/a", "content": "x", "mode": "create_new"}),
        ("edit_file", {"path": "/a", "edits": [{"oldText": "x"}]}),
        ("read_multiple_files", {"paths": "/a"}),
        ("move_file", {"source": "/a"}),
    ],
)
async def test_malformed_tool_args_get_400(api: Api, name: str, args: dict[str, object]) -> None:
    sid = await api.create()
    assert_error(await api.tool(sid, name, args), 400, "InvalidParameter")


async def test_args_must_be_a_json_string_of_an_object(api: Api) -> None:
    sid = await api.create()
    for args in ({"command": "x"}, "not json", "[1]", None):
        body = {"args": args, "sessionId": sid, "name": "shell"}
        assert_error(await api.call("POST", p.PATH_CALL_TOOL, body=body), 400)


async def test_unknown_tools_and_desktop_tools_answer_400_with_distinct_codes(api: Api) -> None:
    sid = await api.create()
    assert_error(await api.tool(sid, "no_such_tool", {}), 400, "InvalidTool.NotFound")
    reply = await api.tool(sid, "screenshot", {})
    assert_error(reply, 400, "NotSupported.AgbLocal")
    assert "not available on AGB Local" in reply.body["message"]


async def test_get_metrics_answers_the_official_shape(api: Api) -> None:
    sid = await api.create()
    metrics = json.loads(await api.tool_text(sid, p.TOOL_GET_METRICS, {}))
    assert set(metrics) == {
        "cpu_count", "cpu_used_pct", "disk_total", "disk_used", "mem_total", "mem_used",
        "rx_rate_kbyte_per_s", "tx_rate_kbyte_per_s", "rx_used_kbyte", "tx_used_kbyte",
        "timestamp",
    }  # fmt: skip
    assert metrics["cpu_count"] == 2 and metrics["timestamp"]


async def test_file_round_trip_listing_info_and_errors(api: Api) -> None:
    sid = await api.create()
    await api.tool_text(sid, "create_directory", {"path": "/workspace/d/empty"})
    assert await api.tool_text(sid, "list_directory", {"path": "/workspace/d/empty"}) == ""
    await api.tool_text(sid, "write_file", {"path": "/workspace/d/a.txt", "content": "ab"})
    await api.tool_text(
        sid, "write_file", {"path": "/workspace/d/a.txt", "content": "c", "mode": "append"}
    )
    info = await api.tool_text(sid, "get_file_info", {"path": "/workspace/d/a.txt"})
    assert "size: 3" in info.splitlines() and "isDirectory: false" in info.splitlines()
    listing = await api.tool_text(sid, "list_directory", {"path": "/workspace/d"})
    assert listing.splitlines() == ["[FILE] a.txt", "[DIR] empty"]
    text = await api.tool_text(
        sid, "read_file", {"path": "/workspace/d/a.txt", "offset": 0, "length": 3}
    )
    assert text == "abc"
    whole = await api.tool_text(sid, "read_file", {"path": "/workspace/d/a.txt"})
    assert whole == "abc"  # no range: the whole file
    past_end = await api.tool_text(sid, "read_file", {"path": "/workspace/d/a.txt", "offset": 9})
    assert past_end == ""
    missing = await api.tool(sid, "get_file_info", {"path": "/workspace/nope"})
    assert missing.status == 200 and missing.data["isError"] is True
    assert "No such file" in only_text(missing.data)


async def test_move_delete_edit_search_batch_and_changes(api: Api) -> None:
    sid = await api.create()
    for name in ("a.txt", "b.txt", "c.log"):
        await api.tool_text(sid, "write_file", {"path": f"/workspace/s/{name}", "content": name})
    found = await api.tool_text(sid, "search_files", {"path": "/workspace/s", "pattern": "*.txt"})
    assert found.splitlines() == ["/workspace/s/a.txt", "/workspace/s/b.txt"]
    none = await api.tool_text(sid, "search_files", {"path": "/workspace/s", "pattern": "*.md"})
    assert none == "No matches found"
    batch = await api.tool_text(
        sid, "read_multiple_files", {"paths": ["/workspace/s/a.txt", "/workspace/s/zz"]}
    )
    assert batch.startswith("/workspace/s/a.txt:\na.txt\n\n---\n/workspace/s/zz: Error - ")
    edits = [{"oldText": "a.txt", "newText": "A"}]
    await api.tool_text(sid, "edit_file", {"path": "/workspace/s/a.txt", "edits": edits})
    assert await api.tool_text(sid, "read_file", {"path": "/workspace/s/a.txt"}) == "A"
    missing_text = [{"oldText": "zz", "newText": ""}]
    not_found = await api.tool(
        sid, "edit_file", {"path": "/workspace/s/a.txt", "edits": missing_text}
    )
    assert not_found.data["isError"] is True
    await api.tool_text(sid, "get_file_change", {"path": "/workspace/s"})  # baseline
    await api.tool_text(sid, "write_file", {"path": "/workspace/s/b.txt", "content": "changed!"})
    changes = json.loads(await api.tool_text(sid, "get_file_change", {"path": "/workspace/s"}))
    assert {"eventType": "modify", "path": "/workspace/s/b.txt", "pathType": "file"} in changes
    move = {"source": "/workspace/s/a.txt", "destination": "/workspace/s/moved.txt"}
    await api.tool_text(sid, "move_file", move)
    await api.tool_text(sid, "delete_file", {"path": "/workspace/s/moved.txt"})
    gone = await api.tool(sid, "get_file_info", {"path": "/workspace/s/moved.txt"})
    assert gone.data["isError"] is True


async def read_like_the_client(api: Api, sid: str, path: str, binary: bool) -> bytes:
    info = await api.tool_text(sid, "get_file_info", {"path": path})
    size = int(dict(line.split(": ", 1) for line in info.splitlines())["size"])
    parts = []
    for offset in range(0, size, CHUNK):
        args: dict[str, object] = {
            "path": path,
            "offset": offset,
            "length": min(CHUNK, size - offset),
        }
        if binary:
            args["format"] = "binary"
        text = await api.tool_text(sid, "read_file", args)
        parts.append(base64.b64decode(text) if binary else text.encode("utf-8"))
    return b"".join(parts)


async def test_utf8_chunks_straddling_boundaries_rebuild_the_file(api: Api) -> None:
    sid = await api.create()
    # 1-, 2-, 3- and 4-byte characters, shifted so every kind straddles some 51 200 boundary.
    content = "".join(f"x{'é' * (i % 3)}€😀" for i in range(30_000))
    await api.tool_text(sid, "write_file", {"path": "/workspace/u.txt", "content": content})
    data = content.encode("utf-8")
    assert len(data) > 3 * CHUNK
    assert await read_like_the_client(api, sid, "/workspace/u.txt", binary=False) == data


async def test_binary_reads_are_byte_exact(api: Api) -> None:
    sid = await api.create()
    cmd = "head -c 120000 /dev/urandom > b.bin"  # cwd is the workspace
    await api.tool_text(sid, "shell", {"command": cmd, "timeout_ms": 5000})
    data = (api.backend.sandboxes[sid].root / "b.bin").read_bytes()
    assert await read_like_the_client(api, sid, "/workspace/b.bin", binary=True) == data
