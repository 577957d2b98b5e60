"""AGB Local in a subprocess (`python3 -m aioagb serve`), so the benchmarks can drive it from
threads and other processes without blocking it, and measure its memory on its own."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

_LISTENING = re.compile(r"AGB Local listening on (http://\S+)")
START_TIMEOUT_S = 30.0
_ROOT = Path(__file__).resolve().parent.parent  # so `-m benchmarks._serve` resolves


@attrs.frozen
class Latency:
    """Injected per-route latency (seconds), as the cloud's routes take on a normal day."""

    create_s: float = 0.2
    tool_s: float = 0.05
    release_s: float = 0.1

    def fault_specs(self) -> list[str]:
        specs = []
        for route, seconds in (("create", self.create_s), ("tool", self.tool_s)):
            if seconds:
                specs.append(f"{route}:latency={seconds}")
        if self.release_s:
            specs.append(f"release:latency={self.release_s}")
        return specs

    @property
    def per_session_s(self) -> float:
        """One session's create + one tool call + release, back to back."""
        return self.create_s + self.tool_s + self.release_s


NO_LATENCY = Latency(0.0, 0.0, 0.0)


@attrs.define
class ServerProcess:
    endpoint: str
    api_key: str
    process: subprocess.Popen[str]
    output: list[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """The server process's resident memory now (VmRSS), children excluded."""
        status = Path(f"/proc/{self.pid}/status").read_text(encoding="utf-8")
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"no VmRSS for pid {self.pid}")
        return int(match.group(1)) * 1024


def _serve_argv(
    latency: Latency, backend: str, warm_sandboxes: int, warm_sandboxes_max: int | None
) -> list[str]:
    argv = [sys.executable, "-m", "benchmarks._serve", "--backend", backend]
    argv += ["--warm-sandboxes", str(warm_sandboxes)]
    if warm_sandboxes_max is not None:
        argv += ["--warm-sandboxes-max", str(warm_sandboxes_max)]
    for spec in latency.fault_specs():
        argv += ["--fault", spec]
    return argv


@contextmanager
def running_server(
    latency: Latency = NO_LATENCY,
    backend: str = "auto",
    *,
    warm_sandboxes: int = 0,
    warm_sandboxes_max: int | None = None,
) -> Iterator[ServerProcess]:
    """Start AGB Local (`benchmarks._serve`) on an ephemeral loopback port in its own process;
    stop it (SIGINT, then kill) on exit. `backend`: "auto" (real sandboxes) or "null";
    `warm_sandboxes`: the size of its pool of sandboxes started ahead of demand (0: none),
    growing up to `warm_sandboxes_max` after misses (None: a fixed size)."""
    api_key = secrets.token_urlsafe(24)
    env = {**os.environ, "AGB_LOCAL_API_KEYS": api_key, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        _serve_argv(latency, backend, warm_sandboxes, warm_sandboxes_max),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    endpoint = _wait_for_endpoint(process, output)
    # Keep draining its output so a chatty server never blocks on a full pipe.
    drain = threading.Thread(target=_drain, args=(process, output), daemon=True)
    drain.start()
    try:
        yield ServerProcess(endpoint, api_key, process, output)
    finally:
        _stop(process)
        drain.join(timeout=5)


def _wait_for_endpoint(process: subprocess.Popen[str], output: list[str]) -> str:
    assert process.stdout is not None
    # A server that hangs before printing anything would block readline() forever.
    watchdog = threading.Timer(START_TIMEOUT_S, process.kill)
    watchdog.start()
    try:
        for line in process.stdout:
            output.append(line)
            match = _LISTENING.search(line)
            if match:
                return match.group(1)
    finally:
        watchdog.cancel()
    _stop(process)
    raise RuntimeError("AGB Local did not start:\n" + "".join(output))


def _drain(process: subprocess.Popen[str], output: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
