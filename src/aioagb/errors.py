"""The exceptions aioagb raises.

Two families of API live side by side in aioagb, and this is the one rule that tells them
apart:

* The **seed-parity methods** (`create`, `get`, `list`, `delete`, `session.info()`,
  `session.code.run()`, `session.file.read()`, ... — the names of the official synchronous
  SDK) never raise for a failure the server reports. They return a result object with
  `success`, `error_message` and `request_id`, exactly as the official SDK does.
* The **async-native API** (`agb.session(...)`, `agb.open_session(...)`, `session.aclose()`,
  `create_many`, `SessionPool`, `iter_sessions`, `delete_all`) raises the exceptions below.

Both families raise for misuse that no server could fix: invalid arguments
(`InvalidArgumentError`, also a `ValueError`), a missing key (`ConfigurationError`) and a
closed client (`ClientClosedError`).

Every exception carries the request id of the exchange that failed (empty when no request
was sent), the server's business code and the HTTP status. The API key never appears in any
text here: messages are built from server replies and our own words only.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import attrs

E = TypeVar("E", bound="AGBError")


class AGBError(Exception):
    """Base class of every aioagb error."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str = "",
        code: str = "",
        http_status: int | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.code = code
        self.http_status = http_status
        # What the server said beyond the error text (a command's exit code and output, a
        # status reply's fields): the seed-parity result of the failed call carries them.
        self.details: Mapping[str, object] = dict(details or {})

    @classmethod
    def caused_by(cls: type[E], message: str, cause: AGBError, **fields: Any) -> E:
        """An error of this type reporting `cause`: its request id, code and HTTP status are
        kept (raise it `from cause`)."""
        return cls(
            message,
            request_id=cause.request_id,
            code=cause.code,
            http_status=cause.http_status,
            **fields,
        )

    def prefixed(self, prefix: str) -> AGBError:
        """This error with `prefix` in front of its message (for context such as "Failed to
        get session s-1: "); the same type, fields and cause."""
        error = copy.copy(self)
        error.message = prefix + self.message
        error.args = (error.message,)
        return error

    def __str__(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("code", self.code),
                ("http_status", self.http_status),
                ("request_id", self.request_id),
            )
            if value
        ]
        return f"{self.message} ({', '.join(parts)})" if parts else self.message


class ConfigurationError(AGBError):
    """The client cannot be configured: no API key, or an unusable endpoint or timeout."""


class InvalidArgumentError(AGBError, ValueError):
    """An argument is invalid; nothing was sent."""


class ClientClosedError(AGBError):
    """The `AsyncAGB` client was closed; make a new one."""


class TransportError(AGBError):
    """The request did not get an HTTP answer: connection refused, reset, or dropped."""


class ConnectError(TransportError):
    """The connection could not be opened: the request certainly did not reach the server."""


class RequestTimeoutError(TransportError):
    """No answer within the client's request timeout (not the code or idle timeouts)."""


class APIError(AGBError):
    """The server answered with a failure envelope."""


class AuthenticationError(APIError):
    """The server refused the API key (HTTP 401/403)."""


class NotFoundError(APIError):
    """The session (or route) does not exist, or belongs to another key."""


class RateLimitedError(APIError):
    """HTTP 429: too many requests, or a quota of live sessions is used up.

    `retry_after` is the server's `Retry-After` in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        request_id: str = "",
        code: str = "",
        http_status: int | None = 429,
        retry_after: float | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(
            message, request_id=request_id, code=code, http_status=http_status, details=details
        )
        self.retry_after = retry_after


class ServerError(APIError):
    """HTTP 5xx, or a reply that is not the protocol's envelope."""


class SessionError(AGBError):
    """A session-level operation of the async-native API failed."""


class BrowserError(SessionError):
    """`session.browser` cannot do what was asked: it is not initialized, or the server gave
    no CDP endpoint (the official `agb.exceptions.BrowserError`)."""


class SessionCreateError(SessionError):
    """A session could not be created. `cause` is the underlying error, when there is one."""


class SessionDeleteError(SessionError):
    """A session could not be deleted (it may still be running on the server)."""

    def __init__(
        self,
        message: str,
        *,
        session_id: str = "",
        request_id: str = "",
        code: str = "",
        http_status: int | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(
            message, request_id=request_id, code=code, http_status=http_status, details=details
        )
        self.session_id = session_id


class ToolError(SessionError):
    """A tool call (code, command, file) failed in the async-native API."""


@attrs.frozen(slots=True)
class BatchFailure:
    """One failed creation of a batch: which one (`index` of the `count`) and why."""

    index: int
    error: Exception


class SessionBatchError(SessionError):
    """An all-or-nothing batch failed, and the sessions it had created were cleaned up.

    `failures` lists each failed creation (`.index`, `.error`); `errors` holds just the
    exceptions, for callers that prefer to re-raise them as an `ExceptionGroup`.
    `deleted` holds the ids of the sessions the batch created and then deleted;
    `not_deleted` the ids whose delete failed too: those may still exist on the server.
    """

    def __init__(
        self,
        message: str,
        failures: Sequence[BatchFailure],
        *,
        deleted: Sequence[str] = (),
        not_deleted: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.failures = tuple(failures)
        self.errors = tuple(f.error for f in failures)
        self.deleted = tuple(deleted)
        self.not_deleted = tuple(not_deleted)


class PoolClosedError(AGBError):
    """The pool is closed (or closing) and hands out no more sessions."""


class PoolTimeoutError(AGBError, TimeoutError):
    """No session became free within the pool's `acquire_timeout`."""


class ContextSyncError(SessionError):
    """A context sync of a session failed (a task reported `Failed`) or did not finish in
    time: the files may not be where the sync was to put them. `details["context_status_data"]`
    holds the tasks as last read, when there are any."""


class FileTransferError(SessionError):
    """A file upload or download through a pre-signed URL failed: the PUT or GET did not
    succeed, or the local file is missing or could not be written."""


class ClearanceTimeoutError(AGBError, TimeoutError):
    """`agb.context.clear()` did not see the context become available in time (the
    official name; the clearing may still finish on the server)."""


def add_note(error: BaseException, note: str) -> None:
    """`error.add_note(note)`, also on Python 3.10."""
    if sys.version_info >= (3, 11):
        error.add_note(note)
    else:  # pragma: no cover - Python 3.10
        setattr(error, "__notes__", [*getattr(error, "__notes__", []), note])  # noqa: B010
