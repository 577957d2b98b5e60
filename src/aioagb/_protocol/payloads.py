"""Tool payloads -> result fields, for every shape §4 of docs/protocol.md describes. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs

from .. import _protocol as p
from ..models import ExecutionError, ExecutionLogs, ExecutionResult, SessionMetrics
from .replies import JSON, strings

# --- run_code (§4.3) ---------------------------------------------------------------------


@attrs.frozen(slots=True)
class ParsedCode:
    success: bool
    error_message: str = ""
    logs: ExecutionLogs = attrs.field(factory=ExecutionLogs)
    results: list[ExecutionResult] = attrs.field(factory=list)
    error: ExecutionError | None = None
    execution_count: int | None = None
    execution_time: float = 0.0


def _loads(text: str) -> JSON:
    try:
        value: JSON = json.loads(text)
    except ValueError:
        return text
    return value


def _plain(text: str) -> ParsedCode:
    return ParsedCode(
        True, logs=ExecutionLogs([text], []), results=[ExecutionResult(text, is_main_result=True)]
    )


def parse_code(text: str | None) -> ParsedCode:
    """The official client's reading order: unwrap, isError, new, rich, legacy, plain text."""
    if not text:
        return ParsedCode(False, "No data returned")
    data = _loads(text.strip())
    if not isinstance(data, dict):
        return _plain(text)
    data = _unwrap_content(data)
    if data.get("isError") is True:
        texts = (str(i.get("text", "Unknown error")) for i in _items(data.get("content")))
        return ParsedCode(False, "Error in response: " + "; ".join(texts))
    if isinstance(data.get("result"), list):
        return _new_format(data)
    if "logs" in data or "results" in data:
        return _rich_format(data)
    if "content" in data:
        items = _items(data.get("content"))
        first = items[0].get("text") if items else None
        if isinstance(first, str):
            return _plain(first)
        return ParsedCode(False, "No content found in response")
    return _plain(str(data))


def _items(value: object) -> list[Mapping[str, object]]:
    return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []


def _unwrap_content(data: Mapping[str, object]) -> Mapping[str, object]:
    items = _items(data.get("content"))
    inner_text = items[0].get("text") if items else None
    if isinstance(inner_text, str) and inner_text:
        inner = _loads(inner_text)
        if isinstance(inner, dict) and ("result" in inner or "executionError" in inner):
            return inner
    return data


def _count(data: Mapping[str, object]) -> int | None:
    value = data.get("execution_count")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(data: Mapping[str, object]) -> float:
    value = data.get("execution_time")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _new_format(data: Mapping[str, object]) -> ParsedCode:
    failure = data.get("executionError")
    message = str(failure) if failure else ""
    return ParsedCode(
        success=not failure and data.get("isError") is not True,
        error_message=message,
        logs=ExecutionLogs(strings(data.get("stdout")), strings(data.get("stderr"))),
        results=[mime_result(item) for item in _as_list(data.get("result"))],
        error=ExecutionError("ExecutionError", message, "") if failure else None,
        execution_count=_count(data),
        execution_time=_seconds(data),
    )


def _rich_format(data: Mapping[str, object]) -> ParsedCode:
    logs = data.get("logs") if isinstance(data.get("logs"), dict) else {}
    assert isinstance(logs, dict)
    error = data.get("error") if isinstance(data.get("error"), dict) else None
    parsed_error = None
    message = ""
    if isinstance(error, dict) and error:
        name = str(error.get("name", "UnknownError"))
        value = str(error.get("value", ""))
        parsed_error = ExecutionError(name, value, str(error.get("traceback", "")))
        message = value or name
    return ParsedCode(
        success=data.get("isError") is not True,  # an `error` alone is not a failure (§4.3)
        error_message=message,
        logs=ExecutionLogs(strings(logs.get("stdout")), strings(logs.get("stderr"))),
        results=[mime_result(item) for item in _items(data.get("results"))],
        error=parsed_error,
        execution_count=_count(data),
        execution_time=_seconds(data),
    )


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _pick(item: Mapping[str, object], *keys: str) -> object:
    for key in keys:
        value = item.get(key)
        if value:
            return value
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)


def mime_result(item: object) -> ExecutionResult:
    """A mime bundle, its short aliases, or a (possibly double-encoded) string (§4.3)."""
    if isinstance(item, str):
        decoded = _loads(item)
        if isinstance(decoded, str) and decoded != item:
            decoded = _loads(decoded)
        if isinstance(decoded, dict):
            return mime_result(decoded)
        return ExecutionResult(text=item if decoded is item else str(decoded))
    if not isinstance(item, dict):
        return ExecutionResult(text=str(item))
    return ExecutionResult(
        text=_str_or_none(_pick(item, "text/plain", "text")),
        html=_str_or_none(_pick(item, "text/html", "html")),
        markdown=_str_or_none(_pick(item, "text/markdown", "markdown")),
        png=_str_or_none(_pick(item, "image/png", "png")),
        jpeg=_str_or_none(_pick(item, "image/jpeg", "jpeg")),
        svg=_str_or_none(_pick(item, "image/svg+xml", "svg")),
        json=_pick(item, "application/json", "json"),
        latex=_str_or_none(_pick(item, "text/latex", "latex")),
        chart=_pick(
            item, "application/vnd.vegalite.v4+json", "application/vnd.vegalite.v5+json", "chart"
        ),
        is_main_result=bool(item.get("isMainResult") or item.get("is_main_result")),
    )


