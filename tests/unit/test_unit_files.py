"""File tools beyond one request: chunked writes and reads, binary content (agb-wire.md §4.5)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest

from _support.mock_wire import Wire
from aioagb import AsyncAGB, AsyncSession

CHUNK = 51_200


@pytest.fixture
def session(agb: AsyncAGB) -> AsyncSession:
    return AsyncSession(agb, "s-1")


def tool_calls(wire: Wire) -> list[tuple[str, dict]]:
    assert all(
        (s.method, s.path, s.query) == ("POST", "/mcp", "autoGenSession=false") for s in wire.sent
    )
    return [(s.json()["name"], s.args()) for s in wire.sent]


async def test_large_overwrite_is_chunked_in_characters_via_a_staging_file(
    wire: Wire, session: AsyncSession
):
    """§4.5 write/chunking: chunks of 51 200 *characters* (multi-byte text here, so bytes
    would differ), the first with the caller's mode and the rest `append`.

    Deliberate deviation from the official client (docs/sdk.md): a multi-chunk `overwrite`
    goes to `<path>.aioagb-<hex>.part` and is renamed over the (symlink-resolved) target
    by the shell at the end (`move_file` refuses an existing destination), so a failure never
    leaves a half-written file. The spec's §4.5 writes to `path` itself.
    """
    content = "é" * (2 * CHUNK) + "xyz"
    for _ in range(3):
        wire.tool("ok")
    wire.tool('{"stdout": "", "stderr": "", "exit_code": 0}')

    result = await session.file.write("/data/big.txt", content)

    assert result.success
    calls = tool_calls(wire)
    assert [name for name, _ in calls] == ["write_file"] * 3 + ["shell"]
    staging = calls[0][1]["path"]
    assert re.fullmatch(r"/data/big\.txt\.aioagb-[0-9a-f]{8}\.part", staging)
    assert [a["mode"] for _, a in calls[:3]] == ["overwrite", "append", "append"]
    assert [len(a["content"]) for _, a in calls[:3]] == [CHUNK, CHUNK, 3]
    assert all(a["path"] == staging for _, a in calls[:3])
    assert "".join(a["content"] for _, a in calls[:3]) == content
    rename = calls[3][1]["command"]
    assert "readlink -f -- '/data/big.txt'" in rename and f"mv -f -- '{staging}' \"$t\"" in rename
    # §1.4: non-ASCII stays raw inside `args`, the outer body escapes it
    assert b"\\u00e9" in wire.sent[0].body and "é" in wire.sent[0].json()["args"]


async def test_large_append_goes_straight_to_the_file(wire: Wire, session: AsyncSession):
    """§4.5: append mode, more than one chunk: every call `append` on the target itself."""
    for _ in range(2):
        wire.tool("ok")
    result = await session.file.write("/data/log", "a" * (CHUNK + 1), mode="append")
    assert result.success
    calls = tool_calls(wire)
    assert [(n, a["path"], a["mode"], len(a["content"])) for n, a in calls] == [
        ("write_file", "/data/log", "append", CHUNK),
        ("write_file", "/data/log", "append", 1),
    ]


async def test_exactly_one_chunk_is_one_call(wire: Wire, session: AsyncSession):
    """§4.5: a content length of 51 200 or less means one call with the caller's mode."""
    wire.tool("ok")
    await session.file.write("/data/f", "b" * CHUNK)
    [(name, args)] = tool_calls(wire)
    assert (name, args["path"], args["mode"], len(args["content"])) == (
        "write_file",
        "/data/f",
        "overwrite",
        CHUNK,
    )


async def test_failed_chunk_stops_and_removes_the_staging_file(wire: Wire, session: AsyncSession):
    """A chunk that fails ends the write (its error is the result's) and the staging file is
    deleted; the target is never touched."""
    wire.tool("ok")
    wire.tool("disk full", is_error=True, rid="r-full")
    wire.tool("deleted")

    result = await session.file.write("/data/big.txt", "c" * (CHUNK + 5))

    assert not result.success
    assert result.error_message == "disk full" and result.request_id == "r-full"
    calls = tool_calls(wire)
    assert [n for n, _ in calls] == ["write_file", "write_file", "delete_file"]
    assert calls[2][1] == {"path": calls[0][1]["path"]}


async def test_large_read_uses_byte_offsets(wire: Wire, session: AsyncSession):
    """§4.5 read/chunking, the spec's own example: 126 000 bytes are read at (0, 51200),
    (51200, 51200) and (102400, 23600), after `get_file_info`."""
    wire.tool("size: 126000\nisDirectory: false")
    for part in ("A", "B", "C"):
        wire.tool(part)

    result = await session.file.read("/data/big.txt")

    assert result.success and result.content == "ABC"
    calls = tool_calls(wire)
    assert calls[0] == ("get_file_info", {"path": "/data/big.txt"})
    assert [(a["offset"], a["length"]) for _, a in calls[1:]] == [
        (0, 51200),
        (51200, 51200),
        (102400, 23600),
    ]
    assert all(n == "read_file" and "format" not in a for n, a in calls[1:])


