"""The CLI's session commands: run, exec, create, ls, rm.

Each works against the AGB cloud (or any server named by --endpoint) or, with --local,
against an embedded AGB Local that lives as long as the command.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import anyio
import click

from .. import _protocol as p
from .._hooks import Hooks
from ..client import AsyncAGB
from ..errors import NotFoundError
from ..models import CreateSessionParams, EnhancedCodeExecutionResult
from ..session import AsyncSession
from .output import Progress, SessionRow, print_sessions, rich_console
from .support import (
    DEFAULT_IMAGE,
    LOCAL_NOTE,
    Target,
    confirm_delete,
    fail_with,
    label_option,
    refuse_local,
    run_async,
    target_options,
)

EXTENSIONS = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".r": "r",
    ".java": "java",
}
LIST_CONCURRENCY = 16


image_option = click.option(
    "--image", default=DEFAULT_IMAGE, show_default=True, help="Image of a new session."
)
session_option = click.option(
    "--session",
    "session_id",
    metavar="ID",
    help="Use this existing session (it is left running). Default: a temporary session.",
)


@asynccontextmanager
async def _use_session(
    agb: AsyncAGB, session_id: str | None, image: str
) -> AsyncIterator[AsyncSession]:
    """The named session, or a temporary one deleted on the way out."""
    if session_id is not None:
        found = await agb.get(session_id)
        if found.session is None:
            raise fail_with(found)
        yield found.session
        return
    async with agb.session(CreateSessionParams(image_id=image)) as session:
        yield session


@click.command()
@click.argument("code", required=False)
@click.option(
    "-f",
    "--file",
    "file",
    type=click.File("r"),
    help="Run the code in this file ('-' for stdin) instead of CODE.",
)
@click.option(
    "-l",
    "--language",
    help="python, javascript, java or r. Default: from the file's extension, else python.",
)
@click.option(
    "--timeout", default=60, show_default=True, type=click.IntRange(min=1), help="Seconds."
)
@session_option
@image_option
@target_options
def run(
    code: str | None,
    file: IO[str] | None,  # click.File opens it (a LazyFile only for writing)
    language: str | None,
    timeout: int,
    session_id: str | None,
    image: str,
    target: Target,
) -> None:
    """Run CODE (or --file) in a session and print its output.

    Exits 1 when the code raised; its traceback goes to stderr.
    """
    if (code is None) == (file is None):
        raise click.UsageError("Give the code as an argument or with --file (one of them).")
    if session_id is not None:
        refuse_local(target, f"it has no session {session_id}")
    if file is not None:
        code = file.read()
        language = language or EXTENSIONS.get(Path(file.name).suffix.lower())
    assert code is not None
    source, lang = code, language or "python"

    async def main() -> EnhancedCodeExecutionResult:
        async with target.connect() as agb, _use_session(agb, session_id, image) as session:
            return await session.code.run(source, lang, timeout_s=timeout)

    result = run_async(main)
    if not result.success and result.error is None:
        raise fail_with(result)  # the request failed, not the code
    _print_code_result(result)
    if result.error is not None:
        raise SystemExit(1)


def _print_code_result(result: EnhancedCodeExecutionResult) -> None:
    click.echo("".join(result.logs.stdout), nl=False)
    stderr = "".join(result.logs.stderr)
    click.echo(stderr, nl=False, err=True)
    for item in result.results:
        if item.is_main_result and item.text:
            click.echo(item.text)
    if result.error is not None and not _already_shown(result.error_message, stderr):
        click.echo(result.error_message, err=True)


def _already_shown(error: str, stderr: str) -> bool:
    """Whether the traceback on stderr already ends with `error`: the same text, or the same
    exception's line worded otherwise (a SyntaxError's "(<cell 1>, line 1)" is only in the
    error). A different one (a timeout after a KeyboardInterrupt traceback) is shown."""
    if error in stderr:
        return True
    lines = stderr.strip().splitlines()
    name = error.partition(":")[0].strip()
    return bool(lines and name and lines[-1].startswith(f"{name}:"))


@click.command(name="exec", context_settings={"allow_interspersed_args": False})
@click.argument("command", nargs=-1, required=True)
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds the command may run.",
)
@click.option("--cwd", help="Working directory in the session.")
@session_option
@image_option
@target_options
def exec_command(
    command: tuple[str, ...],
    timeout: float,
    cwd: str | None,
    session_id: str | None,
    image: str,
    target: Target,
) -> None:
    """Run a shell COMMAND in a session; exit with its exit code.

    The words of COMMAND are joined with spaces (as ssh does): quote pipes and redirections,
    e.g. aioagb exec 'ls / | head -3'. Everything after COMMAND's first word belongs to it.
    """
    line = " ".join(command)
    if session_id is not None:
        refuse_local(target, f"it has no session {session_id}")

    async def main() -> int:
        async with target.connect() as agb, _use_session(agb, session_id, image) as session:
            done = await session.command.execute(line, timeout_ms=int(timeout * 1000), cwd=cwd)
        if done.exit_code is None:
            raise fail_with(done)
        click.echo(done.stdout, nl=False)
        click.echo(done.stderr, nl=False, err=True)
        if done.exit_code == p.SHELL_TIMEOUT_EXIT_CODE and not done.stderr.strip():
            # The server stopped it: say so, or a silent exit code 124 is all the user sees.
            click.echo(f"aioagb: command timed out after {timeout:g} s; raise --timeout", err=True)
        return done.exit_code

    code = run_async(main)
    if code:
        raise SystemExit(code)


@click.command()
@click.option("-n", "--count", default=1, show_default=True, type=click.IntRange(1, 1000))
@label_option("A label for the new sessions (repeatable).")
@image_option
@click.option(
    "--idle-timeout",
    type=click.IntRange(min=1),
    help="Seconds without requests after which the server deletes a session.",
)
@click.option(
    "--concurrency",
    default=16,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Create requests in flight at once.",
)
@target_options
def create(
    count: int,
    labels: dict[str, str],
    image: str,
    idle_timeout: int | None,
    concurrency: int,
    target: Target,
) -> None:
    """Create sessions and print their ids, one per line.

    All or nothing: if one creation fails, the others are deleted and the command fails.
    """
    params = CreateSessionParams(image_id=image, labels=labels, idle_release_timeout=idle_timeout)
    if target.local:
        click.echo(LOCAL_NOTE, err=True)
    progress = Progress(count, rich_console(sys.stderr))

    async def main() -> list[str]:
        hooks = Hooks(on_session_created=progress.advance)
        async with target.connect(hooks) as agb:
            with progress.shown("creating sessions"):
                batch = await agb.create_many(params, count, concurrency=concurrency)
            return [session.session_id for session in batch.sessions]

    ids = run_async(main)
    for session_id in ids:
        click.echo(session_id)
    if count > 1:
        click.echo(f"created {len(ids)} sessions", err=True)


@click.command(name="ls")
@label_option("Only sessions with this label (repeatable; all must match).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--with-labels", is_flag=True, help="Fetch and show each session's labels.")
@target_options
def list_sessions(labels: dict[str, str], as_json: bool, with_labels: bool, target: Target) -> None:
    """List sessions (every page), optionally filtered by labels."""
    refuse_local(target, "it has no sessions to list")

    async def main() -> list[SessionRow]:
        async with target.connect() as agb:
            rows = [
                SessionRow(info.session_id, info.status) async for info in agb.iter_sessions(labels)
            ]
            if with_labels:
                rows = await _with_labels(agb, rows)
            return rows

    print_sessions(run_async(main), as_json=as_json)


async def _with_labels(agb: AsyncAGB, rows: list[SessionRow]) -> list[SessionRow]:
    labelled: list[SessionRow] = list(rows)
    limiter = anyio.CapacityLimiter(LIST_CONCURRENCY)

    async def fetch(index: int, row: SessionRow) -> None:
        async with limiter:
            result = await AsyncSession(agb, row.session_id).get_labels()
        found: Mapping[str, str] = result.data if result.success and result.data else {}
        labelled[index] = SessionRow(row.session_id, row.status, found)

    async with anyio.create_task_group() as tg:
        for index, row in enumerate(rows):
            tg.start_soon(fetch, index, row)
    return labelled


@click.command(name="rm")
@click.argument("session_ids", nargs=-1, metavar="[ID]...")
@label_option("Delete the sessions with this label (repeatable; all must match).")
@click.option("--all", "everything", is_flag=True, help="Delete every session of the API key.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before deleting several sessions.")
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(1, 256))
@target_options
def remove(
    session_ids: tuple[str, ...],
    labels: dict[str, str],
    everything: bool,
    yes: bool,
    concurrency: int,
    target: Target,
) -> None:
    """Delete sessions: by ID, by --label, or --all. Asks first when more than one matches."""
    chosen = sum(bool(x) for x in (session_ids, labels, everything))
    if chosen != 1:
        raise click.UsageError("Give session IDs, or --label KEY=VALUE, or --all (one of them).")
    refuse_local(target, "it has no sessions to delete")

    async def main() -> tuple[list[str], list[str]] | None:
        async with target.connect() as agb:
            if session_ids:
                found, missing = await _existing(agb, session_ids)
            else:
                found = [info.session_id async for info in agb.iter_sessions(labels)]
                missing = []
                if not found:
                    click.echo("no sessions match", err=True)
            asked = len(found) > 1 and not yes
            if asked and not await anyio.to_thread.run_sync(confirm_delete, len(found)):
                return None  # the user said no: an abort, not an error
            sessions = [AsyncSession(agb, session_id) for session_id in found]
            failed = await agb.delete_sessions(sessions, concurrency=concurrency)
            if failed:
                raise click.ClickException(f"{failed} of {len(found)} sessions were not deleted")
            return found, missing

    outcome = run_async(main)
    if outcome is None:
        click.echo("Nothing deleted.", err=True)
        return
    deleted, missing = outcome
    for session_id in deleted:
        click.echo(session_id)
    click.echo(f"deleted {len(deleted)} session(s)", err=True)
    if missing:
        raise click.ClickException(f"no such session: {', '.join(missing)}")


async def _existing(agb: AsyncAGB, session_ids: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Split ids into sessions the server knows and ids it does not (a 'not found')."""
    found: list[str] = []
    missing: list[str] = []
    for session_id in dict.fromkeys(session_ids):
        result = await agb.get_session(session_id)
        if result.success:
            found.append(session_id)
        elif isinstance(result.exception, NotFoundError):
            missing.append(session_id)
        else:
            raise fail_with(result, f"session {session_id}: ")
    return found, missing


COMMANDS = (run, exec_command, create, list_sessions, remove)
