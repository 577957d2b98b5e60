"""`aioagb context ls | create | rm | files | upload | download` against AGB Local: output in
a pipe and as JSON, exit codes, one-line errors, confirmation, and --local."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result

from _support.cli import Cli, one_error_line, stdout_lines
from aioagb.cli import main


def context(cli: Cli, command: str, *rest: str, target: bool = True) -> Result:
    """`aioagb context COMMAND [target options] REST...` as `Cli` runs the other commands."""
    from click.testing import CliRunner

    argv = ["context", command, *(cli.target if target else []), *rest]
    env = {"CI": "true", "AGB_API_KEY": None, "AGB_ENDPOINT": None}
    return CliRunner().invoke(main, argv, env=env)


def test_create_prints_the_id_and_is_get_or_create(cli: Cli) -> None:
    first = context(cli, "create", "agent-state")
    assert first.exit_code == 0, first.stderr
    [context_id] = stdout_lines(first)
    assert stdout_lines(context(cli, "create", "agent-state")) == [context_id]
    rows = [line.split("\t") for line in stdout_lines(context(cli, "ls"))]
    assert [row[:2] for row in rows] == [[context_id, "agent-state"]]
    [item] = json.loads(context(cli, "ls", "--json").stdout)
    assert (item["id"], item["name"]) == (context_id, "agent-state")
    assert set(item) == {"id", "name", "created_at", "last_used_at"}


def test_context_upload_lists_and_downloads_the_same_bytes_and_no_overwrite_refuses(
    cli: Cli, tmp_path: Path
) -> None:
    """A file stored under an absolute path, listed under its folder, fetched back."""
    context(cli, "create", "data")
    local = tmp_path / "model.bin"
    local.write_bytes(b"\x00weights\xff" * 1000)
    up = context(cli, "upload", "data", str(local), "/home/user/state/model.bin")
    assert up.exit_code == 0, up.stderr
    assert "uploaded 9000 bytes to /home/user/state/model.bin" in up.stderr

    listed = stdout_lines(context(cli, "files", "data", "/home/user/state"))
    assert [line.split("\t")[:2] for line in listed] == [["/home/user/state/model.bin", "9000"]]
    as_json = json.loads(context(cli, "files", "data", "/home/user/state", "--json").stdout)
    assert as_json[0]["path"] == "/home/user/state/model.bin"

    back = tmp_path / "out" / "model.bin"
    down = context(cli, "download", "data", "/home/user/state/model.bin", str(back))
    assert down.exit_code == 0, down.stderr
    assert back.read_bytes() == local.read_bytes()
    again = context(
        cli, "download", "data", "/home/user/state/model.bin", str(back), "--no-overwrite"
    )
    assert "Destination exists and overwrite=False" in one_error_line(again)


def test_a_context_can_be_named_by_id(cli: Cli, tmp_path: Path) -> None:
    [context_id] = stdout_lines(context(cli, "create", "by-id"))
    local = tmp_path / "a.txt"
    local.write_text("a")
    assert context(cli, "upload", context_id, str(local), "/data/a.txt", "--id").exit_code == 0
    assert stdout_lines(context(cli, "files", context_id, "/data", "--id"))[0].startswith(
        "/data/a.txt\t1"
    )


def test_rm_deletes_and_asks_before_deleting_several(cli: Cli) -> None:
    [a] = stdout_lines(context(cli, "create", "a"))
    [b] = stdout_lines(context(cli, "create", "b"))
    asked = context(cli, "rm", "a", "b")  # CI is set: refuses to ask
    assert "Delete 2 contexts? Not asking with CI set" in one_error_line(asked)
    assert len(stdout_lines(context(cli, "ls"))) == 2
    done = context(cli, "rm", "a", "b", "--yes")
    assert done.exit_code == 0, done.stderr
    assert stdout_lines(done) == [a, b] and "deleted 2 context(s)" in done.stderr
    assert stdout_lines(context(cli, "ls")) == []


def test_rm_answered_no_deletes_nothing_and_is_not_an_error(cli: Cli) -> None:
    from click.testing import CliRunner

    context(cli, "create", "keep-a")
    context(cli, "create", "keep-b")
    argv = ["context", "rm", *cli.target, "keep-a", "keep-b"]
    env = {"CI": None, "AGB_API_KEY": None, "AGB_ENDPOINT": None}
    declined = CliRunner().invoke(main, argv, env=env, input="n\n")
    assert "Delete 2 contexts? [y/N]" in declined.stderr
    assert declined.exit_code == 0 and declined.stdout == ""
    assert declined.stderr.strip().splitlines()[-1] == "Nothing deleted."
    assert len(stdout_lines(context(cli, "ls"))) == 2


def test_unknown_context_is_one_error_line(cli: Cli, tmp_path: Path) -> None:
    line = one_error_line(context(cli, "files", "nope"))
    assert "no context with the name 'nope'" in line
    local = tmp_path / "a"
    local.write_text("a")
    line = one_error_line(context(cli, "upload", "nope", str(local), "/data/a"))
    assert "no context with the name 'nope'" in line
    line = one_error_line(context(cli, "rm", "--id", "SdkCtx-missing"))
    assert "no context with the id 'SdkCtx-missing'" in line


def test_context_usage_errors_exit_2_and_a_missing_key_is_one_error_line(
    cli: Cli, tmp_path: Path
) -> None:
    missing = context(cli, "upload", "data", str(tmp_path / "nope"), "/data/a")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    both = context(cli, "ls", "--local")  # with --endpoint/--api-key from the helper
    assert both.exit_code == 2 and "--local starts its own AGB Local" in both.stderr
    no_key = context(cli, "ls", target=False)
    assert "No API key" in one_error_line(no_key)


def test_local_contexts_end_with_the_command(cli: Cli) -> None:
    created = context(cli, "create", "scratch", "--local", target=False)
    assert created.exit_code == 0, created.stderr
    assert "end when this command exits" in created.stderr
    listed = context(cli, "ls", "--local", "--json", target=False)
    assert (listed.exit_code, json.loads(listed.stdout)) == (0, [])
