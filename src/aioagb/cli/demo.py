"""`aioagb demo`, the main job: a batch of labelled sessions on an embedded AGB Local.

Create N sessions concurrently, run python in each, find them again by label (every page),
delete them, and print what happened. It needs no account and no network. Loaded only when
`demo` runs (see `LAZY_COMMANDS`): `AsyncAGB.local()` imports the server.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import partial

import anyio
import attrs
import click

from ..client import AsyncAGB
from ..models import CreateSessionParams
from ..server.sandbox import SandboxError
from ..session import AsyncSession
from . import LAZY_COMMANDS
from .support import DEFAULT_IMAGE

SNIPPET = """\
import os, socket, sys
total = sum(i * i for i in range({n} * 1000))
where = f"uid={{os.getuid()}} host={{socket.gethostname()}}"
print(f"session {n}: {{where}} python={{sys.version.split()[0]}}")
total
"""


# What the demo's numbers mean, printed with them.
LEGEND = (
    "  (per session: the sandbox's own user id and hostname, its python, and after ->\n"
    "   the cell's value: the sum of i*i for i below n*1000, for session n)"
)
VERDICTS = {
    True: "demo: OK (every session ran python and was found by label; none is left)",
    False: "demo: PROBLEM (a count above is short)",
}


@attrs.frozen
class DemoReport:
    """What the demo did and how long each step took."""

    sessions: int
    created_s: float
    ran_s: float
    code_ok: int
    listed: int
    deleted_s: float
    left_on_server: int
    outputs: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Every session ran the code, was found by label, and none is left on the server."""
        return self.code_ok == self.listed == self.sessions and self.left_on_server == 0


async def run_demo(count: int, concurrency: int, say: Callable[[str], None]) -> DemoReport:
    """Run the demo on a fresh embedded AGB Local, telling each step to `say`."""
    run = secrets.token_hex(3)
    params = CreateSessionParams(image_id=DEFAULT_IMAGE, labels={"app": "aioagb-demo", "run": run})
    async with AsyncAGB.local() as agb:
        server = agb.local_server
        assert server is not None
        say(f"AGB Local is up at {agb.config.endpoint} (sandbox backend started)")
        started = time.perf_counter()
        async with agb.sessions(params, count=count, concurrency=concurrency) as sessions:
            created_s = time.perf_counter() - started
            say(
                f"created {len(sessions)} sessions concurrently in {created_s:.2f} s "
                "(each sandbox starts with its first call)"
            )

            started = time.perf_counter()
            outputs = await _run_everywhere(sessions, concurrency)
            ran_s = time.perf_counter() - started
            say(f"ran python in each of them in {ran_s:.2f} s; what each sandbox answered:")
            say(LEGEND)
            for line in outputs:
                say(f"  {line}")

            found = [s.session_id async for s in agb.iter_sessions({"run": run}, page_size=5)]
            say(f"listed by label run={run}: {len(found)} sessions (pages of 5)")
            started = time.perf_counter()
        deleted_s = time.perf_counter() - started
        left = server.live_sessions(agb.config.api_key)
        say(f"deleted all of them in {deleted_s:.2f} s; sessions left on the server: {left}")
    return DemoReport(
        sessions=count,
        created_s=created_s,
        ran_s=ran_s,
        code_ok=sum(1 for line in outputs if not line.startswith("FAILED")),
        listed=len(found),
        deleted_s=deleted_s,
        left_on_server=left,
        outputs=tuple(outputs),
    )


async def _run_everywhere(sessions: list[AsyncSession], concurrency: int) -> list[str]:
    outputs = [""] * len(sessions)
    limiter = anyio.CapacityLimiter(concurrency)

    async def run_one(index: int, session: AsyncSession) -> None:
        async with limiter:
            result = await session.code.run(SNIPPET.format(n=index + 1), "python")
        if result.success:
            outputs[index] = f"{''.join(result.logs.stdout).strip()} -> {result.result}"
        else:
            outputs[index] = f"FAILED session {index + 1}: {result.error_message}"

    async with anyio.create_task_group() as tg:
        for index, session in enumerate(sessions):
            tg.start_soon(run_one, index, session)
    return outputs


def summary_table(report: DemoReport) -> str:
    """The report as the table the demo ends with, and its verdict."""
    rows = [
        ("sessions created concurrently", str(report.sessions), f"{report.created_s:.2f} s"),
        (
            "python runs that succeeded",
            f"{report.code_ok}/{report.sessions}",
            f"{report.ran_s:.2f} s",
        ),
        ("found again by label", f"{report.listed}/{report.sessions}", ""),
        (
            "left on the server after delete",
            str(report.left_on_server),
            f"{report.deleted_s:.2f} s",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>7}  {took:>8}" for name, value, took in rows]
    header = f"{'step':<{width}}  {'count':>7}  {'took':>8}"
    return "\n".join(["", "Summary", "-------", header, *lines, "", VERDICTS[report.ok]])


@click.command(short_help=LAZY_COMMANDS["demo"].short_help)
@click.option("--sessions", "count", type=click.IntRange(1, 200), default=8, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
def demo(count: int, concurrency: int) -> None:
    """Run the demo on an embedded AGB Local: labelled sessions created concurrently, python in
    each, listed by label, deleted, and a summary."""
    try:
        report = anyio.run(partial(run_demo, count, concurrency, click.echo))
    except (SandboxError, OSError) as exc:
        raise click.ClickException(f"AGB Local could not start: {exc}") from None
    click.echo(summary_table(report))
    if not report.ok:
        raise SystemExit(1)
