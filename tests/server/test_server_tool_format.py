"""The pure formatting of sandbox results into payload texts (§4.3-§4.5)."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from aioagb.server.sandbox import CodeRun, DirEntry, FileChange, FileStat, ShellOutcome
from aioagb.server.tools import format as fmt


def read_text_in_chunks(data: bytes, chunk: int) -> str:
    """What the official client does: chunks of `chunk` bytes, text results concatenated."""
    out = []
    for offset in range(0, len(data), chunk):
        length = min(chunk, len(data) - offset)
        raw = data[offset : offset + length + fmt.UTF8_MAX_CONTINUATION]
        out.append(fmt.utf8_text_chunk(raw, offset, length))
    return "".join(out)


@given(text=st.text(), chunk=st.integers(min_value=1, max_value=9))
def test_text_chunks_of_any_size_rebuild_any_text(text: str, chunk: int) -> None:
    assert read_text_in_chunks(text.encode("utf-8"), chunk) == text


def test_a_chunk_is_the_characters_whose_first_byte_is_in_range() -> None:
    data = "a€b".encode()  # a, e2 82 ac, b
    assert fmt.utf8_text_chunk(data[0:5], 0, 2) == "a€"  # € starts at byte 1
    assert fmt.utf8_text_chunk(data[2:8], 2, 3) == "b"  # bytes 2-3 continue €
    assert fmt.utf8_text_chunk(data[2:7], 2, 2) == ""  # no character starts in [2, 4)


def test_binary_chunks_are_standard_base64() -> None:
    raw = bytes(range(256))
    assert base64.b64decode(fmt.binary_chunk(raw)) == raw


def test_code_payload_is_the_new_format_with_execution_error_on_failure_or_timeout() -> None:
    outcome = CodeRun(
        stdout=["hi\n"],
        stderr=[],
        results=[{"text/plain": "2", "isMainResult": True}],
        error=None,
        execution_count=3,
        execution_time=0.5,
    )
    assert json.loads(fmt.code_payload(outcome)) == {
        "result": [{"text/plain": "2", "isMainResult": True}],
        "stdout": ["hi\n"],
        "stderr": [],
        "execution_count": 3,
        "execution_time": 0.5,
    }
    failed = CodeRun([], ["Traceback"], [], "NameError: x", 4, 0.1)
    assert json.loads(fmt.code_payload(failed))["executionError"] == "NameError: x"
    timed_out = CodeRun([], [], [], None, None, 2.0, timed_out=True)
    assert "TimeoutError" in json.loads(fmt.code_payload(timed_out))["executionError"]


def test_shell_payload_has_exit_code_or_error_code_stderr_and_trace_id() -> None:
    ok_text, failed = fmt.shell_payload(ShellOutcome("out", "", 0))
    assert not failed
    ok = json.loads(ok_text)
    assert ok["stdout"] == "out" and ok["exit_code"] == 0 and "errorCode" not in ok
    bad_text, failed = fmt.shell_payload(ShellOutcome("", "boom", 2))
    bad = json.loads(bad_text)
    assert failed and bad["errorCode"] == 2 and bad["stderr"] == "boom" and bad["traceId"]
    assert "exit_code" not in bad


def test_file_info_lines_parse_like_the_client() -> None:
    stat = FileStat(12, False, True, "644", "2024-01-01T00:00:00", "2024-01-02T10:11:12", "x")
    text = fmt.file_info_text(stat)
    info = dict(line.split(":", 1) for line in text.splitlines())
    info = {k.strip(): v.strip() for k, v in info.items()}
    assert info["size"] == "12" and info["isDirectory"] == "false" and info["isFile"] == "true"
    assert info["modified"] == "2024-01-02T10:11:12" and info["permissions"] == "644"


def test_directory_search_multi_file_and_change_texts() -> None:
    entries = [DirEntry("d", True), DirEntry("f.txt", False)]
    assert fmt.directory_text(entries) == "[DIR] d\n[FILE] f.txt"
    assert fmt.directory_text([]) == ""
    assert fmt.search_text([]) == "No matches found"
    assert fmt.search_text(["/w/a.txt", "/w/b.txt"]) == "/w/a.txt\n/w/b.txt"
    multi = fmt.multiple_files_text([("/a", "A", None), ("/b", None, "missing")])
    assert multi == "/a:\nA\n\n---\n/b: Error - missing"
    changes = [FileChange("modify", "/w/a", "file")]
    assert json.loads(fmt.file_changes_text(changes)) == [
        {"eventType": "modify", "path": "/w/a", "pathType": "file"}
    ]
