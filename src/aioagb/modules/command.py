"""`session.command`: shell commands in the session (docs/protocol.md §4.4)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .. import _protocol as p
from .. import _validate as v
from .._protocol.payloads import ParsedCommand, parse_command
from .._results import seed
from ..errors import ToolError
from ..models import CommandResult
from ._channel import SessionChannel


class Command:
    """Runs shell commands in the session (the official `session.command`)."""

    def __init__(self, channel: SessionChannel) -> None:
        self._tools = channel

    async def execute(
        self,
        command: str,
        timeout_ms: int = p.DEFAULT_SHELL_TIMEOUT_MS,
        cwd: str | None = None,
        envs: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run `command` with `/bin/sh -c`; `success` is exit code 0 (seed parity).

        `timeout_ms` (default 1000, as the official SDK) is the command's execution limit:
        the server stops it after that and reports exit code 124. `cwd` is the working
        directory (default the workspace); `envs` adds environment variables. A non-zero exit
        keeps `exit_code`, `stdout` and `stderr` on the failed result.
        """
        return await seed(CommandResult, self._execute(command, timeout_ms, cwd, envs))

    async def _execute(
        self,
        command: str,
        timeout_ms: int,
        cwd: str | None,
        envs: Mapping[str, str] | None,
    ) -> CommandResult:
        v.check_text("command", command)
        timeout_ms = v.check_positive_int("timeout_ms", timeout_ms)
        args: dict[str, object] = {"command": command, "timeout_ms": timeout_ms}
        if cwd is not None:
            args["cwd"] = v.check_path("cwd", cwd)
        checked_envs = v.check_envs(envs)
        if checked_envs is not None:
            args["envs"] = checked_envs
        timeout = self._tools.timeout_for(timeout_ms / 1000)
        try:
            answer = await self._tools.call(p.TOOL_SHELL, args, timeout=timeout)
        except ToolError as failure:
            payload = failure.details.get("payload")
            text = payload if isinstance(payload, str) else None
            parsed = parse_command(text, is_tool_error=True)
            raise _command_failed(failure, parsed, timeout_ms) from None
        out = parse_command(answer.text, is_tool_error=False)
        if not out.success:  # `isError: false` with a non-zero exit code (§4.4)
            raise _command_failed(ToolError("", request_id=answer.request_id), out, timeout_ms)
        return CommandResult(
            request_id=answer.request_id,
            success=True,
            output=out.output,
            exit_code=out.exit_code,
            stdout=out.stdout,
            stderr=out.stderr,
            trace_id=out.trace_id,
        )


def _command_failed(failure: ToolError, out: ParsedCommand, timeout_ms: int) -> ToolError:
    """The error of a command that ran and failed: a sentence, and every field kept."""
    return ToolError(
        _failure_text(out, timeout_ms),
        request_id=failure.request_id,
        code=failure.code,
        http_status=failure.http_status,
        details={
            "output": out.output,
            "exit_code": out.exit_code,
            "stdout": out.stdout,
            "stderr": out.stderr,
            "trace_id": out.trace_id,
        },
    )


def _failure_text(out: ParsedCommand, timeout_ms: int) -> str:
    """stderr when there is one (as the official client), else a sentence instead of the raw
    JSON payload the official client shows (a timeout with no output, an exit code)."""
    if out.exit_code == p.SHELL_TIMEOUT_EXIT_CODE and not out.stderr.strip():
        return f"command timed out after {timeout_ms} ms; raise timeout_ms"
    if out.stderr.strip():
        return out.stderr
    if out.exit_code is not None:
        return f"command exited with code {out.exit_code}"
    return _not_json(out.error_message) or "command failed"


def _not_json(text: str) -> str:
    try:
        json.loads(text)
    except ValueError:
        return text
    return ""


CommandModule = Command  # the name aioagb used before the official one
