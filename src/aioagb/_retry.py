"""When a request is sent again, and after how long. The loop itself is stamina's.

What is retried:

* a connection that could not be opened (nothing reached the server): every request;
* HTTP 429: every request, `create` included (the server refused, nothing was made), after
  the server's `Retry-After` when it gave one — unless that is longer than
  `RetryPolicy.max_retry_after`, then the 429 is returned at once (quota exhaustion is not
  waited out);
* HTTP 5xx, a dropped connection, a request timeout: only requests that are safe to repeat
  (`Request.idempotent`). `create` and tool calls with side effects (code, shell, writes)
  are not: the server may already have acted. A failed or unanswered `create` is instead
  cleaned up through its create token (see `_orphans`).
"""

from __future__ import annotations

import attrs

from ._wire import Reply, Request
from .errors import RequestTimeoutError, TransportError


@attrs.frozen(slots=True)
class RetryPolicy:
    """Exponential backoff with jitter (stamina's), bounded in attempts and in total time."""

    attempts: int = 4  # first try included; 1 disables retries
    wait_initial: float = 0.1
    wait_max: float = 5.0
    wait_jitter: float = 0.5
    budget: float = 60.0  # total seconds across attempts and waits
    max_retry_after: float = 30.0


class RetryableReply(Exception):
    """Raised inside the retry loop for a reply worth another attempt; carries the reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


def retryable_status(request: Request, reply: Reply) -> bool:
    return reply.status == 429 or (reply.status >= 500 and request.idempotent)


def backoff_hook(request: Request, policy: RetryPolicy) -> object:
    """stamina's `on=`: False (do not retry), True (its own backoff) or seconds to wait."""
    from ._transport import ConnectError

    def decide(exc: Exception) -> bool | float:
        if isinstance(exc, RetryableReply):
            after = exc.reply.retry_after
            if exc.reply.status == 429 and after is not None:
                return after if after <= policy.max_retry_after else False
            return True
        if isinstance(exc, ConnectError):
            return True
        if isinstance(exc, TransportError | RequestTimeoutError):
            return request.idempotent
        return False

    return decide
