"""Sandbox results -> the exact payload texts the official client parses (agb-wire.md §4.3-§4.5).

Pure functions, no I/O: each one is the server half of one client-side parser.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence

from ... import _protocol as p
from ..sandbox import CodeRun, DirEntry, FileChange, FileStat, SandboxMetrics, ShellOutcome

# The longest UTF-8 encoding of one character is 4 bytes: a chunk reaches at most 3 bytes
# past its end to finish a character that started inside it.
UTF8_MAX_CONTINUATION = 3


def _is_continuation(byte: int) -> bool:
    return byte & 0b1100_0000 == 0b1000_0000


def utf8_text_chunk(raw: bytes, offset: int, length: int) -> str:
    """The characters whose *first* byte lies in [offset, offset+length) (§4.5).

    `raw` holds the file's bytes from `offset` on, at least `length + 3` of them when the file
    has that many. Leading continuation bytes belong to a character an earlier chunk already
    returned; a character that starts inside the range is finished even past its end. So the
    chunks of consecutive ranges concatenate to the whole file. Invalid UTF-8 becomes U+FFFD.
    """
    start = 0
    if offset > 0:
        while start < min(len(raw), UTF8_MAX_CONTINUATION) and _is_continuation(raw[start]):
            start += 1
    end = min(length, len(raw))
    if start >= end:
        return ""  # no character starts in this range
    limit = min(len(raw), length + UTF8_MAX_CONTINUATION)
    while end < limit and _is_continuation(raw[end]):
        end += 1
    return raw[start:end].decode("utf-8", errors="replace")


def binary_chunk(raw: bytes) -> str:
    """Bytes as the base64 text of a binary `read_file` (§4.5)."""
    return base64.b64encode(raw).decode("ascii")


def _trace_id() -> str:
    return secrets.token_hex(8)


def code_payload(run: CodeRun) -> str:
    """The "new format" of §4.3. A failed run keeps its output: `executionError` marks the
    failure, `isError` stays false so the client still reports stdout and stderr."""
    payload: dict[str, object] = {
        "result": [dict(bundle) for bundle in run.results],
        "stdout": list(run.stdout),
        "stderr": list(run.stderr),
        "execution_count": run.execution_count,
        "execution_time": run.execution_time,
    }
    error = code_error(run)
    if error:
        payload["executionError"] = error
    return json.dumps(payload, ensure_ascii=False)


def code_error(run: CodeRun) -> str | None:
    """The run's `executionError`: its short error, or None when it succeeded."""
    if run.timed_out and not run.error:
        return "TimeoutError: execution timed out"
    return run.error or None


def shell_payload(outcome: ShellOutcome) -> tuple[str, bool]:
    """(text, is_error) per §4.4: `exit_code` on success, `errorCode` on failure."""
    body: dict[str, object] = {"stdout": outcome.stdout, "stderr": outcome.stderr}
    failed = outcome.exit_code != 0
    body["errorCode" if failed else "exit_code"] = outcome.exit_code
    body["traceId"] = _trace_id()
    return json.dumps(body, ensure_ascii=False), failed


def _flag(value: bool) -> str:
    return "true" if value else "false"


def file_info_text(stat: FileStat) -> str:
    """`key: value` lines; size in bytes with no unit, booleans as true/false (§4.5)."""
    lines = {
        "size": str(stat.size),
        "created": stat.created,
        "modified": stat.modified,
        "accessed": stat.accessed,
        "isDirectory": _flag(stat.is_directory),
        "isFile": _flag(stat.is_file),
        "permissions": stat.permissions,
    }
    return "\n".join(f"{key}: {value}" for key, value in lines.items())


def directory_text(entries: Sequence[DirEntry]) -> str:
    """`[DIR] name` / `[FILE] name` lines (§4.5)."""
    return "\n".join(
        f"{p.DIR_PREFIX if entry.is_directory else p.FILE_PREFIX}{entry.name}" for entry in entries
    )


def search_text(paths: Sequence[str]) -> str:
    """One path per line, or the cloud's no-matches text."""
    return "\n".join(paths) if paths else p.NO_MATCHES_TEXT


def multiple_files_text(results: Sequence[tuple[str, str | None, str | None]]) -> str:
    """Blocks `<path>:\\n<content>\\n` or `<path>: Error - <reason>`, joined by `---` lines.
    Each result is (path, content, error) with exactly one of content and error set."""
    blocks = []
    for path, content, error in results:
        if error is not None:
            blocks.append(f"{path}: Error - {error}")
        else:
            blocks.append(f"{path}:\n{content}\n")
    return p.MULTI_FILE_SEPARATOR.join(blocks)


def file_changes_text(changes: Sequence[FileChange]) -> str:
    """The JSON array of change events the client parses (§4.5)."""
    events: list[Mapping[str, str]] = [
        {"eventType": c.event_type, "path": c.path, "pathType": c.path_type} for c in changes
    ]
    return json.dumps(events, ensure_ascii=False)


def metrics_payload(metrics: SandboxMetrics) -> str:
    """The JSON object `get_metrics` answers, in the official field names (§16.2, §4.6)."""
    return json.dumps(
        {
            "cpu_count": metrics.cpu_count,
            "cpu_used_pct": metrics.cpu_used_pct,
            "disk_total": metrics.disk_total,
            "disk_used": metrics.disk_used,
            "mem_total": metrics.mem_total,
            "mem_used": metrics.mem_used,
            "rx_rate_kbyte_per_s": metrics.rx_rate_kbyte_per_s,
            "tx_rate_kbyte_per_s": metrics.tx_rate_kbyte_per_s,
            "rx_used_kbyte": metrics.rx_used_kbyte,
            "tx_used_kbyte": metrics.tx_used_kbyte,
            "timestamp": metrics.timestamp,
        }
    )
