"""Issue 6 point 4: isolation seen by an SDK user, through AGB Local's HTTP API.

tests/sandbox checks the backend without HTTP; here each attack goes the way a user's code
would send it (aioagb -> HTTP -> registry -> bubblewrap sandbox): another session's workspace
and processes, the server's key file and source code, the network, resource abuse run
concurrently while a bystander session keeps answering, and path traversal through every
file tool (including symlinks made by a shell command in the session).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

import aioagb
from _support.security import IMAGE, KEY_A, NO_RETRIES, security_config
from aioagb import AsyncAGB, AsyncSession, CreateSessionParams
from aioagb.server import LocalServer


@pytest.fixture
def key_file() -> Iterator[Path]:
    """A keys file the way an operator keeps one (`aioagb serve --keys-file`)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "agb-keys.txt"
        path.write_text(f"# AGB Local keys\n{KEY_A}\n")
        path.chmod(0o600)
        yield path


@pytest.fixture
async def agb() -> AsyncIterator[AsyncAGB]:
    async with (
        LocalServer(security_config()) as server,
        AsyncAGB(KEY_A, endpoint=server.endpoint, retry=NO_RETRIES, timeout=60) as client,
    ):
        client.local_server = server
        yield client


async def _open(agb: AsyncAGB) -> AsyncSession:
    return await agb.open_session(CreateSessionParams(image_id=IMAGE))


async def _sh(session: AsyncSession, command: str, timeout_ms: int = 5000) -> aioagb.CommandResult:
    return await session.command.execute(command, timeout_ms=timeout_ms)


async def test_a_session_cannot_reach_another_sessions_workspace_or_processes(
    agb: AsyncAGB,
) -> None:
    async with await _open(agb) as a, await _open(agb) as b:
        assert (await a.file.write("/workspace/secret.txt", "a-secret")).success
        # A long-running process of A, recognisable by its command line.
        sleeper = "import time; time.sleep(300)"
        started = await _sh(a, f"setsid python3 -c '{sleeper}' marker-of-a > /dev/null 2>&1 &")
        assert started.success
        assert "marker-of-a" in (await _sh(a, "ps -eo args")).stdout

        root = Path(await _root_of(agb))
        host_secret = root / "sessions" / a.session_id / "workspace" / "secret.txt"
        assert host_secret.read_text() == "a-secret"  # the server's view; now B's attempts:
        for command in (
            f"cat {host_secret}",
            f"cat /workspace/../{a.session_id}/workspace/secret.txt",
            f"ls {root}",
            "grep -rl a-secret / 2>/dev/null; true",
        ):
            out = await _sh(b, command)
            assert "a-secret" not in out.stdout + out.stderr, command
            assert a.session_id not in out.stdout, command
        for path in (str(host_secret), f"../{a.session_id}/workspace/secret.txt"):
            read = await b.file.read(path)
            assert not read.success and "a-secret" not in read.content
        # A host path under /tmp is confined to B's own /tmp: A's file is untouched.
        await b.file.write(str(host_secret), "overwritten by b")
        assert host_secret.read_text() == "a-secret"

        # B sees only its own processes and cannot signal A's.
        ps = await _sh(b, "ps -eo pid,args")
        assert "marker-of-a" not in ps.stdout and "sleep 300" not in ps.stdout
        await _sh(b, "kill -9 -1; true")
        assert "marker-of-a" in (await _sh(a, "ps -eo args")).stdout
        assert (await a.file.read("/workspace/secret.txt")).content == "a-secret"


async def test_a_session_cannot_read_the_servers_key_file_code_or_environment(
    agb: AsyncAGB, key_file: Path
) -> None:
    source = Path(aioagb.__file__).parent / "server" / "auth.py"
    assert source.exists()
    async with await _open(agb) as s:
        for path in (key_file, source, Path("/proc/1/environ")):
            out = await _sh(s, f"cat {path} 2>&1; true")
            assert KEY_A not in out.stdout and "compare_digest" not in out.stdout
            read = await s.file.read(str(path))
            # Refused, or confined: an absolute /tmp path is the session's own /tmp.
            assert not read.success, path
            assert "outside" in read.error_message or "No such file" in read.error_message
        code = f"open({str(key_file)!r}).read()"
        ran = await s.code.run(code, "python")
        assert not ran.success and "No such file" in ran.error_message + str(ran.logs.stderr)
        env = await _sh(s, "env; cat /proc/self/environ | tr '\\0' '\\n'")
        assert KEY_A not in env.stdout
        assert "AGB" not in env.stdout  # no server settings leak into a session


