"""A sandbox backend that runs nothing: `run_code` answers at once with a fixed result.

The batch benchmark measures the SDKs against the injected latencies, which stand in for the
cloud, where sandboxes start on other machines. With the real backend, every session's first
`run_code` starts bubblewrap and two Python interpreters on *this* machine, and on 2 cores that
CPU work, not the client, sets the pace; the batch section also reports that run separately.
"""

from __future__ import annotations

from collections.abc import Sequence

from aioagb.server.sandbox import CodeRun, SandboxUnavailable, ShellOutcome


class NullSandbox:
    def __init__(self, session_id: str) -> None:
        self._session_id = session_id
        self._count = 0

    @property
    def session_id(self) -> str:
        return self._session_id

    async def run_code(self, code: str, language: str, timeout_s: float) -> CodeRun:
        self._count += 1
        return CodeRun(
            stdout=[],
            stderr=[],
            results=[{"text/plain": "2", "isMainResult": True}],
            error=None,
            execution_count=self._count,
            execution_time=0.0,
        )

    async def shell(
        self, command: str, timeout_s: float, cwd: str | None = None, envs: object = None
    ) -> ShellOutcome:
        return ShellOutcome(stdout="", stderr="", exit_code=0)

    def __getattr__(self, name: str) -> object:
        async def unavailable(*_args: object, **_kwargs: object) -> None:
            raise SandboxUnavailable(f"{name} is not available in the benchmarks' null sandbox")

        return unavailable

    async def aclose(self) -> None:
        return None


class NullBackend:
    @property
    def name(self) -> str:
        return "null"

    @property
    def languages(self) -> Sequence[str]:
        return ("python",)

    async def create(
        self, session_id: str, sync_paths: Sequence[str] = (), *, browser: bool = False
    ) -> NullSandbox:
        # The `SandboxBackend` signature: the registry passes where contexts are mounted.
        return NullSandbox(session_id)

    async def keep_warm(self) -> None:
        return None  # no sandboxes are started ahead of demand

    async def aclose(self) -> None:
        return None
