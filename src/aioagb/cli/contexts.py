"""`aioagb context ...`: the contexts of an API key (ls, create, rm) and their files (files,
upload, download), through `agb.context`.

A CONTEXT argument is a context's name; with `--id` it is its id. Like the session commands,
each works against the AGB cloud (or `--endpoint`) or, with `--local`, an embedded AGB Local
whose contexts end with the command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click

from ..client import AsyncAGB
from ..models import ApiResponse, Context, ContextFileEntry
from .output import print_rows
from .support import Target, confirm_delete, fail_with, run_async, target_options

F = TypeVar("F", bound=Callable[..., Any])
LOCAL_CONTEXT_NOTE = (
    "note: --local contexts live in an embedded AGB Local and end when this command exits"
)
FILES_PAGE_SIZE = 100


def _by_id_option(command: F) -> F:
    return click.option("--id", "by_id", is_flag=True, help="CONTEXT is a context id, not a name.")(
        command
    )


def _json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        command
    )


def _note_local(target: Target) -> None:
    if target.local:
        click.echo(LOCAL_CONTEXT_NOTE, err=True)


async def _resolve(agb: AsyncAGB, context: str, by_id: bool) -> Context:
    """The context named (or with the id) `context`; a one-line error when there is none."""
    found = await (agb.context.get(context_id=context) if by_id else agb.context.get(context))
    if not found.success or found.context is None:
        what = "id" if by_id else "name"
        raise fail_with(found, f"no context with the {what} {context!r}: ")
    return found.context


def _checked(result: ApiResponse, what: str = "") -> None:
    if not result.success:
        raise fail_with(result, what)


@click.group(name="context")
def context_group() -> None:
    """Contexts: named file stores that sessions mount and that outlive them.

    A session created with a context mounted (CreateSessionParams(context_syncs=...)) starts
    with the context's files and saves its changes back; see docs/guides/persistence.md.
    """


@context_group.command(name="ls")
@_json_option
@target_options
def list_contexts(as_json: bool, target: Target) -> None:
    """List every context of the API key (every page)."""

    async def main() -> list[Context]:
        async with target.connect() as agb:
            return [context async for context in agb.context.iter_contexts(page_size=100)]

    contexts = run_async(main)
    rows = [[c.id, c.name, c.created_at or "", c.last_used_at or ""] for c in contexts]
    print_rows(
        ["ID", "NAME", "CREATED", "LAST USED"],
        rows,
        as_json=as_json,
        keys=["id", "name", "created_at", "last_used_at"],
        caption=f"{len(rows)} context(s)",
    )


@context_group.command(name="create")
@click.argument("name")
@target_options
def create_context(name: str, target: Target) -> None:
    """Create the context NAME (or find it: the same name gives the same context) and print
    its id."""
    _note_local(target)

    async def main() -> str:
        async with target.connect() as agb:
            result = await agb.context.create(name)
            _checked(result)
            return result.context_id

    click.echo(run_async(main))


@context_group.command(name="rm")
@click.argument("contexts", nargs=-1, required=True, metavar="CONTEXT...")
@_by_id_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask before deleting several contexts.")
@target_options
def remove_contexts(contexts: tuple[str, ...], by_id: bool, yes: bool, target: Target) -> None:
    """Delete contexts and every file in them. Asks first when more than one is named."""

    async def main() -> list[str] | None:
        async with target.connect() as agb:
            found = [await _resolve(agb, name, by_id) for name in dict.fromkeys(contexts)]
            asked = len(found) > 1 and not yes
            if asked and not await anyio.to_thread.run_sync(confirm_delete, len(found), "contexts"):
                return None  # the user said no: an abort, not an error
            deleted = []
            for context in found:
                _checked(await agb.context.delete(context), f"context {context.id}: ")
                deleted.append(context.id)
            return deleted

    deleted = run_async(main)
    if deleted is None:
        click.echo("Nothing deleted.", err=True)
        return
    for context_id in deleted:
        click.echo(context_id)
    click.echo(f"deleted {len(deleted)} context(s)", err=True)


@context_group.command(name="files")
@click.argument("context")
@click.argument("folder", required=False)
@_by_id_option
@_json_option
@target_options
def list_files(
    context: str, folder: str | None, by_id: bool, as_json: bool, target: Target
) -> None:
    """List the files of CONTEXT directly under FOLDER (an absolute path; default: the
    root), every page."""

    async def main() -> list[ContextFileEntry]:
        async with target.connect() as agb:
            found = await _resolve(agb, context, by_id)
            return await _all_files(agb, found.id, folder)

    entries = run_async(main)
    rows = [
        [e.file_path, str(e.size if e.size is not None else ""), e.gmt_modified or ""]
        for e in entries
    ]
    print_rows(
        ["PATH", "SIZE", "MODIFIED"],
        rows,
        as_json=as_json,
        keys=["path", "size", "modified"],
        caption=f"{len(rows)} file(s)",
    )


async def _all_files(agb: AsyncAGB, context_id: str, folder: str | None) -> list[ContextFileEntry]:
    entries: list[ContextFileEntry] = []
    page = 1
    while True:
        result = await agb.context.list_files(context_id, folder, page, FILES_PAGE_SIZE)
        _checked(result)
        entries += result.entries
        total = result.count if result.count is not None else len(entries)
        if len(result.entries) < FILES_PAGE_SIZE or len(entries) >= total:
            return entries
        page += 1


@context_group.command(name="upload")
@click.argument("context")
@click.argument(
    "local_file", metavar="LOCAL", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.argument("remote")
@_by_id_option
@click.option("--content-type", help="The Content-Type of the upload.")
@target_options
def upload(
    context: str,
    local_file: Path,
    remote: str,
    by_id: bool,
    content_type: str | None,
    target: Target,
) -> None:
    """Store the file LOCAL in CONTEXT as REMOTE (an absolute path: where a session that
    mounts the context sees it). Streamed: any size in constant memory."""
    _note_local(target)

    async def main() -> int:
        async with target.connect() as agb:
            found = await _resolve(agb, context, by_id)
            result = await agb.context.upload_file(
                found.id, remote, local_file, content_type=content_type
            )
            _checked(result)
            return result.bytes_sent

    sent = run_async(main)
    click.echo(f"uploaded {sent} bytes to {remote}", err=True)


@context_group.command(name="download")
@click.argument("context")
@click.argument("remote")
@click.argument("local_file", metavar="LOCAL", type=click.Path(dir_okay=False, path_type=Path))
@_by_id_option
@click.option("--no-overwrite", is_flag=True, help="Fail if LOCAL exists.")
@target_options
def download(
    context: str, remote: str, local_file: Path, by_id: bool, no_overwrite: bool, target: Target
) -> None:
    """Copy the file REMOTE of CONTEXT to LOCAL. LOCAL appears only once complete."""

    async def main() -> int:
        async with target.connect() as agb:
            found = await _resolve(agb, context, by_id)
            result = await agb.context.download_file(
                found.id, remote, local_file, overwrite=not no_overwrite
            )
            _checked(result)
            return result.bytes_received

    received = run_async(main)
    click.echo(f"downloaded {received} bytes to {local_file}", err=True)