async def test_binary_read_decodes_each_chunk(wire: Wire, session: AsyncSession):
    """§4.5 read step 4: each binary chunk is base64-decoded, then concatenated."""
    first, second = bytes(range(256)) * 200, b"\x00\xff" * 100
    size = len(first) + len(second)
    assert len(first) == CHUNK
    wire.tool(f"size: {size}\nisDirectory: false")
    wire.tool(base64.b64encode(first).decode())
    wire.tool(base64.b64encode(second).decode())

    result = await session.file.read("/bin/x", format="bytes")

    assert result.success and result.content == first + second and result.size == size
    assert [a.get("format") for _, a in tool_calls(wire)] == [None, "binary", "binary"]


async def test_binary_read_rejects_invalid_base64(wire: Wire, session: AsyncSession):
    wire.tool("size: 3\nisDirectory: false")
    wire.tool("not base64!!")
    result = await session.file.read("/bin/x", format="bytes")
    assert not result.success
    assert result.error_message == "The server sent invalid base64 for /bin/x"


@pytest.mark.parametrize(
    "info", ["size: 4096\nisDirectory: true", "", "isDirectory: false"], ids=str.split
)
async def test_read_of_a_directory_or_empty_info_sends_no_read(
    wire: Wire, session: AsyncSession, info: str
):
    """§4.5 read step 1 and §9: "Path does not exist or is a directory: <path>"."""
    wire.tool(info)
    result = await session.file.read("/data")
    assert not result.success
    assert result.error_message == "Path does not exist or is a directory: /data"
    assert [n for n, _ in tool_calls(wire)] == ["get_file_info"]


async def test_read_returns_the_info_error(wire: Wire, session: AsyncSession):
    """§4.5 read step 1: if get_file_info fails, its error is returned."""
    wire.tool("ENOENT: no such file", is_error=True, rid="r-info")
    result = await session.file.read("/nope")
    assert (result.success, result.error_message, result.request_id) == (
        False,
        "ENOENT: no such file",
        "r-info",
    )


def _run_decode(wire: Wire, staged: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs the write's decode command with /bin/sh, on the staging file it wrote (or on
    `staged` instead of what it wrote)."""
    (w_name, w_args), (s_name, s_args) = tool_calls(wire)
    assert w_name == "write_file" and w_args["mode"] == "overwrite"
    staging = Path(w_args["path"])
    assert re.fullmatch(r"/tmp/\.aioagb-[0-9a-f]{12}\.b64", str(staging))
    assert s_name == "shell" and s_args["timeout_ms"] == 60_000
    staging.write_text(w_args["content"] if staged is None else staged)
    try:
        done = subprocess.run(["sh", "-c", s_args["command"]], capture_output=True, text=True)
    finally:
        assert not staging.exists()  # the command removes its staging file, whatever happens
        staging.unlink(missing_ok=True)
    return done


@pytest.mark.parametrize("mode", ["overwrite", "append"])
async def test_binary_write_goes_through_base64_and_the_shell(
    wire: Wire, session: AsyncSession, mode: str, tmp_path: Path
):
    """The protocol has no binary write (§4.5): bytes are written as base64 text to a
    staging file with `write_file`, then decoded by one `shell` call into a part file beside
    the target, which is renamed over it (run here with /bin/sh, on a name that needs
    quoting, through a symlink that must stay one)."""
    data = b"\x00\x01binary\xff"
    target = tmp_path / "it's.bin"
    target.write_bytes(b"old:")
    target.chmod(0o640)
    (tmp_path / "link").symlink_to(target.name)
    wire.tool("ok")
    wire.tool('{"stdout": "", "stderr": "", "exit_code": 0}', rid="r-shell")

    result = await session.file.write(str(tmp_path / "link"), data, mode=mode)

    assert result.success and result.request_id == "r-shell"
    done = _run_decode(wire)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == (b"old:" if mode == "append" else b"") + data
    assert target.stat().st_mode & 0o777 == 0o640  # the file keeps its permissions
    assert (tmp_path / "link").is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["it's.bin", "link"]


async def test_a_failing_decode_leaves_the_target_whole(
    wire: Wire, session: AsyncSession, tmp_path: Path
):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"original")
    wire.tool("ok")
    wire.tool('{"stdout": "", "stderr": "", "exit_code": 0}')
    await session.file.write(str(target), b"new")
    done = _run_decode(wire, staged="bmV3IGRhdGE=!!")  # decodes "new data", then fails
    assert done.returncode != 0
    assert target.read_bytes() == b"original"
    assert os.listdir(tmp_path) == ["keep.bin"]  # no part file left
    assert done.stderr.strip().endswith(str(target)) and ".aioagb" not in done.stderr


async def test_binary_write_reports_a_failing_decode(wire: Wire, session: AsyncSession):
    wire.tool("ok")
    wire.tool(
        '{"stdout": "", "stderr": "base64: invalid input", "errorCode": 1}',
        is_error=True,
        rid="r-sh",
    )
    result = await session.file.write("/data/x.bin", b"\x01")
    assert not result.success
    assert (result.error_message, result.request_id) == ("base64: invalid input", "r-sh")
