"""The protocol's reply envelope (agb-wire.md §2), and the one exception handlers raise to
answer with an error.

Every reply AGB Local sends, success or failure, is built here, so the envelope's keys and
quirks (empty `message` on success, `httpStatusCode` mirroring the status, a non-empty
`requestId` in the body and the `x-request-id` header) live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .. import _protocol as p

# Business codes AGB Local uses for its own errors. The cloud's exact codes are unknown
# (agb-wire.md §11) except the session-not-found ones, which live in `_protocol`.
CODE_INVALID_PARAMETER = "InvalidParameter"
CODE_UNAUTHORIZED = "InvalidApiKey.NotFound"
CODE_ROUTE_NOT_FOUND = "InvalidAction.NotFound"
CODE_METHOD_NOT_ALLOWED = "InvalidAction.MethodNotAllowed"
CODE_BODY_TOO_LARGE = "InvalidParameter.BodyTooLarge"
CODE_BODY_TIMEOUT = "RequestTimeout.Body"
CODE_TOO_MANY_CONNECTIONS = "ServiceUnavailable.TooManyConnections"
CODE_SERVER_STOPPING = "ServiceUnavailable.Stopping"
CODE_IMAGE_NOT_FOUND = "InvalidImageId.NotFound"
CODE_TOOL_NOT_FOUND = "InvalidTool.NotFound"
CODE_NOT_SUPPORTED = "NotSupported.AgbLocal"
CODE_INTERNAL = "InternalError"
CODE_SESSION_QUOTA = "Throttling.SessionQuotaExceeded"

NOT_ON_AGB_LOCAL = "not available on AGB Local"


class ApiError(Exception):
    """Raised anywhere below a handler to answer with an error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message: str, code: str = CODE_INVALID_PARAMETER) -> ApiError:
    """A 400 for malformed input (`InvalidParameter` unless `code` says otherwise)."""
    return ApiError(400, code, message)


def session_not_found() -> ApiError:
    """The cloud's exact reply for an unknown, released or foreign session."""
    # §2: the delete poller and the idle tests recognise exactly this reply.
    return ApiError(400, p.CODE_SESSION_NOT_FOUND, p.SESSION_NOT_FOUND_MESSAGE)


def not_on_agb_local(what: str) -> ApiError:
    """A 400 saying that `what` exists on the cloud but not on AGB Local."""
    # 400, not 501: a 5xx would make retrying clients (ours included) try again for nothing.
    return ApiError(400, CODE_NOT_SUPPORTED, f"{what} is {NOT_ON_AGB_LOCAL}")


def session_quota_exceeded(limit: int) -> ApiError:
    """A 429 for a key that holds `limit` live sessions already."""
    # 429 like the cloud's own limits: the SDK backs off and retries within its budget,
    # and a pool or batch sees a typed RateLimitedError if the quota never frees up.
    return ApiError(
        429,
        CODE_SESSION_QUOTA,
        f"Session quota exceeded: at most {limit} live sessions per API key",
    )


def success(
    request_id: str, data: object, extra: Mapping[str, object] | None = None
) -> web.Response:
    """A success envelope around `data`, with `extra` keys beside it at the top level."""
    body: dict[str, object] = {
        p.KEY_SUCCESS: True,
        p.KEY_CODE: p.CODE_OK,
        p.KEY_MESSAGE: "",
        p.KEY_HTTP_STATUS: 200,
        p.KEY_REQUEST_ID: request_id,
        p.KEY_DATA: data,
    }
    if extra:
        body.update(extra)
    return _json(body, 200, request_id)


def failure(request_id: str, error: ApiError) -> web.Response:
    """The error envelope for `error`, with its HTTP status."""
    return _json(failure_body(request_id, error), error.status, request_id)


def failure_body(request_id: str, error: ApiError) -> dict[str, object]:
    """The error envelope's JSON object (for replies written below aiohttp, too)."""
    return {
        p.KEY_SUCCESS: False,
        p.KEY_CODE: error.code,
        p.KEY_MESSAGE: error.message,
        p.KEY_HTTP_STATUS: error.status,
        p.KEY_REQUEST_ID: request_id,
        p.KEY_DATA: None,
    }


def _json(body: Mapping[str, object], status: int, request_id: str) -> web.Response:
    return web.json_response(body, status=status, headers={p.HEADER_REQUEST_ID: request_id})
