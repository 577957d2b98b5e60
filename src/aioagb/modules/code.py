"""`session.code`: code in the session's interpreters (docs/protocol.md §4.3)."""

from __future__ import annotations

from .. import _protocol as p
from .. import _validate as v
from .._protocol.payloads import parse_code
from .._results import seed
from ..errors import ToolError
from ..models import EnhancedCodeExecutionResult
from ._channel import SessionChannel


class Code:
    """Runs code in the session (the official `session.code`): python keeps its state between
    calls; javascript, java and r run where the image offers them."""

    def __init__(self, channel: SessionChannel) -> None:
        self._tools = channel

    async def run(
        self, code: str, language: str, timeout_s: int = p.DEFAULT_CODE_TIMEOUT_S
    ) -> EnhancedCodeExecutionResult:
        """Run `code` in `language` (`python`, `javascript`, `java`, `r`, or the aliases
        `py`, `python3`, `js`, `node`, `nodejs`; any letter case).

        `timeout_s` is the **execution** timeout the server enforces; the HTTP request waits
        that long plus a margin when it exceeds the client's request timeout. A run that
        raised keeps its output: `logs`, `results` and `error` are set on the failed result.
        """
        return await seed(EnhancedCodeExecutionResult, self._run(code, language, timeout_s))

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


CodeModule = Code  # the name aioagb used before the official one
