"""Helpers for the security tests: a real AGB Local in a background thread, a raw HTTP client
that can send any bytes, the envelope check, and a well-formed client that keeps working
(and timing itself) in its own thread while the tests attack the server."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import IO, Any

import anyio
import anyio.from_thread
import attrs
from aiohttp.http_exceptions import HttpProcessingError
from anyio.abc import Process

from aioagb import AsyncAGB, CreateSessionParams, RetryPolicy
from aioagb import _protocol as p
from aioagb.server import LocalServer, ServerConfig
from aioagb.server.sandbox import SandboxLimits

KEY_A = "security-key-tenant-a-0123456789"
KEY_B = "security-key-tenant-b-9876543210"
IMAGE = "agb-code-space-2"
ENVELOPE_KEYS = {"success", "code", "message", "httpStatusCode", "requestId", "data"}
NO_RETRIES = RetryPolicy(attempts=1)

# Small enough to trip quickly on a 2-core machine, large enough for python and the kernel.
SECURITY_LIMITS = SandboxLimits(
    memory_bytes=256 * 1024 * 1024,
    max_processes=64,
    max_output_bytes=64 * 1024,
    max_file_bytes=32 * 1024 * 1024,
    workspace_quota_bytes=64 * 1024 * 1024,
    max_timeout_s=10.0,
)


def security_config(**overrides: Any) -> ServerConfig:
    settings: dict[str, Any] = {
        "api_keys": (KEY_A, KEY_B),
        "limits": SECURITY_LIMITS,
        "backend": "bwrap",
        "reaper_interval_s": 0.5,
    }
    settings.update(overrides)
    return ServerConfig(**settings)


@contextlib.contextmanager
def server_in_thread(config: ServerConfig) -> Iterator[LocalServer]:
    """AGB Local on its own event loop in a background thread (for sync tests)."""
    with anyio.from_thread.start_blocking_portal(backend="asyncio") as portal:
        server = LocalServer(config)
        with portal.wrap_async_context_manager(server):
            yield server


@attrs.frozen
class RawReply:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    port: int,
    method: str,
    target: bytes,
    body: bytes = b"",
    headers: Mapping[bytes, bytes] | None = None,
    *,
    timeout: float = 30.0,
) -> RawReply:
    """One request on a fresh connection, exactly these bytes on the wire (any query or body
    bytes, invalid UTF-8 included); the reply parsed by the standard library."""
    sent = {
        b"Host": b"127.0.0.1",
        b"Content-Type": b"application/json",
        b"Content-Length": str(len(body)).encode(),
        b"Connection": b"close",
    }
    sent.update(headers or {})
    head = b"%s %s HTTP/1.1\r\n" % (method.encode(), target)
    head += b"".join(b"%s: %s\r\n" % (k, v) for k, v in sent.items()) + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # A server refusing an oversized body may answer and close before reading it all.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + body)
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        data = reply.read()
        return RawReply(reply.status, data, {k.lower(): v for k, v in reply.getheaders()})


def bearer(key: str) -> dict[bytes, bytes]:
    return {b"authorization": b"Bearer " + key.encode()}


def assert_envelope(reply: RawReply) -> dict[str, Any]:
    """Never a 5xx; always the protocol's envelope, consistent with the status."""
    assert reply.status < 500, (reply.status, reply.body[:300])
    body = reply.json()
    assert isinstance(body, dict), body
    assert set(body) >= ENVELOPE_KEYS, body
    assert body["httpStatusCode"] == reply.status, body
    assert body["requestId"], body
    assert reply.headers.get(p.HEADER_REQUEST_ID.lower()) == body["requestId"]
    if reply.status >= 400:
        assert body["success"] is False, body
        assert body["message"], body
        assert body["data"] is None, body
        assert "Traceback" not in body["message"], body
    else:
        assert body["success"] is True, body
    return body


