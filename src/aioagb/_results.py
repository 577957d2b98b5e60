"""The one adapter between the two API families (see `aioagb.errors`).

Every operation is written once, in raising style: it returns its result object on success
and raises a typed `AGBError` on failure. The seed-parity methods wrap it with `seed()`, which
turns the error into the official SDK's failed result (`success=False`, `error_message`,
`request_id`), with the error itself in `result.exception` and whatever the server said
beyond the message (`AGBError.details`: an exit code, a status) in the result's own fields.
Misuse that no server could fix (invalid arguments, a closed client) still raises.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import attrs

from .errors import AGBError, ClientClosedError, InvalidArgumentError
from .models import ApiResponse

R = TypeVar("R", bound=ApiResponse)


async def seed(result_type: type[R], operation: Awaitable[R]) -> R:
    """Await a raising operation; a failure becomes a `result_type` with `success=False`."""
    try:
        return await operation
    except (ClientClosedError, InvalidArgumentError):
        raise
    except AGBError as exc:
        return failed(result_type, exc)


def failed(result_type: type[R], error: AGBError) -> R:
    """The failed `result_type` that reports `error`."""
    names = {field.name for field in attrs.fields(result_type)}
    fields: dict[str, object] = {
        "request_id": error.request_id,
        "error_message": error.message,
        "exception": error,
    }
    fields.update((name, value) for name, value in error.details.items() if name in names)
    return result_type(success=False, **fields)  # type: ignore[arg-type]
