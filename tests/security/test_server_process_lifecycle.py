"""`aioagb serve` as a process, stopped the hard ways (issue 16, points 6 and 7): a SIGKILLed
server's default workspace root (and cgroups) are removed by the next server to start, and a
second SIGTERM/SIGINT during a graceful stop stops at once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from _support.security import IMAGE, NO_RETRIES, serve_process
from aioagb import AsyncAGB, CreateSessionParams

pytestmark = pytest.mark.timeout(180)

KEY = "process-lifecycle-key-0123456789"


def _roots(tmp: Path) -> dict[int, Path]:
    """The default roots under `tmp` (as $TMPDIR), by the pid in their lock file."""
    parent = tmp / f"aioagb-local-{os.geteuid()}"
    found = {}
    for lock in parent.glob("run-*.lock"):
        found[int(lock.read_text())] = lock.with_suffix("")
    return found


def _cgroups_of(pid: int) -> list[Path]:
    """The cgroups AGB Local made for server `pid` (v1 or v2), if it uses cgroups: named
    after its pid, under (or, for v2's leaf, beside) the server's own groups."""
    found: set[Path] = set()
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers:  # v1: one hierarchy per controller
            bases = [Path("/sys/fs/cgroup", name) for name in controllers.split(",")]
        else:  # v2: the unified hierarchy, alone or beside v1
            bases = [Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")]
        for base in bases:
            own = base / path.lstrip("/")
            for parent in (own, own.parent):
                found.update(parent.glob(f"aioagb-{pid}-*"))
                found.update(parent.glob(f"aioagb-server-{pid}"))
    return sorted(found)


async def _write_something(endpoint: str) -> None:
    params = CreateSessionParams(image_id=IMAGE)
    async with AsyncAGB(KEY, endpoint=endpoint, retry=NO_RETRIES, timeout=60) as agb:
        created = await agb.create(params)  # left for the server: it is about to be killed
        assert created.success, created
        ran = await created.session.command.execute("head -c 1000000 /dev/urandom > big.bin")
        assert ran.success, ran


async def test_a_killed_servers_default_root_is_removed_by_the_next(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the system temporary directory, here
    flags = ("--backend", "bwrap", "--log-level", "WARNING")
    async with serve_process(KEY, *flags, env=env) as (first, endpoint):
        await _write_something(endpoint)
        killed_root = _roots(tmp_path)[first.pid]
        assert (killed_root / "sessions").is_dir()
        cgroups = _cgroups_of(first.pid)
        first.kill()
        await first.wait()
    assert killed_root.is_dir()  # SIGKILL: nothing could clean up
    assert all(group.exists() for group in cgroups)
    async with serve_process(KEY, *flags, env=env) as (second, _):
        roots = _roots(tmp_path)
        assert list(roots) == [second.pid]  # the first one's lock is gone...
        assert not killed_root.exists()  # ...and so is its root
        assert not any(group.exists() for group in cgroups)
    parent = tmp_path / f"aioagb-local-{os.geteuid()}"
    assert [entry.name for entry in parent.iterdir()] == []  # a clean stop leaves nothing


async def _read_until(process: Process, text: bytes, seen: bytearray) -> None:
    assert process.stderr is not None
    with anyio.fail_after(30):
        while text not in seen:
            seen += await process.stderr.receive()


async def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    flags = ("--backend", "bwrap", "--log-level", "WARNING", "--shutdown-grace", "600")
    async with serve_process(KEY, *flags) as (server, endpoint), anyio.create_task_group() as tg:
        agb = AsyncAGB(KEY, endpoint=endpoint, retry=NO_RETRIES, timeout=900)
        async with agb:
            created = await agb.create(CreateSessionParams(image_id=IMAGE))
            assert created.success, created
            # A call that would hold a graceful stop for its whole 600 s grace.
            tg.start_soon(created.session.command.execute, "sleep 900", 900_000)
            await anyio.sleep(1)
            stderr = bytearray()
            server.send_signal(signal.SIGTERM)
            await _read_until(server, b"send it again to stop at once", stderr)
            server.send_signal(signal.SIGINT)
            with anyio.fail_after(60):  # far less than the grace: the grace was skipped
                code = await server.wait()
            await _read_until(server, b"AGB Local stopped.", stderr)
        tg.cancel_scope.cancel()
    assert code == 0, stderr.decode(errors="replace")
    assert b"SIGINT: stopping at once" in stderr
