"""Helpers for the CLI tests: run `aioagb ...` in-process against a test server."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import anyio.from_thread
from click.testing import CliRunner, Result

from aioagb import AsyncAGB, CreateSessionParams
from aioagb.cli import main
from aioagb.server import LocalServer

KEYS = tuple(f"cli-{i}-{secrets.token_hex(8)}" for i in range(100))
_unused_keys = iter(KEYS)


class Cli:
    """Runs `aioagb ...` in-process against the test server, with a key of the test's own."""

    def __init__(self, server: LocalServer, portal: anyio.from_thread.BlockingPortal) -> None:
        self.server = server
        self.portal = portal
        self.api_key = next(_unused_keys)

    @property
    def target(self) -> list[str]:
        return ["--endpoint", self.server.endpoint, "--api-key", self.api_key]

    def __call__(
        self, *args: str, target: bool = True, input: str | None = None, ci: bool = True
    ) -> Result:
        command, *rest = args
        argv = [command, *(self.target if target else []), *rest]
        env = {"CI": "true" if ci else None, "AGB_API_KEY": None, "AGB_ENDPOINT": None}
        return CliRunner().invoke(main, argv, input=input, env=env)

    def live(self) -> int:
        return self.server.live_sessions(self.api_key)

    def make_sessions(self, count: int, labels: dict[str, str] | None = None) -> list[str]:
        """Sessions made with the SDK (not the CLI under test), left running."""

        async def make() -> list[str]:
            params = CreateSessionParams(image_id="agb-code-space-2", labels=labels or {})
            async with AsyncAGB(self.api_key, endpoint=self.server.endpoint) as agb:
                batch = await agb.create_many(params, count)
                return [s.session_id for s in batch.sessions]

        return self.portal.call(make)


def one_error_line(result: Result) -> str:
    """The command failed with exactly one line on stderr, no traceback; returns the line."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def stdout_lines(result: Result) -> Sequence[str]:
    return result.stdout.splitlines()
