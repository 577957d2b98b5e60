"""The outermost middleware: a request id for every reply, and every failure turned into the
protocol's envelope.

`ApiError` becomes its own 4xx; aiohttp's HTTP exceptions (an oversized body, for example)
become a 4xx envelope with a clear message; anything unexpected is logged here with its
traceback and answered with a bare 500 envelope that names only the request id.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from .. import _protocol as p
from . import envelope
from .envelope import ApiError

log = logging.getLogger("aioagb.server")

# The current request's id. Each request is handled in its own task, hence its own context;
# a context variable avoids the request's dict, whose typed keys need a recent aiohttp.
_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("aioagb_request_id")

# What an aiohttp middleware calls next: the inner middlewares and the handler.
NextHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def current_request_id() -> str:
    """The id of the request being handled ("" outside a request)."""
    return _REQUEST_ID.get("")


def new_request_id() -> str:
    """A fresh request id, as every reply carries one."""
    return f"local-{uuid.uuid4().hex}"


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return ApiError(413, envelope.CODE_BODY_TOO_LARGE, "Request body is too large")
    if isinstance(exc, web.HTTPNotFound):
        return ApiError(404, envelope.CODE_ROUTE_NOT_FOUND, "No such API route")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return ApiError(405, envelope.CODE_METHOD_NOT_ALLOWED, "Method not allowed here")
    status = exc.status if 400 <= exc.status < 500 else 400
    return ApiError(status, envelope.CODE_INVALID_PARAMETER, exc.reason or "Bad request")


@web.middleware
async def envelope_errors(request: web.Request, handler: NextHandler) -> web.StreamResponse:
    """The outermost middleware: gives the request its id and turns every failure into an
    envelope."""
    request_id = new_request_id()
    _REQUEST_ID.set(request_id)
    try:
        response = await handler(request)
    except ApiError as exc:
        response = envelope.failure(request_id, exc)
    except web.HTTPException as exc:
        response = envelope.failure(request_id, _from_http_exception(exc))
    except ConnectionResetError:
        # The client went away mid-request (cancelled, timed out): nobody to answer, and
        # nothing wrong with the server, so no traceback in its log.
        log.debug("request %s: the client disconnected", request_id)
        gone = ApiError(400, envelope.CODE_INVALID_PARAMETER, "The client disconnected")
        response = envelope.failure(request_id, gone)
    except Exception:
        log.exception("request %s (%s %s) failed", request_id, request.method, request.path)
        internal = ApiError(
            500, envelope.CODE_INTERNAL, f"Internal server error (request id {request_id})"
        )
        response = envelope.failure(request_id, internal)
    if not response.prepared:
        if p.HEADER_REQUEST_ID not in response.headers:
            response.headers[p.HEADER_REQUEST_ID] = request_id
        if not request.content.is_eof():
            # Answered before its body fully arrived (refused, timed out): the rest could take
            # as long as the client likes, and the next request cannot start before it.
            response.force_close()
    return response
