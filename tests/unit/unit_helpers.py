"""Helpers for the SDK core unit tests: aioresponses for the network, no server, no sleep.

`wire` is an `aioresponses` that also keeps every request in the order it was sent, with
its URL exactly as the SDK built it (aioresponses itself re-sorts and re-encodes the query
string of the URLs it records, which would hide the encoding that agb-wire.md §1.4 fixes).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any
from unittest import mock

import aiohttp
import aioresponses.core as aioresponses_core
import anyio.lowlevel
import attrs
from aioresponses import aioresponses

from aioagb import AsyncAGB, RetryPolicy

BASE = "http://api.test"
API_KEY = "sk-unit-SECRET-7f3a9c"
SESSION_ID = "s-1"


@attrs.frozen
class Sent:
    """One request as it left the SDK."""

    method: str
    url: str  # exactly as built by the SDK (already form-encoded)
    headers: dict[str, str]
    body: bytes | None

    @property
    def path(self) -> str:
        return self.url.removeprefix(BASE).partition("?")[0]

    @property
    def query(self) -> str:
        return self.url.partition("?")[2]

    def json(self) -> Any:
        assert self.body is not None
        return json.loads(self.body)

    def args(self) -> Any:
        """A tool call's `args`, which travel as a JSON *string* (§4.1)."""
        args = self.json()["args"]
        assert isinstance(args, str)
        return json.loads(args)


class _Response(aiohttp.ClientResponse):
    """aioresponses 0.7.9 (the latest) predates aiohttp 3.14's required `stream_writer`
    argument (pnuckowski/aioresponses#289); a finished request's writer only reports the
    bytes it sent."""

    def __init__(self, method: str, url: Any, **kw: Any) -> None:
        kw.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kw)


class Wire(aioresponses):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self._compat = mock.patch.object(aioresponses_core, "ClientResponse", _Response)

    def start(self) -> None:
        self._compat.start()
        super().start()

    def stop(self) -> None:
        super().stop()
        self._compat.stop()

    async def _request_mock(self, orig_self: Any, method: str, url: Any, *args: Any, **kw: Any):  # type: ignore[no-untyped-def]
        data = kw.get("data")
        self.sent.append(Sent(method, str(url), dict(kw.get("headers") or {}), data))
        return await super()._request_mock(orig_self, method, url, *args, **kw)

    def route(self, method: str, path: str, **kw: Any) -> None:
        """Answer `method path` (any query string) once, or `repeat=True` times."""
        pattern = re.compile("^" + re.escape(BASE + path) + r"(\?.*)?$")
        self.add(pattern, method, **kw)

    def ok(self, method: str, path: str, data: Any = None, rid: str = "r-ok", **kw: Any) -> None:
        self.route(method, path, payload=envelope(data, rid=rid, **kw.pop("env", {})), **kw)

    def tool(self, text: str | None, *, is_error: bool = False, rid: str = "r-tool", **kw: Any):  # type: ignore[no-untyped-def]
        self.ok("POST", "/mcp", tool_data(text, is_error=is_error), rid=rid, **kw)

    def paths(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.sent]


def envelope(data: Any = None, *, rid: str = "r-ok", success: bool = True, **extra: Any) -> dict:
    """The success reply of §2 (or, with success=False and extra fields, a failure)."""
    body = {
        "success": success,
        "code": "ok" if success else "Failed",
        "message": "",
        "httpStatusCode": 200,
        "requestId": rid,
        "data": data,
    }
    body.update(extra)
    return body


def not_found(rid: str = "r-nf") -> dict:
    """The session-not-found reply of §2 / §10."""
    return {
        "success": False,
        "code": "InvalidMcpSession.NotFound",
        "message": "Session not found",
        "httpStatusCode": 400,
        "requestId": rid,
        "data": None,
    }


def tool_data(text: str | None, *, is_error: bool = False) -> dict:
    content = [] if text is None else [{"type": "text", "text": text}]
    return {"isError": is_error, "content": content}


FAST = RetryPolicy(attempts=3, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0)


def client(**kw: Any) -> AsyncAGB:
    options: dict[str, Any] = {
        "endpoint": BASE,
        "orphan_grace": 0.01,
        "retry": FAST,
        "timeout": 5,
    }
    options.update(kw)
    return AsyncAGB(API_KEY, **options)


def refused() -> aiohttp.ClientConnectorError:
    """What aiohttp raises when the connection cannot be opened (nothing was sent)."""
    from aiohttp.client_reqrep import ConnectionKey

    fields = ["api.test", 80, False, True]
    key = ConnectionKey._make(fields + [None] * (len(ConnectionKey._fields) - len(fields)))
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


Sleep = Callable[[float], Awaitable[None]]


def recording_sleep(real_sleep: Sleep, waits: list[float]) -> Sleep:
    """A sleep that records its delay and returns at once, in the calling test's thread only.

    Other threads keep `real_sleep`: session-scoped AGB Local servers of other test modules
    run in portal threads, and their waits must neither be recorded nor skipped."""
    test_thread = threading.get_ident()

    async def sleep(delay: float) -> None:
        if threading.get_ident() != test_thread:
            await real_sleep(delay)
            return
        waits.append(delay)
        await anyio.lowlevel.checkpoint()

    return sleep
