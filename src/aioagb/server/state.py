"""What a route handler works with: the server's shared state and one authenticated call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import attrs
from aiohttp import web

from . import envelope
from .auth import KeyRing
from .config import ServerConfig
from .persistence import Persistence
from .registry import Registry, SessionRecord


@attrs.frozen
class AppState:
    """What every handler shares: the server's settings, its API keys, its sessions and
    its contexts."""

    config: ServerConfig
    keyring: KeyRing
    registry: Registry
    persistence: Persistence


STATE = web.AppKey("aioagb_state", AppState)


@attrs.frozen
class Call:
    """One authenticated, parsed request: handlers never touch raw bytes or headers."""

    request: web.Request
    state: AppState
    request_id: str
    tenant: str
    query: Mapping[str, str]
    body: Mapping[str, object]  # {} for GET and for an empty POST body

    @property
    def registry(self) -> Registry:
        """The server's session registry."""
        return self.state.registry

    @property
    def persistence(self) -> Persistence:
        """The server's contexts: store, syncs, URL signer."""
        return self.state.persistence

    def session(
        self, session_id: str, *, deleting_ok: bool = False, touch: bool = True
    ) -> SessionRecord:
        """The caller's live session `session_id` (see `Registry.lookup`)."""
        return self.registry.lookup(self.tenant, session_id, deleting_ok=deleting_ok, touch=touch)

    def ok(self, data: object, extra: Mapping[str, object] | None = None) -> web.Response:
        """A success envelope for this request."""
        return envelope.success(self.request_id, data, extra)


# What ROUTES maps a path and method to.
RouteHandler = Callable[[Call], Awaitable[web.Response]]
