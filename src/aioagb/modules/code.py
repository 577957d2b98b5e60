"""`session.code`: code in the session's interpreters (docs/protocol.md §4.3)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from .. import _protocol as p
from .. import _validate as v
from .._protocol.payloads import parse_code
from .._results import seed
from ..errors import AGBError, ToolError
from ..models import (
    EndEvent,
    EnhancedCodeExecutionResult,
    ErrorEvent,
    ExecutionError,
    ExecutionLogs,
    ExecutionResult,
    ResultEvent,
    StderrEvent,
    StdoutEvent,
)
from ._channel import SessionChannel
from .stream import CodeStream, StreamSocket

# A callback of `run(stream_beta=True)`: a plain function or a coroutine function.
Callback = Callable[[str], "object | Awaitable[object]"]
ErrorCallback = Callable[["ExecutionError | AGBError"], "object | Awaitable[object]"]


class Code:
    """Runs code in the session (the official `session.code`): python keeps its state between
    calls; javascript, java and r run where the image offers them."""

    def __init__(self, channel: SessionChannel, socket: StreamSocket) -> None:
        self._tools = channel
        self._socket = socket

    async def run(
        self,
        code: str,
        language: str,
        timeout_s: int = p.DEFAULT_CODE_TIMEOUT_S,
        stream_beta: bool = False,
        on_stdout: Callback | None = None,
        on_stderr: Callback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> EnhancedCodeExecutionResult:
        """Run `code` in `language` (`python`, `javascript`, `java`, `r`, or the aliases
        `py`, `python3`, `js`, `node`, `nodejs`; any letter case).

        `timeout_s` is the **execution** timeout the server enforces; the HTTP request waits
        that long plus a margin when it exceeds the client's request timeout. A run that
        raised keeps its output: `logs`, `results` and `error` are set on the failed result.

        With `stream_beta=True` the run goes over the session's WebSocket (docs/protocol.md
        §5.2) and `on_stdout` / `on_stderr` get each chunk as the code produces it, `on_error`
        each error (an `ExecutionError` from the sandbox, or the `AGBError` that ended the
        stream). Callbacks may be plain functions or coroutine functions; the stream waits
        for each. The result's `request_id` is the stream's invocation id. `stream()` is the
        async-native form.
        """
        if not stream_beta:
            return await seed(EnhancedCodeExecutionResult, self._run(code, language, timeout_s))
        events = self.stream(code, language, timeout_s)
        streamed = self._run_streamed(events, on_stdout, on_stderr, on_error)
        return await seed(EnhancedCodeExecutionResult, streamed)

    def stream(
        self, code: str, language: str, timeout_s: int = p.DEFAULT_CODE_TIMEOUT_S
    ) -> CodeStream:
        """The events of a run as the sandbox produces them (docs/protocol.md §5.2):

            async for event in session.code.stream("for i in range(3): print(i)", "python"):
                match event:
                    case StdoutEvent(text): print(text, end="")
                    case EndEvent(): print("done", event.success)

        `StdoutEvent`, `StderrEvent`, `ResultEvent` and `ErrorEvent` as they come, then one
        `EndEvent`. Leaving early (break, cancellation, an exception) closes the session's
        WebSocket, which interrupts the code in the sandbox; use `async with` around it to
        leave at once (`await stream.aclose()` does the same). Raises `ToolError` when the
        server reports a failure of the call, `TransportError` when the connection fails.
        """
        v.check_text("code", code, allow_empty=True)
        canonical = v.check_language(language)
        timeout_s = v.check_positive_int("timeout_s", timeout_s)
        return self._socket.run(code, canonical, timeout_s)

    async def _run_streamed(
        self,
        events: CodeStream,
        on_stdout: Callback | None,
        on_stderr: Callback | None,
        on_error: ErrorCallback | None,
    ) -> EnhancedCodeExecutionResult:
        """`run(stream_beta=True)`: the official client's result from the stream's events."""
        stdout: list[str] = []
        stderr: list[str] = []
        results: list[ExecutionResult] = []
        error: ExecutionError | None = None
        end = EndEvent(status="failed")
        try:
            async with events:
                async for event in events:
                    if isinstance(event, StdoutEvent):
                        stdout.append(event.text)
                        await _call(on_stdout, event.text)
                    elif isinstance(event, StderrEvent):
                        stderr.append(event.text)
                        await _call(on_stderr, event.text)
                    elif isinstance(event, ResultEvent):
                        results.append(event.result)
                    elif isinstance(event, ErrorEvent):
                        error = event.error
                        await _call(on_error, event.error)
                    else:
                        end = event
        except AGBError as failure:
            if error is None:
                await _call(on_error, failure)
            details = {"logs": ExecutionLogs(stdout, stderr), "results": results, "error": error}
            raise ToolError(failure.message, details=details) from failure
        if end.execution_error and error is None:
            error = ExecutionError("ExecutionError", end.execution_error, "")
        fields = {
            "execution_count": end.execution_count,
            "execution_time": end.execution_time,
            "logs": ExecutionLogs(stdout, stderr),
            "results": results,
            "error": error,
        }
        if not end.success or error is not None:
            message = end.execution_error or (error.value if error else "")
            raise ToolError(
                message or "Code execution failed",
                request_id=events.invocation_id,
                details={**fields, "error_message": message},
            )
        return EnhancedCodeExecutionResult(
            request_id=events.invocation_id,
            success=True,
            **fields,  # type: ignore[arg-type]
        )

    async def run_code(
        self, code: str, language: str, timeout_s: int = p.DEFAULT_CODE_TIMEOUT_S
    ) -> EnhancedCodeExecutionResult:
        """The name the official guide uses: the same as `run`."""
        return await self.run(code, language, timeout_s)

    async def _run(self, code: str, language: str, timeout_s: int) -> EnhancedCodeExecutionResult:
        v.check_text("code", code, allow_empty=True)
        canonical = v.check_language(language)
        timeout_s = v.check_positive_int("timeout_s", timeout_s)
        args = {"code": code, "language": canonical, "timeout_s": timeout_s}
        answer = await self._tools.call(
            p.TOOL_RUN_CODE, args, timeout=self._tools.timeout_for(timeout_s)
        )
        outcome = parse_code(answer.text)
        fields = {
            "execution_count": outcome.execution_count,
            "execution_time": outcome.execution_time,
            "logs": outcome.logs,
            "results": outcome.results,
            "error": outcome.error,
        }
        if not outcome.success:
            raise ToolError(
                outcome.error_message or "Code execution failed",
                request_id=answer.request_id,
                details={**fields, "error_message": outcome.error_message},
            )
        return EnhancedCodeExecutionResult(
            request_id=answer.request_id,
            success=True,
            error_message=outcome.error_message,
            **fields,  # type: ignore[arg-type]
        )


async def _call(callback: Callable[[Any], object] | None, value: object) -> None:
    """A callback of the streaming API, awaited when it is a coroutine function."""
    if callback is None:
        return
    outcome = callback(value)
    if inspect.isawaitable(outcome):
        await outcome


CodeModule = Code  # the name aioagb used before the official one