# --- shell (§4.4) ------------------------------------------------------------------------


@attrs.frozen(slots=True)
class ParsedCommand:
    success: bool
    output: str = ""
    error_message: str = ""
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    trace_id: str = ""


def parse_command(text: str | None, *, is_tool_error: bool) -> ParsedCommand:
    raw = text or ""
    data = _loads(raw) if raw else None
    if not isinstance(data, dict):
        if is_tool_error:
            return ParsedCommand(False, error_message=raw)
        return ParsedCommand(True, output=raw)
    stdout, stderr = str(data.get("stdout") or ""), str(data.get("stderr") or "")
    code = data.get("exit_code", data.get("errorCode", None if is_tool_error else 0))
    exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
    trace = str(data.get("traceId") or "")
    if is_tool_error:
        return ParsedCommand(
            False, stdout + stderr, stderr or raw, exit_code, stdout, stderr, trace
        )
    return ParsedCommand(exit_code == 0, stdout + stderr, "", exit_code, stdout, stderr, trace)


# --- files (§4.5) ------------------------------------------------------------------------


def _scalar(value: str) -> object:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value


def parse_file_info(text: str | None) -> dict[str, object]:
    """`key: value` lines; booleans and numbers converted like the official client does."""
    info: dict[str, object] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            info[key.strip()] = _scalar(value.strip())
    return info


def parse_listing(text: str | None) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    for line in (text or "").splitlines():
        line = line.strip()
        for prefix, is_dir in ((p.DIR_PREFIX, True), (p.FILE_PREFIX, False)):
            if line.startswith(prefix.strip()):
                name = line[len(prefix.strip()) :].strip()
                entries.append({"name": name, "isDirectory": is_dir})
    return entries


def parse_search(text: str | None) -> list[str]:
    stripped = (text or "").strip()
    if not stripped or stripped == p.NO_MATCHES_TEXT:
        return []
    return [line for line in stripped.split("\n") if line.strip()]


def parse_multiple_files(text: str | None) -> dict[str, str]:
    """Blocks `<path>:\\n<content>` separated by `---` lines (§4.5, with its limitations)."""
    contents: dict[str, str] = {}
    path: str | None = None
    lines: list[str] = []
    for line in (text or "").split("\n"):
        if path is None:
            head, sep, rest = line.partition(":")
            if sep:
                path, lines = head.strip(), [rest] if rest.strip() else []
        elif line.strip() == "---":
            contents[path] = "\n".join(lines).strip()
            path = None
        else:
            lines.append(line)
    if path is not None:
        contents[path] = "\n".join(lines).strip()
    return contents


# --- get_metrics (§16.2) -----------------------------------------------------------------

_RATE_KEYS = {
    "rx_rate_kbyte_per_s": ("rx_rate_kbyte_per_s", "rx_rate_kbps", "rx_rate_KBps"),
    "tx_rate_kbyte_per_s": ("tx_rate_kbyte_per_s", "tx_rate_kbps", "tx_rate_KBps"),
    "rx_used_kbyte": ("rx_used_kbyte", "rx_used_kb", "rx_used_KB"),
    "tx_used_kbyte": ("tx_used_kbyte", "tx_used_kb", "tx_used_KB"),
}


def parse_metrics(text: str | None) -> tuple[dict[str, object], SessionMetrics]:
    """The payload as a dict and as `SessionMetrics`, read as the official client does: a
    missing field is 0 (or ""), a rate takes the first non-null of its aliases. Raises
    ValueError with the official message for a payload it cannot read."""
    try:
        raw = json.loads(text or "")
        if not isinstance(raw, dict):
            raise ValueError("get_metrics returned non-object JSON")
        rates = {name: _first_float(raw, keys) for name, keys in _RATE_KEYS.items()}
        metrics = SessionMetrics(
            cpu_count=int(raw.get("cpu_count", 0) or 0),
            cpu_used_pct=float(raw.get("cpu_used_pct", 0.0) or 0.0),
            disk_total=int(raw.get("disk_total", 0) or 0),
            disk_used=int(raw.get("disk_used", 0) or 0),
            mem_total=int(raw.get("mem_total", 0) or 0),
            mem_used=int(raw.get("mem_used", 0) or 0),
            timestamp=str(raw.get("timestamp", "") or ""),
            **rates,
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Failed to parse get_metrics response: {exc}") from None
    return raw, metrics


def _first_float(raw: Mapping[str, object], keys: tuple[str, ...]) -> float:
    for key in keys:
        value = raw.get(key)
        if value is not None:
            try:
                return float(value or 0.0)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
    return 0.0
