"""What a session cannot do: see other sessions, the host or the network; exhaust resources."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from aioagb.server.sandbox import LocalBackend, LocalSandbox, SandboxFileError

SECRET = "s3cret-of-session-a"


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP port listening on the host's loopback (connects would succeed from the host)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


async def test_a_session_cannot_read_another_sessions_files(
    backend: LocalBackend, mode: str
) -> None:
    a = await backend.create("iso-a")
    b = await backend.create("iso-b")
    await a.write_file("/workspace/secret.txt", SECRET, "overwrite")
    await a.write_file("/tmp/secret.txt", SECRET, "overwrite")
    host_paths = [a.dir / "workspace" / "secret.txt", a.dir / "tmp" / "secret.txt"]
    for path in host_paths:
        with pytest.raises(SandboxFileError):
            await b.read_file(str(path), 0, 100)
        out = await b.shell(f"cat {path}", 10)
        assert out.exit_code != 0 and SECRET not in out.stdout
        code = await b.run_code(f"open({str(path)!r}).read()", "python", 10)
        assert code.error is not None and code.results == []
    # Guessing: B's own view holds no trace of A.
    for path in ("/workspace/secret.txt", "/tmp/secret.txt"):
        with pytest.raises(SandboxFileError):
            await b.read_file(path, 0, 100)
    if mode == "bwrap":  # plain mode: the host's tree is visible, only A's files are closed
        found = await b.shell(f"grep -rs {SECRET} /workspace /tmp /opt /etc /dev/shm", 20)
        assert SECRET not in found.stdout
        assert (await b.shell(f"test -e {a.dir}", 10)).exit_code != 0


async def test_no_network_not_even_the_hosts_loopback(
    bsandbox: LocalSandbox, host_listener: int
) -> None:
    # The port is open on the host: a connect from the host itself works.
    with socket.create_connection(("127.0.0.1", host_listener), timeout=2):
        pass
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {host_listener}), timeout=2)\n"
        "    r = 'connected'\n"
        "except OSError as e:\n"
        "    r = type(e).__name__\n"
        "r"
    )
    out = await bsandbox.run_code(code, "python", 10)
    assert out.results[0]["text/plain"] == repr("ConnectionRefusedError")
    dns = await bsandbox.run_code(
        "import socket\ntry:\n    socket.getaddrinfo('example.com', 80)\n    r = 'resolved'\n"
        "except OSError as e:\n    r = 'failed'\nr",
        "python",
        10,
    )
    assert dns.results[0]["text/plain"] == repr("failed")
    links = await bsandbox.shell("tail -n +3 /proc/net/dev | cut -d: -f1", 10)
    assert links.stdout.split() == ["lo"]


async def test_host_files_and_processes_are_invisible(bsandbox: LocalSandbox) -> None:
    out = await bsandbox.shell("ls /; ls /root; cat /etc/shadow", 10)
    assert out.exit_code != 0
    assert set(out.stdout.split()) <= {
        "bin", "dev", "etc", "lib", "lib32", "lib64", "opt", "proc", "sbin", "tmp", "usr",
        "workspace",
    }  # fmt: skip
    assert "/root" in out.stderr and "/etc/shadow" in out.stderr
    passwd = await bsandbox.shell("cat /etc/passwd", 10)
    assert passwd.stdout.count("\n") == 1 and passwd.stdout.startswith("sandbox:")
    ps = await bsandbox.shell("ps -eo pid,user,args", 10)
    assert str(os.getpid()) not in ps.stdout.split()
    assert "pytest" not in ps.stdout
    ro = await bsandbox.shell("touch /usr/x || touch /etc/x || echo denied", 10)
    assert ro.stdout.strip() == "denied"


async def test_each_session_runs_as_its_own_unprivileged_uid(backend: LocalBackend) -> None:
    a = await backend.create("uid-a")
    if os.geteuid() != 0:
        pytest.skip("not root: no uids to hand out, sessions run as the server's user")
    b = await backend.create("uid-b")
    ua = (await a.shell("id -u", 10)).stdout.strip()
    ub = (await b.shell("id -u", 10)).stdout.strip()
    assert ua == str(a.uid) and ub == str(b.uid) and ua != ub and "0" not in (ua, ub)
    status = await a.shell("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status", 10)
    fields = dict(line.split(":\t") for line in status.stdout.splitlines())
    assert int(fields["CapEff"], 16) == 0
    assert os.stat(a.dir).st_mode & 0o777 == 0o700


async def test_process_count_is_limited(sandbox: LocalSandbox) -> None:
    code = """
import subprocess
procs, error = [], None
try:
    for _ in range(200):
        procs.append(subprocess.Popen(["sleep", "100"]))
except OSError as exc:
    error = type(exc).__name__
for p in procs:
    p.kill()
    p.wait()
(len(procs) < 64, error)
"""
    out = await sandbox.run_code(code, "python", 20)
    assert out.results[0]["text/plain"] == "(True, 'BlockingIOError')"
    after = await sandbox.shell("echo alive", 10)
    assert after.stdout == "alive\n"


async def test_fork_bomb_is_contained_and_ended_by_the_timeout(bsandbox: LocalSandbox) -> None:
    out = await bsandbox.shell("bomb() { bomb | bomb & }; bomb", 2)
    assert out.exit_code in (0, 2, 124)
    # Everything still holding the command's output was killed at its deadline.
    after = await bsandbox.shell("echo alive; ps -e --no-headers | wc -l", 10)
    assert after.stdout.startswith("alive\n")
    assert int(after.stdout.split()[-1]) < 10


async def test_memory_hog_is_stopped(bsandbox: LocalSandbox, bwrap_backend: LocalBackend) -> None:
    await bsandbox.run_code("kept = 1", "python", 10)
    # 256 MiB session cap (cgroup) or the 4 GiB RLIMIT_AS backstop without cgroups.
    size = 1_000_000_000 if bwrap_backend.cgroups else 6_000_000_000
    code = f"x = bytearray({size})\nx[::4096] = b'1' * len(x[::4096])"
    out = await bsandbox.run_code(code, "python", 20)
    assert out.error is not None
    assert "MemoryError" in out.error or "restarted" in out.error
    again = await bsandbox.run_code("1 + 1", "python", 10)
    assert again.results[0]["text/plain"] == "2"


async def test_dev_shm_is_private_and_small(bsandbox: LocalSandbox) -> None:
    out = await bsandbox.shell("df -B1 --output=size /dev/shm | tail -1", 10)
    assert int(out.stdout) <= 64 * 1024 * 1024
