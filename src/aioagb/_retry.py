"""When a request is sent again, and after how long. The loop itself is stamina's (`_engine`).

What is retried:

* a connection that could not be opened (nothing reached the server): every request;
* HTTP 429: every request, `create` included (the server refused, nothing was made), after
  the server's `Retry-After` when it gave one — unless that is longer than
  `RetryPolicy.max_retry_after`, then the 429 is returned at once (quota exhaustion is not
  waited out);
* HTTP 5xx, a dropped connection, a request timeout: only requests that are safe to repeat
  (`ApiRequest.idempotent`). `create` and tool calls with side effects (code, shell, writes)
  are not: the server may already have acted. A failed or unanswered `create` is instead
  cleaned up through its create token (see `_many.orphans`) and tried again whole.

Every request, its retries and the waits between them included, ends within
`RetryPolicy.budget` seconds: each attempt's timeout is cut to what is left of the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import attrs

from ._protocol.replies import Reply
from ._protocol.requests import ApiRequest
from .errors import ConnectError, RequestTimeoutError, TransportError


@attrs.frozen(slots=True)
class RetryPolicy:
    """Exponential backoff with jitter (stamina's), bounded in attempts and in total time.

    `attempts` counts the first try (1 disables retries); `budget` bounds a request's whole
    life in seconds, attempts and waits together; a 429 whose `Retry-After` exceeds
    `max_retry_after` is returned at once instead of waited out.
    """

    attempts: int = 4
    wait_initial: float = 0.1
    wait_max: float = 5.0
    wait_jitter: float = 0.5
    budget: float = 60.0
    max_retry_after: float = 30.0


class StaminaBackoff(TypedDict):
    attempts: int
    wait_initial: float
    wait_max: float
    wait_jitter: float


def stamina_backoff(policy: RetryPolicy) -> StaminaBackoff:
    """The policy as stamina's `retry_context` arguments (attempts and waits)."""
    return StaminaBackoff(
        attempts=policy.attempts,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
        wait_jitter=policy.wait_jitter,
    )


class RetryableReply(Exception):
    """Raised inside the retry loop for a reply worth another attempt; carries the reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


def retryable_status(request: ApiRequest, reply: Reply) -> bool:
    """Whether this HTTP answer is worth another attempt (429 always, 5xx if idempotent)."""
    return reply.status == 429 or (reply.status >= 500 and request.idempotent)


def backoff_hook(request: ApiRequest, policy: RetryPolicy) -> Callable[[Exception], bool | float]:
    """stamina's `on=`: False (do not retry), True (its own backoff) or seconds to wait."""

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
