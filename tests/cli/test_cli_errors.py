"""Every failure is one line on stderr, no traceback, exit 1 (2 for a usage error)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from _support.cli import Cli, one_error_line


@pytest.fixture
def no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here: the key can come from nowhere


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


@pytest.mark.usefixtures("no_dotenv")
@pytest.mark.parametrize(
    "argv",
    [["ls"], ["create"], ["rm", "--all"], ["run", "1"], ["exec", "true"]],
    ids=lambda argv: argv[0],
)
def test_a_missing_key_is_one_line_naming_the_ways_to_give_one(cli: Cli, argv: list[str]) -> None:
    line = one_error_line(cli(*argv, target=False))
    assert line.startswith("Error: No API key")
    assert "--api-key" in line and "AGB_API_KEY" in line and "--local" in line


def test_a_key_in_dotenv_is_used(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        f"AGB_API_KEY={cli.api_key}\nAGB_ENDPOINT={cli.server.endpoint}\n"
    )
    result = cli("ls", "--json", target=False)
    assert (result.exit_code, result.stdout.strip()) == (0, "[]")


def test_an_endpoint_nothing_listens_on_is_one_line(cli: Cli) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    line = one_error_line(cli("ls", "--endpoint", endpoint, "--api-key", "k", target=False))
    assert "cannot connect" in line


def test_an_endpoint_that_does_not_resolve_is_one_line(cli: Cli) -> None:
    argv = ["run", "--endpoint", "http://no-such-host.invalid", "--api-key", "k", "1"]
    assert "cannot connect" in one_error_line(cli(*argv, target=False))


def test_a_wrong_key_is_one_line_with_the_server_s_answer(cli: Cli) -> None:
    argv = ["create", "--endpoint", cli.server.endpoint, "--api-key", "not-a-key"]
    line = one_error_line(cli(*argv, target=False))
    assert "http_status=401" in line and "not-a-key" not in line


def test_local_with_a_key_or_endpoint_is_a_usage_error(cli: Cli) -> None:
    result = cli("ls", "--local", "--api-key", "k", target=False)
    assert result.exit_code == 2 and "--local starts its own AGB Local" in result.stderr


def test_an_invalid_argument_is_one_line(cli: Cli) -> None:
    line = one_error_line(cli("run", "--language", "cobol", "1"))
    assert "cobol" in line
