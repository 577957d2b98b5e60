"""`LocalServer`: AGB Local started and stopped as an async context manager.

`async with LocalServer() as server:` listens on an ephemeral loopback port with one fresh
random API key (`server.endpoint`, `server.api_key`); leaving the block stops the server,
ends every sandbox and removes the temporary workspace root it made. Enter and leave it in
the same task (as `async with` does).

Stopping (`stop()`, or leaving the block): no new connections; requests in progress get
`shutdown_grace_s` to finish while new ones on open connections get a 503 envelope
(`draining`); then aiohttp cuts off what is left, and every session is ended. `skip_grace()`
(a second SIGTERM or SIGINT to `aioagb serve`) ends the wait at once.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import secrets
from functools import partial
from pathlib import Path
from types import TracebackType

import anyio
from aiohttp import web

from .app import build_app
from .auth import KeyRing, tenant_id_of
from .config import ServerConfig
from .connections import ConnectionGate
from .draining import DRAIN
from .log_throttle import throttle_accept_errors
from .sandbox import SandboxBackend
from .state import STATE
from .workspace_roots import TemporaryRoot, claim_temporary_root

log = logging.getLogger("aioagb.server")

# After the grace, aiohttp waits this long for a handler to finish, twice (before and after
# cancelling it), then cancels it for good: the grace itself is over by then.
CUT_OFF_WAIT_S = 0.1
# Connections may use at most this share of the process's open-file limit; sandboxes' pipes,
# files and logs need the rest.
CONNECTIONS_SHARE_OF_FILES = 0.5


async def open_backend(config: ServerConfig, root: Path) -> SandboxBackend:
    """The backend `config.backend` names, made by the sandbox package's factory (which also
    removes a previous run's leftover workspaces under `root`)."""
    from .sandbox import make_backend

    factory = partial(
        make_backend,
        root,
        config.limits,
        prefer=config.backend,
        python=config.python,
        warm_sandboxes=config.warm_sandboxes,
        warm_sandboxes_max=config.warm_sandboxes_max,
    )
    backend: SandboxBackend = await anyio.to_thread.run_sync(factory)
    return backend


def connections_cap(configured: int) -> int:
    """`configured`, or less when the open-file limit could not hold that many connections."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    budget = max(1, int(soft * CONNECTIONS_SHARE_OF_FILES))
    if budget < configured:  # common for an embedded server (a soft limit of 1,024)
        log.info(
            "at most %d connections (half the open-file limit of %d), not %d; raise the "
            "limit (ulimit -n) to allow more",
            budget,
            soft,
            configured,
        )
    return min(configured, budget)


class LocalServer:
    """AGB Local on a loopback port for the length of an `async with` block."""

    def __init__(
        self, config: ServerConfig | None = None, *, backend: SandboxBackend | None = None
    ) -> None:
        """`backend` replaces the one `config.backend` names (tests use a fake); the server
        owns it either way and closes it on exit."""
        self.config = config or ServerConfig()
        self.api_keys = self.config.api_keys or (secrets.token_urlsafe(32),)
        self._backend = backend
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._gate: ConnectionGate | None = None
        self._temporary_root: TemporaryRoot | None = None
        self._port: int | None = None
        self._grace_skipped = False
        self._stopped = False
        self._grace: anyio.CancelScope | None = None  # the wait that skip_grace() cancels

    @property
    def api_key(self) -> str:
        """A key the server accepts (the first configured, or the generated one)."""
        return self.api_keys[0]

    @property
    def port(self) -> int:
        """The port the server listens on (while it runs)."""
        if self._port is None:
            raise RuntimeError("LocalServer is not running; use `async with LocalServer()`")
        return self._port

    @property
    def endpoint(self) -> str:
        """The base URL for clients, e.g. `http://127.0.0.1:43817` (AGB_ENDPOINT)."""
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def backend(self) -> SandboxBackend:
        """The sandbox backend (while the server runs): for tests and operators, e.g. its
        warm sandboxes."""
        if self._backend is None:
            raise RuntimeError("LocalServer is not running; use `async with LocalServer()`")
        return self._backend

    def live_sessions(self, api_key: str | None = None) -> int:
        """How many sessions the server holds now (all tenants, or the one of `api_key`).

        For tests, demos and operators: it answers from the server's own registry, not
        through the protocol, so it can tell whether a client leaked a session.
        """
        if self._runner is None:
            raise RuntimeError("LocalServer is not running; use `async with LocalServer()`")
        registry = self._runner.app[STATE].registry
        if api_key is None:
            return len(registry)
        return registry.count(tenant_id_of(api_key))

    async def __aenter__(self) -> LocalServer:
        try:
            await self._start()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self._stop()

    async def stop(self) -> None:
        """Stops the server now, gracefully (see the module's docstring); the block's exit
        then has nothing left to do. Idempotent."""
        with anyio.CancelScope(shield=True):
            await self._stop()

    def skip_grace(self) -> None:
        """Makes a stop in progress (or the next) cut off the requests still in progress now
        instead of waiting out the grace. Callable from any task of the server's loop."""
        self._grace_skipped = True
        if self._grace is not None:
            self._grace.cancel()

    async def _start(self) -> None:
        throttle_accept_errors()
        root = self.config.workspace_root
        if root is None:
            self._temporary_root = await anyio.to_thread.run_sync(claim_temporary_root)
            root = self._temporary_root.path
        backend = self._backend or await open_backend(self.config, root)
        self._backend = backend
        app = build_app(self.config, KeyRing(self.api_keys), backend)
        self._runner = web.AppRunner(
            app,
            shutdown_timeout=CUT_OFF_WAIT_S,
            keepalive_timeout=self.config.keepalive_timeout_s,
        )
        await self._runner.setup()  # from here on, cleanup ends the backend
        assert self._runner.server is not None
        self._gate = ConnectionGate(
            self._runner.server,
            per_client=self.config.max_connections_per_client,
            total=connections_cap(self.config.max_connections),
            first_request_timeout_s=self.config.keepalive_timeout_s,
        )
        # Our own listener instead of a `web.TCPSite`: its protocol factory is the gate.
        self._listener = await asyncio.get_running_loop().create_server(
            self._gate, self.config.host, self.config.port, backlog=self.config.listen_backlog
        )
        self._port = int(self._listener.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        runner, self._runner, self._port = self._runner, None, None
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()  # no new connections
        if runner is not None:
            await self._drain(runner)
            await runner.cleanup()  # cuts off what is left, ends every session and the backend
        elif self._backend is not None:
            await self._backend.aclose()  # the app never started, so nothing else will
        if self._gate is not None:
            self._gate.close_refusals()
        if listener is not None:
            with anyio.move_on_after(CUT_OFF_WAIT_S * 10):
                await listener.wait_closed()
        if self._temporary_root is not None:
            await anyio.to_thread.run_sync(self._temporary_root.release)
            self._temporary_root = None

    async def _drain(self, runner: web.AppRunner) -> None:
        """Gives the requests in progress the grace to finish (unless skipped); new requests
        meanwhile are refused with a 503."""
        drain = runner.app[DRAIN]
        drain.begin()
        grace_s = 0.0 if self._grace_skipped else self.config.shutdown_grace_s
        with anyio.move_on_after(grace_s) as self._grace:
            await drain.wait()
        if drain.in_progress:
            log.warning("stopping: cutting off %d request(s) still in progress", drain.in_progress)
