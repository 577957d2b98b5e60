"""The request engine: headers, the transport, the stamina retry loop and the hook observer.

Everything that talks to the server goes through one `Engine`: the client facade, sessions
and their modules, batches, listings and the pool. It raises; it never turns a failure into
a value (the seed-parity result objects are made from its errors by `_results.seed`).

* `send()` returns any HTTP answer (retrying what `_retry` says is worth retrying) and raises
  `TransportError` (or a subclass) when no answer came, `ClientClosedError` after `aclose()`.
* `expect()` is `send()` plus the success test most routes use (HTTP status and the
  envelope's `success`), raising the typed `APIError` of a failed reply.
"""

from __future__ import annotations

import time

import aiohttp
import stamina

from . import _protocol as p
from ._config import ClientConfig
from ._hooks import Hooks, Observer
from ._protocol.replies import Reply, reply_error
from ._protocol.requests import ApiRequest
from ._retry import (
    RetryableReply,
    RetryPolicy,
    backoff_hook,
    retryable_status,
    stamina_backoff,
)
from ._version import __version__
from .errors import AGBError, ClientClosedError, RequestTimeoutError
from .transports import Transport, TransportRequest


class Engine:
    """Sends the protocol's requests for one client (see the module docstring)."""

    def __init__(
        self,
        config: ClientConfig,
        transport: Transport,
        *,
        retry: RetryPolicy | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.retry = retry or RetryPolicy()
        self.observer = Observer(hooks)
        self._headers = {
            p.HEADER_AUTHORIZATION: p.BEARER_PREFIX + config.api_key,
            "Content-Type": "application/json",
            "User-Agent": f"aioagb/{__version__}",
        }
        self._closed = False
        self._own_http: aiohttp.ClientSession | None = None  # see http_session()

    @property
    def closed(self) -> bool:
        """Whether `aclose()` was called: every later request raises `ClientClosedError`."""
        return self._closed

    @property
    def request_timeout(self) -> float:
        """The client's request timeout in seconds (one attempt's whole exchange)."""
        return self.config.request_timeout_s

    async def aclose(self) -> None:
        """Refuse further requests and close the transport. Safe to call twice."""
        if not self._closed:
            self._closed = True
            own, self._own_http = self._own_http, None
            try:
                await self.transport.aclose()
            finally:
                if own is not None:
                    await own.close()

    def http_session(self) -> aiohttp.ClientSession:
        """An aiohttp session for plain HTTP outside the protocol: the PUT and GET of
        pre-signed file URLs (§14), which carry no authorization header. The transport's own
        session when it has one (`AiohttpTransport.client_session()`), else one made on first
        use and closed with the client."""
        if self._closed:
            raise ClientClosedError("This AsyncAGB client is closed; create a new one.")
        shared = getattr(self.transport, "client_session", None)
        if callable(shared):
            session = shared()
            if isinstance(session, aiohttp.ClientSession):
                return session
        if self._own_http is None:
            self._own_http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self._own_http

    async def expect(
        self,
        request: ApiRequest,
        fallback: str,
        *,
        exactly_200: bool = False,
        timeout: float | None = None,
    ) -> Reply:
        """`send()`, then the common success test: `success` true with HTTP < 400 (or exactly
        200). A failed reply raises its typed error, with the server's message or `fallback`
        (`{status}` in it becomes the HTTP status)."""
        reply = await self.send(request, timeout=timeout)
        if reply.success and (reply.status == 200 or not exactly_200):
            return reply
        raise reply_error(reply, reply.error_text(fallback.format(status=reply.status)))

    async def send(self, request: ApiRequest, *, timeout: float | None = None) -> Reply:
        """Send with retries; any HTTP answer is returned, a failure without one raises.

        `timeout` replaces the client's request timeout for this request (a tool call whose
        execution takes longer). The whole call, retries and waits included, stays within
        `RetryPolicy.budget`, or within one attempt's timeout when that is longer."""
        if self._closed:
            raise ClientClosedError("This AsyncAGB client is closed; create a new one.")
        policy = self.retry
        started = time.monotonic()
        per_attempt = timeout or self.request_timeout
        budget = max(policy.budget, per_attempt)
        attempts = self.observer.attempts(request)

        async def attempt(num: int) -> Reply:
            left = budget - (time.monotonic() - started) if num > 1 else per_attempt
            if left <= 0:
                raise RequestTimeoutError(
                    f"{request.operation}: the retry budget of {budget:g} s is spent"
                )
            wire = self._wire_request(request, min(per_attempt, left))
            sent = await attempts.send(num, lambda: self._exchange(wire))
            if retryable_status(request, sent):
                raise RetryableReply(sent)
            return sent

        # The first attempt runs outside stamina: setting up its retry loop costs more than a
        # loopback request (benchmarks/, docs/benchmarks.md), and most requests need no retry.
        try:
            return await attempt(1)
        except RetryableReply as failure:
            first_failure: Exception = failure
        except AGBError as failure:
            first_failure = failure
        left = budget - (time.monotonic() - started)
        decide = backoff_hook(request, policy)
        if policy.attempts <= 1 or left <= 0 or decide(first_failure) is False:
            return _give_up(first_failure)
        try:
            async for retry in stamina.retry_context(
                on=decide, timeout=left, **stamina_backoff(policy)
            ):
                with retry:
                    if retry.num == 1:
                        raise first_failure  # replayed, so that stamina decides and waits
                    return await attempt(retry.num)
        except RetryableReply as exhausted:
            return exhausted.reply
        raise AssertionError("unreachable: stamina re-raises the last failure")

    def _wire_request(self, request: ApiRequest, timeout: float) -> TransportRequest:
        return TransportRequest(
            method=request.method,
            url=request.url(self.config.endpoint),
            headers=self._headers,
            body=request.body,
            timeout=timeout,
            operation=request.operation,
        )

    async def _exchange(self, wire: TransportRequest) -> Reply:
        answer = await self.transport.send(wire)
        return Reply.decode(answer.status, answer.content, answer.headers)


def _give_up(failure: Exception) -> Reply:
    if isinstance(failure, RetryableReply):
        return failure.reply
    raise failure
