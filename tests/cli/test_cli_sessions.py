"""`aioagb create`, `ls` and `rm` against AGB Local: output, exit codes, confirmation."""

from __future__ import annotations

import json
import re

import pytest

from _support.cli import Cli, one_error_line, stdout_lines

SESSION_ID = re.compile(r"^session-[0-9a-f]+$")


def test_create_prints_one_id_per_session_with_the_labels(cli: Cli) -> None:
    result = cli("create", "--count", "3", "--label", "team=data", "--label", "job=nightly")
    assert result.exit_code == 0, result.stderr
    ids = stdout_lines(result)
    assert len(ids) == 3 and all(SESSION_ID.match(i) for i in ids)
    assert "created 3 sessions" in result.stderr
    assert cli.live() == 3
    listed = json.loads(cli("ls", "--label", "job=nightly", "--with-labels", "--json").stdout)
    assert sorted(item["session_id"] for item in listed) == sorted(ids)
    assert all(item["labels"] == {"team": "data", "job": "nightly"} for item in listed)


def test_create_one_session_prints_just_its_id(cli: Cli) -> None:
    result = cli("create")
    assert result.exit_code == 0
    assert SESSION_ID.match(result.stdout.strip()) and result.stderr == ""


def test_a_failed_batch_is_one_line_and_leaves_nothing(cli: Cli) -> None:
    line = one_error_line(cli("create", "--count", "3", "--image", "no-such-image"))
    assert re.search(r"\d of 3 session creations failed", line) and "InvalidImageId" in line
    assert cli.live() == 0


def test_create_rejects_a_label_without_a_value(cli: Cli) -> None:
    result = cli("create", "--label", "team")
    assert result.exit_code == 2 and "KEY=VALUE" in result.stderr


def test_create_with_local_says_the_sessions_end_with_the_command(cli: Cli) -> None:
    result = cli("create", "--local", "-n", "2", target=False)
    assert result.exit_code == 0, result.stderr
    assert len(stdout_lines(result)) == 2
    assert "end when this command exits" in result.stderr


def test_ls_filters_by_label_and_prints_tab_separated_rows_when_piped(cli: Cli) -> None:
    mine = cli.make_sessions(2, {"owner": "me"})
    theirs = cli.make_sessions(1, {"owner": "them"})
    rows = [line.split("\t") for line in stdout_lines(cli("ls", "--label", "owner=me"))]
    assert sorted(rows) == sorted([[i, "RUNNING"] for i in mine])
    everything = cli("ls")
    assert sorted(line.split("\t")[0] for line in stdout_lines(everything)) == sorted(mine + theirs)
    labelled = stdout_lines(cli("ls", "--label", "owner=them", "--with-labels"))
    assert labelled == [f"{theirs[0]}\tRUNNING\towner=them"]


def test_ls_json_is_a_list_and_empty_when_nothing_matches(cli: Cli) -> None:
    result = cli("ls", "--json", "--label", "owner=nobody")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["ls"], "it has no sessions to list"),
        (["ls", "--json"], "it has no sessions to list"),
        (["rm", "--all", "--yes"], "it has no sessions to delete"),
        (["rm", "session-1"], "it has no sessions to delete"),
        (["run", "--session", "session-1", "1"], "it has no session session-1"),
        (["exec", "--session", "session-1", "true"], "it has no session session-1"),
    ],
)
def test_local_is_refused_where_a_new_empty_server_cannot_help(
    cli: Cli, argv: list[str], why: str
) -> None:
    """An embedded AGB Local starts empty and ends with the command: listing or deleting in
    it, or naming a session in it, can only find nothing."""
    command, *rest = argv
    result = cli(command, "--local", *rest, target=False)
    assert result.exit_code == 2, result.output
    assert f"--local starts a new, empty AGB Local for this command alone: {why}" in result.stderr
    assert "aioagb serve" in result.stderr and "--endpoint" in result.stderr


def test_rm_by_id_deletes_it(cli: Cli) -> None:
    [keep, drop] = cli.make_sessions(2)
    result = cli("rm", drop)
    assert result.exit_code == 0, result.stderr
    assert stdout_lines(result) == [drop]
    assert [line.split("\t")[0] for line in stdout_lines(cli("ls"))] == [keep]


def test_rm_an_unknown_id_fails_after_deleting_the_known_ones(cli: Cli) -> None:
    [known] = cli.make_sessions(1)
    result = cli("rm", known, "session-unknown")
    assert result.exit_code == 1
    assert stdout_lines(result) == [known]
    assert result.stderr.strip().splitlines()[-1] == "Error: no such session: session-unknown"
    assert cli.live() == 0


def test_rm_many_in_ci_without_yes_refuses_and_deletes_nothing(cli: Cli) -> None:
    cli.make_sessions(3, {"batch": "b1"})
    line = one_error_line(cli("rm", "--label", "batch=b1"))  # CI=true, no stdin
    assert "Delete 3 sessions?" in line and "--yes" in line
    assert cli.live() == 3
    result = cli("rm", "--label", "batch=b1", "--yes")
    assert result.exit_code == 0 and len(stdout_lines(result)) == 3
    assert cli.live() == 0


@pytest.mark.parametrize(
    ("answer", "exit_code", "live", "last_line"),
    [
        ("y\n", 0, 0, "deleted 2 session(s)"),
        # Saying no is the user's choice, not a failure: a plain line and exit code 0.
        ("n\n", 0, 2, "Nothing deleted."),
        ("", 1, 2, "Error: Delete 2 sessions? No answer: pass --yes to delete them."),
    ],
)
def test_rm_many_asks_when_someone_can_answer(
    cli: Cli, answer: str, exit_code: int, live: int, last_line: str
) -> None:
    cli.make_sessions(2, {"batch": "b2"})
    result = cli("rm", "--label", "batch=b2", input=answer, ci=False)
    assert "Delete 2 sessions? [y/N]" in result.stderr
    assert (result.exit_code, cli.live()) == (exit_code, live)
    assert result.stderr.strip().splitlines()[-1] == last_line
    if answer == "n\n":
        assert result.stdout == "" and "Error" not in result.stderr


def test_rm_all_deletes_every_session_of_the_key_only(cli: Cli) -> None:
    cli.make_sessions(2)
    result = cli("rm", "--all", "--yes")
    assert result.exit_code == 0 and cli.live() == 0
    assert "deleted 2 session(s)" in result.stderr


def test_rm_needs_exactly_one_way_to_choose(cli: Cli) -> None:
    assert cli("rm").exit_code == 2
    assert cli("rm", "some-id", "--all").exit_code == 2


def test_rm_with_nothing_matching_is_not_an_error(cli: Cli) -> None:
    result = cli("rm", "--label", "owner=nobody")
    assert result.exit_code == 0 and "no sessions match" in result.stderr
