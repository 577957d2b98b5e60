"""Sandbox.metrics: CPU, memory, disk and network of the session's sandbox, read from its
cgroup and /proc."""

from __future__ import annotations

import datetime

from aioagb.server.sandbox import LocalBackend, LocalSandbox, SandboxLimits


async def test_metrics_describe_the_sandbox(sandbox: LocalSandbox, limits: SandboxLimits) -> None:
    first = await sandbox.metrics()
    assert first.cpu_count >= 1
    assert 0 <= first.cpu_used_pct <= 100
    assert first.mem_total > 0 and first.mem_used > 0
    assert first.disk_total == limits.workspace_quota_bytes
    assert datetime.datetime.fromisoformat(first.timestamp.replace("Z", "+00:00"))
    await sandbox.write_file("/workspace/big.txt", "x" * 2_000_000, "overwrite")
    second = await sandbox.metrics()
    assert second.disk_used >= first.disk_used + 2_000_000


async def test_cpu_and_network_use_show(bsandbox: LocalSandbox) -> None:
    burn = (
        "import threading\n"
        "def spin():\n"
        "    while not stop.is_set(): pass\n"
        "stop = threading.Event()\n"
        "threading.Thread(target=spin, daemon=True).start()"
    )
    assert (await bsandbox.run_code(burn, "python", 10)).error is None
    busy = await bsandbox.metrics()
    await bsandbox.run_code("stop.set()", "python", 10)
    assert 0 < busy.cpu_used_pct <= 100
    # 200 KB over the sandbox's own loopback (its network namespace has nothing else).
    talk = (
        "import socket\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "client = socket.create_connection(server.getsockname())\n"
        "peer, _ = server.accept()\n"
        "client.sendall(b'x' * 200_000)\n"
        "got = 0\n"
        "while got < 200_000: got += len(peer.recv(65536))\n"
        "got"
    )
    before = await bsandbox.metrics()
    assert (await bsandbox.run_code(talk, "python", 10)).results[0]["text/plain"] == "200000"
    after = await bsandbox.metrics()
    assert after.rx_used_kbyte - before.rx_used_kbyte >= 195
    assert after.tx_used_kbyte - before.tx_used_kbyte >= 195


async def test_memory_is_the_cgroups_where_there_is_one(
    bwrap_backend: LocalBackend, limits: SandboxLimits
) -> None:
    sandbox = await bwrap_backend.create("mem")
    metrics = await sandbox.metrics()
    if bwrap_backend.cgroups:
        assert metrics.mem_total == limits.memory_bytes
    assert metrics.mem_used < metrics.mem_total
