"""`aioagb run` and `aioagb exec`: output, exit codes, temporary and existing sessions."""

from __future__ import annotations

from pathlib import Path

from _support.cli import Cli, one_error_line


def test_run_prints_output_and_result_in_a_temporary_session(cli: Cli) -> None:
    result = cli("run", "print('hello')\n6 * 7")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "hello\n42\n"
    assert cli.live() == 0  # the temporary session was deleted


def test_run_a_file_infers_the_language_from_its_extension(cli: Cli, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text("import sys\nprint(sys.version_info[0])\n")
    result = cli("run", "--file", str(script))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "3\n"


def test_run_reads_code_from_stdin_with_file_dash(cli: Cli) -> None:
    result = cli("run", "-f", "-", "--language", "python", input="print(2 + 2)\n")
    assert (result.exit_code, result.stdout) == (0, "4\n")


def test_code_that_raises_exits_1_with_its_traceback_on_stderr(cli: Cli) -> None:
    result = cli("run", "print('before')\n1 / 0")
    assert result.exit_code == 1
    assert result.stdout == "before\n"
    assert "ZeroDivisionError: division by zero" in result.stderr
    assert "Traceback" in result.stderr  # the user's traceback, from the sandbox
    assert "cli.py" not in result.stderr and "aioagb" not in result.stderr
    assert cli.live() == 0


def test_a_syntax_error_is_shown_once(cli: Cli) -> None:
    """The traceback on stderr ends with the SyntaxError; the error's own wording of it
    ("... (<cell 1>, line 1)") is not printed again below it."""
    result = cli("run", "def f(:")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "SyntaxError" in line]
    assert len(lines) == 1 and lines[0].startswith("SyntaxError: invalid syntax"), result.stderr


def test_an_error_the_traceback_does_not_show_is_printed_after_it(cli: Cli) -> None:
    result = cli("run", "--timeout", "1", "import time; time.sleep(30)")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("TimeoutError: execution timed out")


def test_run_in_an_existing_session_keeps_its_state_and_leaves_it_running(cli: Cli) -> None:
    [session_id] = cli.make_sessions(1)
    assert cli("run", "--session", session_id, "x = 20").exit_code == 0
    result = cli("run", "--session", session_id, "x + 1")
    assert (result.exit_code, result.stdout) == (0, "21\n")
    assert cli.live() == 1


def test_run_with_local_needs_no_server_or_key(cli: Cli) -> None:
    result = cli("run", "--local", "print('local')", target=False)
    assert (result.exit_code, result.stdout) == (0, "local\n")


def test_run_needs_code_or_a_file_but_not_both(cli: Cli, tmp_path: Path) -> None:
    assert cli("run").exit_code == 2
    script = tmp_path / "a.py"
    script.write_text("1")
    result = cli("run", "1", "--file", str(script))
    assert result.exit_code == 2 and "one of them" in result.stderr


def test_run_in_an_unknown_session_is_one_line(cli: Cli) -> None:
    line = one_error_line(cli("run", "--session", "session-does-not-exist", "1"))
    assert "session-does-not-exist" in line and "not found" in line.lower()


def test_exec_prints_stdout_and_stderr_and_exits_with_the_command_code(cli: Cli) -> None:
    result = cli("exec", "echo out; echo err >&2; exit 3")
    assert result.exit_code == 3
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert cli.live() == 0


def test_exec_passes_options_after_the_command_to_it(cli: Cli) -> None:
    result = cli("exec", "--cwd", "/tmp", "ls", "-a", "-1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [".", ".."]


def test_exec_in_an_existing_session_sees_its_files(cli: Cli) -> None:
    [session_id] = cli.make_sessions(1)
    assert cli("exec", "--session", session_id, "echo kept > note.txt").exit_code == 0
    result = cli("exec", "--session", session_id, "cat", "note.txt")
    assert (result.exit_code, result.stdout) == (0, "kept\n")


def test_exec_timeout_ends_the_command(cli: Cli) -> None:
    result = cli("exec", "--timeout", "0.5", "sleep 5; echo late")
    assert result.exit_code == 124  # AGB Local's exit code for a timed-out command
    assert "late" not in result.stdout
    # Not a silent 124: the user is told what happened and which option to raise.
    assert result.stderr == "aioagb: command timed out after 0.5 s; raise --timeout\n"


def test_exec_local_runs_the_command_in_its_own_local_server(cli: Cli) -> None:
    result = cli("exec", "--local", "uname", "-s", target=False)
    assert (result.exit_code, result.stdout) == (0, "Linux\n")


def test_exec_in_an_unknown_session_is_one_line(cli: Cli) -> None:
    line = one_error_line(cli("exec", "--session", "session-nope", "true"))
    assert "session-nope" in line
