"""The CLI against the cloud never imports AGB Local: only `serve`, `demo` and `--local` do.

Each command runs in a fresh interpreter against an endpoint nothing listens on (the command
may fail to connect; that is fine), which then reports the server modules it imported.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from aioagb.cli import LAZY_COMMANDS, LazyGroup, main

# Runs `aioagb ARGS...` as the console script does, then writes the heavy modules it loaded.
PROBE = """\
import json, os, sys
from aioagb.cli import main
try:
    main(sys.argv[1:], prog_name="aioagb")
except SystemExit:
    pass
finally:
    heavy = sorted(m for m in sys.modules if m.startswith(("aioagb.server", "aiohttp.web")))
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump(heavy, out)
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def heavy_imports(tmp_path: Path, *args: str) -> list[str]:
    """The `aioagb.server` and `aiohttp.web*` modules `aioagb ARGS...` imported."""
    out = tmp_path / "modules.json"
    env = {
        **os.environ,
        "CI": "true",
        "AGB_API_KEY": "probe-key",
        "AGB_ENDPOINT": f"http://127.0.0.1:{_closed_port()}",
        "PROBE_OUT": str(out),
    }
    subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env,
        cwd=tmp_path,  # no .env of the checkout
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    loaded: list[str] = json.loads(out.read_text())
    return loaded


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["ls"],
        ["ls", "--help"],
        ["run", "print(1)"],
        ["exec", "true"],
        ["create"],
        ["rm", "--all", "--yes"],
    ],
    ids=" ".join,
)
def test_cloud_commands_do_not_import_the_server(tmp_path: Path, argv: list[str]) -> None:
    assert heavy_imports(tmp_path, *argv) == []


def test_serve_imports_the_server_when_it_runs(tmp_path: Path) -> None:
    """The probe sees a server import when there is one (so an empty list above means it)."""
    loaded = heavy_imports(tmp_path, "serve", "--help")
    assert "aioagb.server" in loaded and "aiohttp.web" in loaded


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_a_lazy_command_shows_in_the_group_help_as_it_describes_itself(name: str) -> None:
    line = re.compile(rf"^  {name} +{re.escape(LAZY_COMMANDS[name].short_help)}$", flags=re.M)
    unloaded = LazyGroup("aioagb")  # lists the lazy commands from the table alone
    assert line.search(unloaded.get_help(click.Context(unloaded)))
    assert not unloaded.commands
    command = LAZY_COMMANDS[name].load()
    assert command.get_short_help_str(limit=200) == LAZY_COMMANDS[name].short_help
    with click.Context(main) as ctx:
        assert main.get_command(ctx, name) is command
    assert line.search(main.get_help(click.Context(main)))


def test_serve_is_importable_from_the_package_for_python_m_aioagb_server() -> None:
    from aioagb.cli import serve

    assert isinstance(serve, click.Command) and serve.name == "serve"
