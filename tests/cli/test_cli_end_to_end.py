"""The real `aioagb` process end to end: `aioagb serve` in one process, the session commands
in others, configured only through the environment, with CI=true and no stdin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

KEY = "e2e-key"


@pytest.fixture
def served() -> Iterator[str]:
    argv = [sys.executable, "-m", "aioagb", "serve", "--port", "0", "--api-key", KEY]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("AGB Local listening on http://127.0.0.1:"), first
        yield first.split()[-1]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def aioagb(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "true", "AGB_API_KEY": KEY, "AGB_ENDPOINT": endpoint}
    return subprocess.run(
        [sys.executable, "-m", "aioagb", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_list_run_exec_and_remove_through_the_console_script(served: str) -> None:
    created = aioagb(served, "create", "-n", "3", "--label", "suite=e2e")
    assert created.returncode == 0, created.stderr
    ids = created.stdout.split()
    assert len(ids) == 3

    listed = aioagb(served, "ls", "--label", "suite=e2e", "--json")
    assert sorted(item["session_id"] for item in json.loads(listed.stdout)) == sorted(ids)

    ran = aioagb(served, "run", "--session", ids[0], "print('in', 'session')")
    assert (ran.returncode, ran.stdout) == (0, "in session\n")
    done = aioagb(served, "exec", "--session", ids[1], "exit 7")
    assert done.returncode == 7

    refused = aioagb(served, "rm", "--label", "suite=e2e")  # no --yes, CI, no stdin
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: Delete 3 sessions? Not asking with CI set: pass --yes to delete them."
    ]
    removed = aioagb(served, "rm", "--label", "suite=e2e", "--yes")
    assert (removed.returncode, sorted(removed.stdout.split())) == (0, sorted(ids))
    assert aioagb(served, "ls").stdout == ""


def test_verbose_logs_each_request_without_the_key(served: str) -> None:
    result = aioagb(served, "-v", "ls")
    assert result.returncode == 0
    assert "DEBUG aioagb.transport: GET ListSession -> 200" in result.stderr
    assert KEY not in result.stderr
