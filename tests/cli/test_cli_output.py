"""What a terminal shows: rich's table for `ls` and a progress bar for `create` batches."""

from __future__ import annotations

import io
from typing import IO

import pytest
from rich.console import Console

from _support.cli import Cli, stdout_lines
from aioagb.cli import output as cli_output
from aioagb.cli import sessions as cli_sessions
from aioagb.cli.output import Progress, SessionRow, render_table


def _terminal(buffer: io.StringIO) -> Console:
    return Console(file=buffer, force_terminal=True, width=100, color_system=None)


def test_the_table_has_a_row_per_session_and_a_count() -> None:
    buffer = io.StringIO()
    rows = [SessionRow("session-a", "RUNNING", {"team": "x"}), SessionRow("session-b", "RUNNING")]
    render_table(_terminal(buffer), rows)
    text = buffer.getvalue()
    assert "SESSION ID" in text and "LABELS" in text and "2 session(s)" in text
    assert "session-a" in text and "team=x" in text and "session-b" in text


def test_no_table_when_stdout_is_not_a_terminal() -> None:
    assert cli_output.rich_console(io.StringIO()) is None


def test_create_shows_a_bar_that_counts_every_created_session(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.StringIO()

    def terminal(_stream: IO[str]) -> Console:
        return _terminal(buffer)

    monkeypatch.setattr(cli_sessions, "rich_console", terminal)
    result = cli("create", "--count", "4")
    assert result.exit_code == 0, result.stderr
    assert len(stdout_lines(result)) == 4  # ids stay on stdout, the bar is elsewhere
    shown = buffer.getvalue()
    assert "creating sessions" in shown and "4/4" in shown


def test_progress_without_a_terminal_only_counts() -> None:
    progress = Progress(3, None)
    with progress.shown("x") as shown:
        for _ in range(3):
            shown.advance()
    assert progress.done == 3