async def test_a_session_has_no_network_not_even_the_servers_port(agb: AsyncAGB) -> None:
    server = agb.local_server
    assert server is not None
    code = f"""
import socket
outcomes = []
for host, port in (("127.0.0.1", {server.port}), ("1.1.1.1", 53)):
    try:
        socket.create_connection((host, port), timeout=2).close()
        outcomes.append("connected")
    except OSError as exc:
        outcomes.append(type(exc).__name__)
try:
    socket.getaddrinfo("example.com", 80)
    outcomes.append("resolved")
except OSError as exc:
    outcomes.append(type(exc).__name__)
outcomes
"""
    async with await _open(agb) as s:
        ran = await s.code.run(code, "python", timeout_s=20)
        assert ran.success, ran.error_message
        outcome = ran.results[0].text
        assert "connected" not in outcome and "resolved" not in outcome, outcome


async def test_abuse_is_stopped_with_clear_errors_while_a_bystander_keeps_working(
    agb: AsyncAGB,
) -> None:
    """Fork bomb, memory hog, infinite loop, 1 GB of output and huge files, all at once, each
    in its own session; a bystander session on the same server runs code throughout."""
    outcomes: dict[str, str] = {}
    latencies: list[float] = []
    failures: list[str] = []
    abuse_done = anyio.Event()

    async def bystander(session: AsyncSession) -> None:
        n = 0
        while not abuse_done.is_set():
            started = time.monotonic()
            ran = await session.code.run(f"{n} + 1", "python")
            latencies.append(time.monotonic() - started)
            if not (ran.success and ran.results[0].text == str(n + 1)):
                failures.append(ran.error_message)
            n += 1
            await anyio.sleep(0.05)

    async def fork_bomb(s: AsyncSession) -> None:
        out = await _sh(s, "bomb() { bomb | bomb; }; bomb", timeout_ms=3000)
        # Contained by the process limit: forks fail, then the deadline ends what is left.
        assert not out.success, out
        assert out.exit_code == 124 or "fork" in out.error_message.lower(), out
        after = await _sh(s, "echo alive; ps -e --no-headers | wc -l")
        assert after.stdout.startswith("alive\n") and int(after.stdout.split()[-1]) < 10
        outcomes["fork bomb"] = f"exit {out.exit_code}"

    async def memory_hog(s: AsyncSession) -> None:
        code = "x = bytearray(1_000_000_000)\nx[::4096] = b'1' * len(x[::4096])"
        ran = await s.code.run(code, "python", timeout_s=30)
        assert not ran.success
        assert "MemoryError" in ran.error_message or "restarted" in ran.error_message, ran
        assert (await s.code.run("1 + 1", "python")).results[0].text == "2"
        outcomes["memory hog"] = ran.error_message[:80]

    async def infinite_loop(s: AsyncSession) -> None:
        ran = await s.code.run("while True:\n    pass", "python", timeout_s=2)
        assert not ran.success and "timed out" in ran.error_message.lower(), ran
        outcomes["infinite loop"] = ran.error_message[:80]

    async def gigabyte_of_output(s: AsyncSession) -> None:
        out = await _sh(s, "head -c 1000000000 /dev/zero | tr '\\0' x", timeout_ms=60_000)
        assert "output truncated at" in out.stdout, out.stdout[-200:]
        assert len(out.stdout) < 2 * security_config().limits.max_output_bytes
        code = "import sys\nfor _ in range(1000):\n    sys.stdout.write('y' * 1_000_000)"
        ran = await s.code.run(code, "python", timeout_s=60)
        printed = "".join(ran.logs.stdout)
        assert "output truncated at" in printed and len(printed) < 200_000
        outcomes["1 GB of output"] = "truncated at the limit"

    async def huge_files(s: AsyncSession) -> None:
        one = await _sh(s, "head -c 100000000 /dev/zero > /workspace/one.bin", timeout_ms=30_000)
        assert not one.success and "File size limit exceeded" in one.stderr + one.output, one
        for name in ("a", "b", "c"):  # each under the per-file cap, together over the quota
            await _sh(s, f"head -c 25000000 /dev/zero > /workspace/{name}.bin", timeout_ms=30_000)
        wrote = await s.file.write("/workspace/more.txt", "x" * 1000)
        assert not wrote.success and "quota" in wrote.error_message, wrote
        outcomes["huge file"] = wrote.error_message[:80]

    attacks = [fork_bomb, memory_hog, infinite_loop, gigabyte_of_output, huge_files]
    async with await _open(agb) as calm:
        assert (await calm.code.run("0", "python")).success  # kernel started before the storm
        sessions = [await _open(agb) for _ in attacks]
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(bystander, calm)
                async with anyio.create_task_group() as storm:
                    for attack, session in zip(attacks, sessions, strict=True):
                        storm.start_soon(attack, session)
                abuse_done.set()
        finally:
            for session in sessions:
                await session.aclose()
    assert set(outcomes) == {
        "fork bomb",
        "memory hog",
        "infinite loop",
        "1 GB of output",
        "huge file",
    }
    assert not failures, failures
    assert len(latencies) >= 5
    worst = max(latencies)
    print(f"\nabuse outcomes: {outcomes}\nbystander: {len(latencies)} calls, worst {worst:.3f} s")
    assert worst < 3.0, f"the bystander waited {worst:.1f} s during the abuse"


