"""`aioagb serve` / `python -m aioagb.server`, and where API keys come from."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from aioagb import _protocol as p
from aioagb.cli import main
from aioagb.server.auth import KeyRing, tenant_id_of
from aioagb.server.config import ENV_API_KEYS, ServerConfig, collect_api_keys


def test_keys_come_from_options_file_and_environment(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# team keys\nfile-1\n\n  file-2  \nopt-1\n")
    keys = collect_api_keys(["opt-1"], keys_file, {ENV_API_KEYS: "env-1, ,env-2"})
    assert keys == ("opt-1", "file-1", "file-2", "env-1", "env-2")
    assert collect_api_keys([], None, {}) == ()


def test_key_ring_knows_tenants_by_digest_not_by_key() -> None:
    ring = KeyRing(["alpha", "beta"])
    tenant = ring.tenant_for("Bearer alpha")
    assert tenant == tenant_id_of("alpha") and "alpha" not in tenant
    assert ring.tenant_for("Bearer beta") != tenant
    assert ring.tenant_for("Bearer gamma") is None
    with pytest.raises(ValueError):
        KeyRing(["", ""])


def test_serve_help_lists_the_options() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--api-key", "--keys-file", "--workspace-root",
                   "--idle-timeout", "--backend", "--memory-mb", "--max-timeout",
                   "--warm-sandboxes"):  # fmt: skip
        assert option in result.output


def _post(url: str, key: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=b"{}", method="POST", headers={"authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A root the plain backend's per-session uids can reach (pytest's tmp_path is 700)."""
    path = Path(tempfile.mkdtemp(prefix="aioagb-cli-"))
    path.chmod(0o711)
    yield path / "workspaces"
    shutil.rmtree(path, ignore_errors=True)


def test_a_server_that_cannot_start_says_why(shared_root: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        argv = ["serve", "--port", port, "--backend", "plain", "--workspace-root", str(shared_root)]
        result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1
    assert "AGB Local could not start" in result.output
    assert "Traceback" not in result.output


def test_python_m_server_serves_and_stops_cleanly_on_ctrl_c(shared_root: Path) -> None:
    root = shared_root
    env = {**os.environ, ENV_API_KEYS: "env-key"}
    argv = [sys.executable, "-m", "aioagb.server", "--port", "0", "--backend", "plain"]
    argv += ["--api-key", "cli-key", "--workspace-root", str(root)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        assert first.startswith("AGB Local listening on http://127.0.0.1:"), first
        endpoint = first.split()[-1]
        for key in ("cli-key", "env-key"):
            status, body = _post(f"{endpoint}{p.PATH_CREATE_SESSION}?imageId=code_latest", key)
            assert status == 200 and body["success"] is True
        status, _ = _post(f"{endpoint}{p.PATH_LIST_TOOLS}?imageId=code_latest", "nope")
        assert status == 401
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == 0, err.decode()
    assert b"AGB Local stopped." in err
    assert b"cli-key" not in err and b"env-key" not in err  # keys are never logged


def test_the_warm_pool_size_is_bounded_in_the_config_and_on_the_command_line() -> None:
    for size in (-1, 1001):
        with pytest.raises(ValueError, match="warm_sandboxes"):
            ServerConfig(warm_sandboxes=size)
    result = CliRunner().invoke(main, ["serve", "--warm-sandboxes", "5000"])
    assert result.exit_code == 2 and "--warm-sandboxes" in result.output