class ErrorRecords(logging.Handler):
    """Collects ERROR records (tracebacks of unexpected failures) from the server's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # aiohttp's HTTP parser refuses requests that are not HTTP at all (a request line
        # over 8 KiB, raw bytes that no URL may hold) with its own plain 400 before any
        # application code runs; that is logged by aiohttp, and is not a server failure.
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            self.records.append(record)

    @contextlib.contextmanager
    def watching(self, *names: str) -> Iterator[ErrorRecords]:
        loggers = [logging.getLogger(name) for name in names]
        for logger in loggers:
            logger.addHandler(self)
        try:
            yield self
        finally:
            for logger in loggers:
                logger.removeHandler(self)


@attrs.define
class WellFormedClient:
    """An SDK user running code and writing files in a loop on its own thread and loop,
    recording each round's latency and every failure, until stopped."""

    server: LocalServer
    key: str = KEY_A
    rounds: int = 0
    latencies: list[float] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=anyio.run, args=(self._run,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            assert not self._thread.is_alive(), "the well-formed client did not stop"

    async def _run(self) -> None:
        agb = AsyncAGB(self.key, endpoint=self.server.endpoint, retry=NO_RETRIES, timeout=30)
        async with agb, agb.session(CreateSessionParams(image_id=IMAGE)) as session:
            while not self._stop.is_set():
                started = time.monotonic()
                n = self.rounds
                ran = await session.code.run(f"print({n} * 2)", "python")
                wrote = await session.file.write(f"/workspace/round-{n % 5}.txt", f"r{n}")
                read = await session.file.read(f"/workspace/round-{n % 5}.txt")
                self.latencies.append(time.monotonic() - started)
                if not (ran.success and ran.logs.stdout == [f"{n * 2}\n"]):
                    self.errors.append(f"run_code: {ran.error_message!r} {ran.logs}")
                if not (wrote.success and read.success and read.content == f"r{n}"):
                    self.errors.append(f"files: {wrote.error_message!r} {read.error_message!r}")
                self.rounds += 1
                await anyio.sleep(0.01)

    def snapshot(self) -> tuple[int, int]:
        return self.rounds, len(self.errors)


# Runs `python -m aioagb.server` after lowering the soft open-file limit to argv[1], as a
# login shell's default of 1,024 would leave it (the hard limit is kept).
_WITH_SOFT_FILE_LIMIT = (
    "import os, resource, sys; "
    "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'aioagb.server', *sys.argv[2:]])"
)


def _serve_command(
    key: str, flags: tuple[str, ...], soft_file_limit: int | None = None
) -> list[str]:
    args = ["--port", "0", "--api-key", key, *flags]
    if soft_file_limit is not None:
        return [sys.executable, "-c", _WITH_SOFT_FILE_LIMIT, str(soft_file_limit), *args]
    return [sys.executable, "-m", "aioagb.server", *args]


async def _endpoint_of(process: Process) -> str:
    """The endpoint a starting `aioagb serve` prints."""
    assert process.stdout is not None
    seen = b""
    with anyio.fail_after(30):
        while b"listening on" not in seen or not seen.endswith(b"\n"):
            seen += await process.stdout.receive()
    endpoint = re.search(rb"listening on (http://\S+)", seen)
    assert endpoint is not None, seen
    return endpoint.group(1).decode()


@contextlib.asynccontextmanager
async def serve_process(
    key: str,
    *flags: str,
    soft_file_limit: int | None = None,
    stderr: int | IO[bytes] | None = subprocess.PIPE,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[Process, str]]:
    """`python -m aioagb.server` as its own process (its memory measurable alone); yields
    the process and its endpoint, and checks it stops cleanly (exit 0) on SIGTERM.
    `soft_file_limit` starts it with that soft open-file limit; `stderr` is where its log
    goes (a pipe nobody reads holds only 64 KiB: pass a file for a chatty server)."""
    command = _serve_command(key, flags, soft_file_limit)
    async with await anyio.open_process(command, stderr=stderr, env=env) as process:
        endpoint = await _endpoint_of(process)
        try:
            yield process, endpoint
        finally:
            if process.returncode is None:  # not already ended by the test itself
                process.terminate()
                with anyio.fail_after(60):
                    assert await process.wait() == 0


@contextlib.asynccontextmanager
async def killable_server(key: str, *flags: str) -> AsyncIterator[tuple[Process, str]]:
    """`python -m aioagb.server` as its own process, for the test to kill as it likes
    (SIGKILL: no shutdown work at all); killed at the end if it still runs."""
    async with await anyio.open_process(_serve_command(key, flags)) as process:
        try:
            yield process, await _endpoint_of(process)
        finally:
            if process.returncode is None:
                process.kill()
            with anyio.CancelScope(shield=True), anyio.fail_after(60):
                await process.wait()
