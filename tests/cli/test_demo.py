"""The main job (`aioagb demo`) and `AsyncAGB.local()` against a real embedded AGB Local."""

from __future__ import annotations

import subprocess
import sys

from aioagb import AsyncAGB, CreateSessionParams


def test_demo_command_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aioagb", "demo", "--sessions", "5", "--concurrency", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "created 5 sessions concurrently" in out
    assert out.count("host=sandbox") == 5  # the code ran inside the sandboxes
    # The numbers come with what they mean: the per-session lines, the table's columns.
    assert "(per session: the sandbox's own user id and hostname, its python, and after ->" in out
    assert "the sum of i*i for i below n*1000, for session n)" in out
    assert "session 2: uid=" in out and "-> 2664667000" in out  # sum(i * i for i < 2000)
    assert "step                               count      took" in out
    assert "found again by label                 5/5" in out
    assert "sessions left on the server: 0" in out
    assert out.rstrip().splitlines()[-1].startswith("demo: OK (every session ran python")


async def test_local_starts_a_server_and_a_bound_client_and_stops_both() -> None:
    async with AsyncAGB.local() as agb:
        server = agb.local_server
        assert server is not None
        assert agb.config.endpoint == server.endpoint.rstrip("/")
        assert agb.config.endpoint.startswith("http://127.0.0.1:")
        async with agb.session(CreateSessionParams(image_id="code_latest")) as session:
            assert (await session.command.execute("echo hi")).stdout == "hi\n"
    assert agb.closed
    # The server is gone: nothing listens on its port any more.
    async with AsyncAGB(agb.config.api_key, endpoint=agb.config.endpoint) as again:
        result = await again.list()
        assert not result.success and "connect" in result.error_message