LINK_ITSELF = {"move from", "move to", "remove"}
TRAVERSALS = [
    "../../../etc/passwd",
    "/etc/passwd",
    "/workspace/../../etc/passwd",
    "/proc/self/environ",
    "/opt/agb",
    "/",
    "/workspace/out-link/passwd",  # through a symlink to /etc made in the session
    "/workspace/passwd-link",  # a symlink to /etc/passwd
]


async def test_every_file_tool_refuses_or_confines_path_traversal(agb: AsyncAGB) -> None:
    async with await _open(agb) as s:
        f = s.file
        for path in TRAVERSALS:
            links = "ln -sfn /etc out-link && ln -sfn /etc/passwd passwd-link && echo v > victim"
            assert (await _sh(s, f"cd /workspace && rm -rf stolen && {links}")).success
            results = {
                "read": await f.read(path),
                "info": await f.info(path),
                "list": await f.list(path),
                "write": await f.write(path, "pwned"),
                "mkdir": await f.mkdir(path.rstrip("/") + "/sub-dir"),
                "edit": await f.edit(path, [{"oldText": "root", "newText": "pwned"}]),
                "search": await f.search(path, "*"),
                "read_batch": await f.read_batch([path]),
                "move from": await f.move(path, "/workspace/stolen"),
                "move to": await f.move("/workspace/victim", path),
                "remove": await f.remove(path),
                "change": await s.call_mcp_tool("get_file_change", {"path": path}),
            }
            for tool, result in results.items():
                if path == "/workspace/passwd-link" and tool in LINK_ITSELF:
                    continue  # acts on the link inside the workspace, never on its target
                if tool == "read_batch":  # one result per path, the error inside it
                    assert "root:" not in str(result.contents), (tool, path)
                    continue
                assert not result.success, (tool, path, result)
                message = result.error_message.lower()
                assert "outside" in message or "not " in message, (tool, path, message)
                assert "root:" not in str(getattr(result, "data", "")), (tool, path)
        # The host was not touched and the session's own links still exist, harmless.
        await anyio.to_thread.run_sync(_host_untouched)
        passwd = await _sh(s, "cat /etc/passwd")
        assert passwd.success and "pwned" not in passwd.stdout


def _host_untouched() -> None:
    assert "pwned" not in Path("/etc/passwd").read_text()
    assert not os.path.exists("/etc/sub-dir") and not os.path.exists("/sub-dir")


async def _root_of(agb: AsyncAGB) -> str:
    """The server's workspace root on the host (what an attacker would aim at)."""
    server = agb.local_server
    assert server is not None and server._runner is not None
    backend = server._backend
    assert backend is not None
    return str(backend.root)  # type: ignore[attr-defined]
