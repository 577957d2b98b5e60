"""How the CLI shows things: tables and progress bars on a terminal, plain text in a pipe.

`rich` (the `cli` extra) draws the table and the progress bar when the stream is a terminal.
Piped, or without rich, output is plain: tab-separated rows a script can `cut`, and a one-line
summary instead of a bar, so `aioagb ls | wc -l` counts sessions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import attrs
import click

if TYPE_CHECKING:
    from rich.console import Console


@attrs.frozen
class SessionRow:
    """One line of `aioagb ls`."""

    session_id: str
    status: str
    labels: Mapping[str, str] | None = None  # None: not fetched


def rich_console(stream: IO[str]) -> Console | None:
    """A rich console for `stream` if rich is installed and `stream` is a terminal."""
    if not stream.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=stream)


def _labels_text(labels: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def print_sessions(rows: Sequence[SessionRow], *, as_json: bool) -> None:
    """`rows` as JSON, as a table on a terminal, or as tab-separated lines."""
    if as_json:
        items: list[dict[str, Any]] = []
        for row in rows:
            item: dict[str, Any] = {"session_id": row.session_id, "status": row.status}
            if row.labels is not None:
                item["labels"] = dict(row.labels)
            items.append(item)
        click.echo(json.dumps(items, indent=2))
        return
    console = rich_console(sys.stdout)
    if console is not None:
        render_table(console, rows)
        return
    for row in rows:
        fields = [row.session_id, row.status]
        if row.labels is not None:
            fields.append(_labels_text(row.labels))
        click.echo("\t".join(fields))


def render_table(console: Console, rows: Sequence[SessionRow]) -> None:
    """`rows` as a rich table with a count, labels only when any were fetched."""
    from rich.table import Table

    with_labels = any(row.labels is not None for row in rows)
    table = Table(caption=f"{len(rows)} session(s)")
    table.add_column("SESSION ID", no_wrap=True)
    table.add_column("STATUS")
    if with_labels:
        table.add_column("LABELS")
    for row in rows:
        cells = [row.session_id, row.status]
        if with_labels:
            cells.append(_labels_text(row.labels))
        table.add_row(*cells)
    console.print(table)


def print_rows(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    as_json: bool,
    keys: Sequence[str],
    caption: str,
) -> None:
    """Rows as JSON objects (`keys`), as a rich table with `columns` on a terminal, or as
    tab-separated lines in a pipe (what `aioagb context ls`/`files` print)."""
    if as_json:
        click.echo(json.dumps([dict(zip(keys, row, strict=True)) for row in rows], indent=2))
        return
    console = rich_console(sys.stdout)
    if console is None:
        for row in rows:
            click.echo("\t".join(row))
        return
    from rich.table import Table

    table = Table(caption=caption)
    for column in columns:
        table.add_column(column, no_wrap=column in ("ID", "PATH"))
    for row in rows:
        table.add_row(*row)
    console.print(table)


class Progress:
    """Counts sessions as they are created: a rich bar on a terminal, else a final line."""

    def __init__(self, total: int, console: Console | None) -> None:
        self.total = total
        self.done = 0
        self._console = console
        self._bar: Any = None
        self._task: Any = None

    def advance(self, _event: object = None) -> None:
        """Count one more session (a `Hooks.on_session_created` callback)."""
        self.done += 1
        if self._bar is not None:
            self._bar.advance(self._task)

    @contextmanager
    def shown(self, description: str) -> Iterator[Progress]:
        """Show the bar (on a terminal, for two sessions or more) while the block runs."""
        if self._console is None or self.total < 2:
            yield self
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with RichProgress(*columns, TimeElapsedColumn(), console=self._console) as bar:
            self._bar = bar
            self._task = bar.add_task(description, total=self.total)
            try:
                yield self
            finally:
                self._bar = None
