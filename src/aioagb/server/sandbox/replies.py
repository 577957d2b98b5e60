"""What the sandbox agent's replies mean on the host: a result or the `SandboxError` of its
failure, a run_code result as a `CodeRun`, and a streaming run's lines as `StreamEvent`s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from .channel import AgentChannel, AgentStream
from .interface import (
    CodeRun,
    OutputChunk,
    RichOutput,
    SandboxError,
    SandboxFileError,
    SandboxUnavailable,
    StreamEvent,
)


def result_of(reply: Mapping[str, Any]) -> Any:
    """An agent's reply: its result, or its failure as the matching `SandboxError`."""
    if reply.get("ok"):
        return reply.get("result")
    kind, error = reply.get("kind"), str(reply.get("error"))
    if kind == "file":
        raise SandboxFileError(error)
    if kind == "unavailable":
        raise SandboxUnavailable(error)
    raise SandboxError(f"sandbox agent error: {error}")


def code_run(res: Mapping[str, Any]) -> CodeRun:
    """A run_code reply's result as a `CodeRun`."""
    return CodeRun(
        stdout=list(res["stdout"]),
        stderr=list(res["stderr"]),
        results=list(res["results"]),
        error=res["error"],
        execution_count=res["execution_count"],
        execution_time=float(res["execution_time"]),
        timed_out=bool(res.get("timed_out")),
        truncated=bool(res.get("truncated")),
    )


class StreamEvents:
    """A streaming run's events (`Sandbox.stream_code`): its output, then its `CodeRun`. An
    agent that sends nothing for the run's whole time and grace is hung."""

    def __init__(self, agent: AgentChannel, stream: AgentStream, wait_s: float) -> None:
        self._agent = agent
        self._stream = stream
        self._wait_s = wait_s

    def __aiter__(self) -> StreamEvents:
        return self

    async def __anext__(self) -> StreamEvent:
        if self._stream.finished:
            raise StopAsyncIteration
        try:
            with anyio.fail_after(self._wait_s):
                msg = await self._stream.receive()
        except TimeoutError:
            self._agent.broken = True  # nothing to cancel in a hung agent: it is killed
            raise
        if self._stream.finished:
            return code_run(result_of(msg))
        event = msg["event"]
        if event.get("type") == "result":
            return RichOutput(event["bundle"])
        return OutputChunk(str(event.get("type")), str(event.get("text")))
