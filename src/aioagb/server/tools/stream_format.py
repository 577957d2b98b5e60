"""The frames of the streaming channel (agb-wire.md §5.2): reading the client's, and writing
the server's from a streaming run's events. Pure functions, no I/O.

Client frames: `{"invocationId", "source": "SDK", "target", "data": {"method", "mode",
"params"}}`, `data` possibly a JSON string of the object, the id possibly `requestId`.
Server frames: `{"invocationId", "source": <the client's target>, "target": "SDK", "data"}`
with `data.phase` = `event` (stdout/stderr chunks, results, an error), `end`, or `error`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

import attrs

from ... import _protocol as p
from ..sandbox import CodeRun, OutputChunk, RichOutput, StreamEvent
from .format import code_error


class FrameError(Exception):
    """A client frame that cannot be served; `invocation_id` is "" when it has none (the
    client cannot be answered then)."""

    def __init__(self, invocation_id: str, message: str) -> None:
        super().__init__(message)
        self.invocation_id = invocation_id
        self.message = message


@attrs.frozen
class ClientFrame:
    """One request of the client: which call, for which server, and what to do."""

    invocation_id: str
    target: str
    method: str
    params: Mapping[str, object]


def read_frame(raw: str) -> ClientFrame:
    """The client's frame; `FrameError` when it is not one the protocol allows."""
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError("", "a frame is not JSON") from None
    if not isinstance(message, dict):
        raise FrameError("", "a frame is not a JSON object")
    invocation_id = message.get("invocationId") or message.get("requestId")
    if not isinstance(invocation_id, str) or not invocation_id:
        raise FrameError("", "a frame has no invocationId")
    data = message.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            data = None
    if not isinstance(data, dict):
        raise FrameError(invocation_id, "data must be an object (or JSON text of one)")
    method = data.get("method")
    if not isinstance(method, str) or not method:
        raise FrameError(invocation_id, "data.method is required")
    params = data.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise FrameError(invocation_id, "data.params must be an object")
    target = message.get("target")
    return ClientFrame(
        invocation_id=invocation_id,
        target=target if isinstance(target, str) and target else p.STREAM_DEFAULT_TARGET,
        method=method,
        params=params,
    )


def frame(invocation_id: str, source: str, data: Mapping[str, object]) -> str:
    """A server frame: `data` for the call `invocation_id`, from `source` (the server the
    client addressed), to the SDK."""
    message = {"invocationId": invocation_id, "source": source, "target": p.STREAM_SOURCE_SDK}
    return json.dumps({**message, "data": dict(data)}, ensure_ascii=False)


def error_data(message: str, code: str) -> dict[str, object]:
    """A call that could not run (bad params, no such language, no session): `phase: error`
    with a non-empty `error`, which fails the call in every client."""
    return {"phase": p.PHASE_ERROR, "error": message, "code": code}


def event_data(event: StreamEvent) -> list[dict[str, object]]:
    """The data of the frames that carry one event of a run: a chunk or a result is one
    `event`; the run's end is an `error` event when it failed, then `end`."""
    if isinstance(event, OutputChunk):
        return [{"phase": p.PHASE_EVENT, "eventType": event.stream, "chunk": event.text}]
    if isinstance(event, RichOutput):
        mime = {key: value for key, value in event.bundle.items() if key != "isMainResult"}
        main = bool(event.bundle.get("isMainResult"))
        result = {"isMainResult": main, "mime": mime}
        return [{"phase": p.PHASE_EVENT, "eventType": "result", "result": result}]
    return _end_data(event)


def _end_data(run: CodeRun) -> list[dict[str, object]]:
    end: dict[str, object] = {"phase": p.PHASE_END, "executionTime": run.execution_time}
    if run.execution_count is not None:
        end["executionCount"] = run.execution_count
    error = code_error(run)
    if error is None:
        return [{**end, "status": p.STATUS_FINISHED}]
    name = error.partition(":")[0].strip() or "ExecutionError"
    details = {"code": name, "message": error, "traceId": secrets.token_hex(8)}
    failed = {**end, "status": p.STATUS_FAILED, "executionError": error}
    return [{"phase": p.PHASE_EVENT, "eventType": "error", "error": details}, failed]


def cancelled_data() -> dict[str, object]:
    """The end of a call the client cancelled with a `cancel` frame."""
    error = "KeyboardInterrupt: the run was cancelled"
    return {"phase": p.PHASE_END, "status": p.STATUS_FAILED, "executionError": error}
