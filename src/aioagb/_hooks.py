"""Instrumentation: hooks for tracing and metrics, and structured log records.

`Hooks` holds plain callables that the client calls inline, in the event loop, for every
HTTP attempt, every retry and every session created or deleted. The same events are logged
at DEBUG with their fields in `record.aioagb` (a dict a JSON formatter can dump as is). No
event carries the API key or a header: nothing a hook sees or a record holds is secret.

A hook that raises is logged and ignored: instrumentation never breaks a request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import attrs

from ._protocol.replies import Reply
from ._protocol.requests import ApiRequest
from .errors import AGBError

logger = logging.getLogger("aioagb")
transport_logger = logging.getLogger("aioagb.transport")


@attrs.frozen(slots=True)
class RequestEvent:
    """One HTTP attempt: answered (`status` set) or failed without an answer (`error` set)."""

    operation: str  # the protocol's name for the request: "createSession", "CallMcpTool", ...
    method: str
    status: int | None  # HTTP status; None when no answer arrived
    duration_s: float
    request_id: str  # the server's request id; empty without an answer
    attempt: int  # 1 for the first try, 2 for the first retry, ...
    error: AGBError | None = None  # the transport failure, when there was no answer


@attrs.frozen(slots=True)
class RetryEvent:
    """A request is about to be sent again."""

    operation: str
    attempt: int  # the attempt about to be sent (2, 3, ...)
    reason: str  # why the previous one failed: "HTTP 503", "ConnectError", ...
    waited_s: float  # the backoff between the previous attempt's end and this one


@attrs.frozen(slots=True)
class SessionEvent:
    """A session was created or deleted (also: found already gone by a delete)."""

    session_id: str
    request_id: str
    image_id: str = ""  # set on creation


E = TypeVar("E")
Hook = Callable[[E], object]
RequestHook = Callable[[RequestEvent], object]
RetryHook = Callable[[RetryEvent], object]
SessionHook = Callable[[SessionEvent], object]


def _hook_tuple(value: Hook[E] | Iterable[Hook[E]] | None) -> tuple[Hook[E], ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    return tuple(value)


# One converter per event type, so that `Hooks(...)` is typed for its callers.
def _request_hooks(value: RequestHook | Iterable[RequestHook] | None) -> tuple[RequestHook, ...]:
    return _hook_tuple(value)


def _retry_hooks(value: RetryHook | Iterable[RetryHook] | None) -> tuple[RetryHook, ...]:
    return _hook_tuple(value)


def _session_hooks(value: SessionHook | Iterable[SessionHook] | None) -> tuple[SessionHook, ...]:
    return _hook_tuple(value)


@attrs.frozen(slots=True)
class Hooks:
    """Callables for instrumentation; each field takes one callable or a sequence of them.

        AsyncAGB(hooks=Hooks(on_request=record_latency, on_retry=count_retry))

    Hooks run inline in the event loop and must not block: to do I/O, hand the event to a
    queue or a memory object stream.
    """

    on_request: tuple[RequestHook, ...] = attrs.field(default=(), converter=_request_hooks)
    on_retry: tuple[RetryHook, ...] = attrs.field(default=(), converter=_retry_hooks)
    on_session_created: tuple[SessionHook, ...] = attrs.field(default=(), converter=_session_hooks)
    on_session_deleted: tuple[SessionHook, ...] = attrs.field(default=(), converter=_session_hooks)


def _fields(event: RequestEvent | RetryEvent | SessionEvent, kind: str) -> dict[str, object]:
    fields: dict[str, object] = {"event": kind, **attrs.asdict(event, recurse=False)}
    if isinstance(fields.get("error"), AGBError):
        fields["error"] = type(fields["error"]).__name__
    return fields


class Observer:
    """Delivers events to the hooks and to the loggers."""

    def __init__(self, hooks: Hooks | None) -> None:
        self.hooks = hooks or Hooks()

    def _emit(self, hooks: tuple[Hook[E], ...], event: E) -> None:
        for hook in hooks:
            try:
                hook(event)
            except Exception:
                logger.warning("an aioagb hook raised; ignored", exc_info=True)

    def reports_requests(self) -> bool:
        return bool(self.hooks.on_request) or transport_logger.isEnabledFor(logging.DEBUG)

    def request(self, event: RequestEvent) -> None:
        if transport_logger.isEnabledFor(logging.DEBUG):
            status = event.status if event.status is not None else type(event.error).__name__
            transport_logger.debug(
                "%s %s -> %s in %.3f s (attempt %d, request id %s)",
                event.method,
                event.operation,
                status,
                event.duration_s,
                event.attempt,
                event.request_id or "-",
                extra={"aioagb": _fields(event, "request")},
            )
        self._emit(self.hooks.on_request, event)

    def retry(self, event: RetryEvent) -> None:
        logger.debug(
            "retrying %s (attempt %d) after %s, waited %.3f s",
            event.operation,
            event.attempt,
            event.reason,
            event.waited_s,
            extra={"aioagb": _fields(event, "retry")},
        )
        self._emit(self.hooks.on_retry, event)

    def session_created(self, event: SessionEvent) -> None:
        logger.debug(
            "session %s created", event.session_id, extra={"aioagb": _fields(event, "created")}
        )
        self._emit(self.hooks.on_session_created, event)

    def session_deleted(self, event: SessionEvent) -> None:
        logger.debug(
            "session %s deleted", event.session_id, extra={"aioagb": _fields(event, "deleted")}
        )
        self._emit(self.hooks.on_session_deleted, event)

    def attempts(self, request: ApiRequest) -> AttemptTracker:
        return AttemptTracker(self, request)


class AttemptTracker:
    """Times each attempt of one request; reports it, and the retry that follows a failure."""

    def __init__(self, observer: Observer, request: ApiRequest) -> None:
        self._observer = observer
        self._request = request
        self._last_failure = ""
        self._last_end = 0.0

    async def send(self, attempt: int, send: Callable[[], Awaitable[Reply]]) -> Reply:
        request = self._request
        started = time.monotonic()
        if attempt > 1:
            waited = started - self._last_end
            self._observer.retry(RetryEvent(request.operation, attempt, self._last_failure, waited))
        try:
            reply = await send()
        except AGBError as exc:
            self._finish(attempt, started, None, "", exc)
            self._last_failure = type(exc).__name__
            raise
        self._finish(attempt, started, reply.status, reply.request_id, None)
        self._last_failure = f"HTTP {reply.status}"
        return reply

    def _finish(
        self,
        attempt: int,
        started: float,
        status: int | None,
        request_id: str,
        error: AGBError | None,
    ) -> None:
        self._last_end = time.monotonic()
        if not self._observer.reports_requests():
            return  # no hook, no debug log: skip building the event (every request pays it)
        event = RequestEvent(
            self._request.operation,
            self._request.method,
            status,
            self._last_end - started,
            request_id,
            attempt,
            error,
        )
        self._observer.request(event)
