"""The WebSocket streaming channel of run_code (docs/protocol.md §5.2), as pure functions:
the request frame the client sends, and what each frame of the answer means."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..models import (
    CodeEvent,
    EndEvent,
    ErrorEvent,
    ExecutionError,
    ExecutionResult,
    ResultEvent,
    StderrEvent,
    StdoutEvent,
)
from .payloads import mime_result

HEADER_ACCESS_TOKEN = "X-Access-Token"
SOURCE_SDK = "SDK"
# The target when the session's tool list names no server for run_code (§5.2).
DEFAULT_TARGET = "wuying_codespace"


class StreamFailed(Exception):
    """The server ended the call with an error frame (`phase: error` or `data.error`)."""


class StreamProtocolError(Exception):
    """A frame that is not the protocol: not JSON, no invocation id, an unknown phase."""


def run_code_frame(
    invocation_id: str, target: str, language: str, timeout_s: int, code: str
) -> str:
    """The one text frame a run sends: compact JSON, `timeoutS` in camelCase (§5.2)."""
    frame = {
        "invocationId": invocation_id,
        "source": SOURCE_SDK,
        "target": target,
        "data": {
            "method": "run_code",
            "mode": "stream",
            "params": {"language": language, "timeoutS": timeout_s, "code": code},
        },
    }
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def parse_frame(raw: str) -> tuple[str, Mapping[str, object]]:
    """(invocation id, data) of a frame; `data` may itself be JSON text of an object, and the
    id may be called `requestId`."""
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise StreamProtocolError(f"a frame is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise StreamProtocolError("a frame is not a JSON object")
    invocation_id = message.get("invocationId") or message.get("requestId")
    if not isinstance(invocation_id, str) or not invocation_id:
        raise StreamProtocolError("a frame has no invocationId")
    data = message.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise StreamProtocolError("a frame's data is text but not JSON") from None
    if not isinstance(data, dict):
        raise StreamProtocolError("a frame's data is not an object")
    return invocation_id, data


def event_from(data: Mapping[str, object]) -> CodeEvent | None:
    """The event a frame's data carries; None for an event this client does not know (it is
    skipped, as the official client does). Raises `StreamFailed` for an error frame and
    `StreamProtocolError` for a missing or unknown phase."""
    error = data.get("error")
    if isinstance(error, str) and error:
        raise StreamFailed(error)
    phase = data.get("phase")
    if phase == "event":
        return _event(data)
    if phase == "end":
        count = data.get("executionCount")
        seconds = data.get("executionTime")
        return EndEvent(
            status=str(data.get("status") or ""),
            execution_count=count
            if isinstance(count, int) and not isinstance(count, bool)
            else None,
            execution_time=float(seconds) if isinstance(seconds, int | float) else 0.0,
            execution_error=str(data.get("executionError") or ""),
        )
    if phase == "error":
        raise StreamFailed(error_frame_text(data))
    raise StreamProtocolError(f"a frame has {'no' if phase is None else 'an unknown'} phase")


def error_frame_text(data: Mapping[str, object]) -> str:
    """The words of a `phase: error` frame: its message and code (at the top or in an `error`
    object, as an error event carries them), never the frame's JSON."""
    nested = data.get("error")
    where = nested if isinstance(nested, dict) else data
    message = str(where.get("message") or data.get("message") or "").strip()
    code = str(where.get("code") or data.get("code") or "").strip()
    if message and code:
        return f"{message} ({code})"
    return message or code or "the run ended with an error frame that gave no message"


def _event(data: Mapping[str, object]) -> CodeEvent | None:
    kind = data.get("eventType")
    if kind in ("stdout", "stderr"):
        chunk = data.get("chunk")
        if not isinstance(chunk, str):
            return None
        return StdoutEvent(chunk) if kind == "stdout" else StderrEvent(chunk)
    if kind == "result":
        payload = data.get("result")
        if not isinstance(payload, dict):
            return ResultEvent(ExecutionResult(text=str(payload)))
        mime = payload.get("mime")
        bundle = dict(mime) if isinstance(mime, dict) else {}
        bundle["isMainResult"] = bool(payload.get("isMainResult") or payload.get("is_main_result"))
        return ResultEvent(mime_result(bundle))
    if kind == "error":
        payload = data.get("error") or data
        return ErrorEvent(execution_error(payload))
    return None


def execution_error(payload: object) -> ExecutionError:
    """An error event's `{code, message, traceId}` as the official client reads it."""
    if not isinstance(payload, dict):
        return ExecutionError("ExecutionError", str(payload), "")
    trace_id = str(payload.get("traceId") or "")
    return ExecutionError(
        name=str(payload.get("code") or "ExecutionError"),
        value=str(payload.get("message") or payload.get("error") or ""),
        traceback=f"traceId={trace_id}" if trace_id else "",
    )
