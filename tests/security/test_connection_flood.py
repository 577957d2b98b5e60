"""Issue 16, point 1: 1,100 idle connections from a client without a key once locked every
real client out of `aioagb serve` (their calls timed out after 79 s) and filled its log with
~5,000 accept-error tracebacks a second, because the process kept the common soft limit of
1,024 open files and nothing capped or closed connections.

Here the server runs as its own process started with that soft limit. The flood comes from
127.0.0.2 (Linux routes all of 127/8 to loopback), the real client from 127.0.0.1."""

from __future__ import annotations

import contextlib
import re
import resource
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from _support.security import IMAGE, NO_RETRIES, serve_process
from aioagb import AsyncAGB, CreateSessionParams
from aioagb.server import ServerConfig
from aioagb.server.envelope import CODE_TOO_MANY_CONNECTIONS

pytestmark = pytest.mark.timeout(180)

KEY = "flood-test-key-0123456789abcdef"
IDLE_CONNECTIONS = 1_100
COMMON_SOFT_LIMIT = 1_024
PER_CLIENT = ServerConfig().max_connections_per_client  # the default is what is tested
ATTACKER = "127.0.0.2"


@contextlib.contextmanager
def open_file_limit(at_least: int) -> Iterator[None]:
    """This test process may hold `at_least` open files (root may raise the hard limit)."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = before[1] if before[1] == resource.RLIM_INFINITY else max(before[1], at_least)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pytest.skip(f"cannot hold {at_least} open files here (limit {before})")
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def _idle_connections(port: int, count: int) -> list[socket.socket]:
    """`count` connections that never send a byte."""
    opened = []
    try:
        for _ in range(count):
            opened.append(socket.create_connection(("127.0.0.1", port), 10, (ATTACKER, 0)))
    except BaseException:
        for sock in opened:
            sock.close()
        raise
    for sock in opened:
        sock.setblocking(False)
    return opened


def _refused(connections: list[socket.socket]) -> int:
    """How many connections got the 503 refusal (the rest are held, silent)."""
    count = 0
    for sock in connections:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            data = b""
        if data.startswith(b"HTTP/1.1 503") and CODE_TOO_MANY_CONNECTIONS.encode() in data:
            count += 1
        else:
            raise AssertionError(f"not a refusal: {data[:200]!r}")
    return count


def _soft_and_hard_file_limits(pid: int) -> tuple[str, str]:
    limits = Path(f"/proc/{pid}/limits").read_text()
    found = re.search(r"Max open files\s+(\S+)\s+(\S+)", limits)
    assert found is not None, limits
    return found.group(1), found.group(2)


async def test_idle_connections_do_not_lock_out_real_clients(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    flags = ("--backend", "bwrap", "--log-level", "INFO")
    with open_file_limit(4 * IDLE_CONNECTIONS), log_path.open("wb") as log:
        async with serve_process(KEY, *flags, soft_file_limit=COMMON_SOFT_LIMIT, stderr=log) as (
            process,
            endpoint,
        ):
            soft, hard = _soft_and_hard_file_limits(process.pid)
            assert soft == hard  # raised at start
            port = int(endpoint.rsplit(":", 1)[1])
            flood = await anyio.to_thread.run_sync(_idle_connections, port, IDLE_CONNECTIONS)
            try:
                # A real client, no retries: each call must be served within its timeout.
                params = CreateSessionParams(image_id=IMAGE)
                agb = AsyncAGB(KEY, endpoint=endpoint, retry=NO_RETRIES, timeout=30)
                async with agb, agb.session(params) as session:
                    ran = await session.code.run("print(6 * 7)", "python")
                    assert ran.success and ran.logs.stdout == ["42\n"], ran
                    wrote = await session.file.write("/workspace/ok.txt", "served")
                    assert wrote.success, wrote
                refused = 0
                with anyio.fail_after(30):  # every flood connection accepted and answered
                    while refused < IDLE_CONNECTIONS - PER_CLIENT:
                        refused += await anyio.to_thread.run_sync(_refused, flood)
                        await anyio.sleep(0.1)
                assert refused == IDLE_CONNECTIONS - PER_CLIENT  # the rest are held
            finally:
                for sock in flood:
                    sock.close()
    text = log_path.read_text(errors="replace")
    assert "out of system resource" not in text
    assert "Traceback" not in text
    assert text.count("connection refused") <= 5  # one report per 10 s, with a count
    assert log_path.stat().st_size < 64 * 1024, text[-2000:]
