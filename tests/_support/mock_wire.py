"""Helpers for the SDK core unit tests: a fake server on aioagb's `MockTransport`, no network.

`Wire` answers each request with the first route registered for its method and path (any
query string), like a scripted server, and keeps every request in the order it was sent, with
its URL exactly as the SDK built it (§1.4 fixes the encoding).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.lowlevel
import attrs

from aioagb import (
    AsyncAGB,
    ConnectError,
    MockTransport,
    RequestTimeoutError,
    RetryPolicy,
    TransportError,
    TransportRequest,
    TransportResponse,
)

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
    timeout: float = 0.0  # this attempt's request timeout, in seconds

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


Callback = Callable[[TransportRequest], Awaitable[Any]]


@attrs.define
class Route:
    method: str
    pattern: re.Pattern[str]
    status: int = 200
    payload: Any = None
    body: str | bytes | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    exception: BaseException | None = None
    timeout: bool = False
    repeat: bool = False
    callback: Callback | None = None


class Wire:
    """A scripted fake server; each client sends through its own `new_transport()`."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.routes: list[Route] = []
        self.unmatched: list[str] = []
        self.transports: list[MockTransport] = []  # one per client, in order

    def new_transport(self) -> MockTransport:
        """A transport answered by this wire, for one client."""
        transport = MockTransport(self._answer)
        self.transports.append(transport)
        return transport

    def route(self, method: str, path: str, **kw: Any) -> None:
        """Answer `method path` (any query string) once, or `repeat=True` times.

        Options: `status`, `payload` (a JSON body), `body` (raw text), `headers`,
        `exception` (raised instead of answering), `timeout=True` (no answer in time),
        `callback` (awaited first with the request; it may stall)."""
        pattern = re.compile("^" + re.escape(BASE + path) + r"(\?.*)?$")
        self.routes.append(Route(method, pattern, **kw))

    def ok(self, method: str, path: str, data: Any = None, rid: str = "r-ok", **kw: Any) -> None:
        self.route(method, path, payload=envelope(data, rid=rid, **kw.pop("env", {})), **kw)

    def tool(self, text: str | None, *, is_error: bool = False, rid: str = "r-tool", **kw: Any):  # type: ignore[no-untyped-def]
        self.ok("POST", "/mcp", tool_data(text, is_error=is_error), rid=rid, **kw)

    def paths(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.sent]

    async def _answer(self, request: TransportRequest) -> TransportResponse:
        headers = dict(request.headers)
        self.sent.append(Sent(request.method, request.url, headers, request.body, request.timeout))
        route = next(
            (r for r in self.routes if r.method == request.method and r.pattern.match(request.url)),
            None,
        )
        if route is None:
            self.unmatched.append(f"{request.method} {request.url}")
            raise TransportError(f"{request.operation}: no route for {request.url}")
        if not route.repeat:
            self.routes.remove(route)
        if route.callback is not None:
            await route.callback(request)
        await anyio.lowlevel.checkpoint()
        if route.exception is not None:
            raise route.exception
        if route.timeout:
            raise RequestTimeoutError(
                f"{request.operation}: no answer within the request timeout of "
                f"{request.timeout:g} s"
            )
        if route.body is not None:
            content = route.body.encode() if isinstance(route.body, str) else route.body
        else:
            content = json.dumps(route.payload).encode()
        return TransportResponse(route.status, content, route.headers)


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


_CURRENT: list[Wire] = []  # the test's Wire (the `wire` fixture sets it)


def client(**kw: Any) -> AsyncAGB:
    """A client on the test's `Wire` (its MockTransport), with fast retries."""
    options: dict[str, Any] = {
        "endpoint": BASE,
        "orphan_grace": 0.01,
        "retry": FAST,
        "timeout": 5,
    }
    if _CURRENT:
        options["transport"] = _CURRENT[-1].new_transport()
    options.update(kw)
    return AsyncAGB(API_KEY, **options)


def refused() -> ConnectError:
    """What a transport raises when the connection cannot be opened (nothing was sent)."""
    return ConnectError("cannot connect: Connection refused")


def dropped() -> TransportError:
    """What a transport raises when the connection is lost mid-request."""
    return TransportError("the connection failed: ServerDisconnectedError")
