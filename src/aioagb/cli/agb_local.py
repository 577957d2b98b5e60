"""`aioagb serve`: AGB Local standalone, configured from the command line.

Loaded only when `serve` runs (see `LAZY_COMMANDS`): it imports the server at module level.
"""

from __future__ import annotations

import ipaddress
import logging
import resource
import signal
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click

from ..server.config import (
    BACKENDS,
    ENV_API_KEYS,
    ENV_DATA_DIR,
    LOOPBACK,
    MAX_WARM_SANDBOXES,
    ServerConfig,
    collect_api_keys,
    default_data_dir,
)
from ..server.faults import FaultPlan
from ..server.runner import LocalServer
from ..server.sandbox import SandboxError, SandboxLimits
from ..server.store import StoreError
from . import LAZY_COMMANDS

MIB = 1024 * 1024


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


_DEFAULT_LIMITS = SandboxLimits()
# A few sandboxes ready for a server's first sessions: each costs ~12 MiB while it waits.
SERVE_WARM_SANDBOXES = 4
# After a burst found the pool empty, it may grow this far (~200 MiB at most), so that the next
# burst of that size is served warm.
SERVE_WARM_SANDBOXES_MAX = 16
_DEFAULTS = ServerConfig()
_AT_LEAST_ONE = click.IntRange(min=1)
_POSITIVE = click.FloatRange(min=0, min_open=True)
_Command = TypeVar("_Command", bound=Callable[..., object])


def _shown(
    flag: str, kind: click.ParamType[Any], default: float, help: str
) -> Callable[[_Command], _Command]:
    """An option whose default `--help` shows."""
    return click.option(flag, type=kind, default=default, show_default=True, help=help)


@click.command(short_help=LAZY_COMMANDS["serve"].short_help)
@click.option("--host", default=LOOPBACK, show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key", "api_keys", multiple=True, help="An accepted API key (repeatable).")
@click.option(
    "--keys-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of accepted API keys, one per line.",
)
@click.option(
    "--workspace-root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where session workspaces live (cleaned on start). Default: a temporary directory.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=ENV_DATA_DIR,
    help=f"Where contexts are kept, across restarts (one server per directory; also "
    f"${ENV_DATA_DIR}).  [default: {default_data_dir()}]",
)
@click.option(
    "--storage-quota-mb",
    type=click.IntRange(min=0),
    default=(ServerConfig().storage_quota_bytes or 0) // MIB,
    show_default=True,
    help="All contexts of one API key together; past it, uploads answer 413. 0: no limit.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=ServerConfig().default_idle_timeout_s,
    show_default=True,
    help="Idle release timeout (s) for sessions created without one.",
)
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("--python", "python", help="Interpreter the sandboxes run python with.")
@_shown(
    "--warm-sandboxes",
    click.IntRange(min=0, max=MAX_WARM_SANDBOXES),
    SERVE_WARM_SANDBOXES,
    "Code-space sandboxes kept started ahead of demand (~12 MiB each); 0: none.",
)
@click.option(
    "--warm-sandboxes-max",
    type=click.IntRange(min=0, max=MAX_WARM_SANDBOXES),
    default=None,
    help="How far the pool grows while sessions find it empty (back after 10 min without "
    f"one).  [default: {SERVE_WARM_SANDBOXES_MAX}, or none with --warm-sandboxes 0]",
)
@click.option("--cpu-seconds", type=click.IntRange(min=1), default=_DEFAULT_LIMITS.cpu_seconds)
@click.option(
    "--memory-mb", type=click.IntRange(min=16), default=_DEFAULT_LIMITS.memory_bytes // MIB
)
@click.option("--max-processes", type=click.IntRange(min=1), default=_DEFAULT_LIMITS.max_processes)
@click.option(
    "--max-file-mb", type=click.IntRange(min=1), default=_DEFAULT_LIMITS.max_file_bytes // MIB
)
@click.option(
    "--max-output-kb",
    type=click.IntRange(min=1),
    default=_DEFAULT_LIMITS.max_output_bytes // 1024,
    help="Captured stdout/stderr per call, before truncation.",
)
@click.option(
    "--max-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=_DEFAULT_LIMITS.max_timeout_s,
    help="Upper bound (s) on any call's wall-clock timeout.",
)
@click.option(
    "--workspace-quota-mb",
    type=click.IntRange(min=1),
    default=_DEFAULT_LIMITS.workspace_quota_bytes // MIB,
    help="All files of one session together, checked by the file tools.",
)
@click.option(
    "--max-body-kb",
    type=click.IntRange(min=1),
    default=ServerConfig().max_body_bytes // 1024,
    help="Largest request body; larger ones get a 413 envelope.",
)
@click.option(
    "--max-sessions-per-key",
    type=click.IntRange(min=1),
    default=None,
    help="Live sessions one API key may hold; past it, creates answer 429.  [default: no limit]",
)
@_shown(
    "--max-connections-per-client",
    _AT_LEAST_ONE,
    _DEFAULTS.max_connections_per_client,
    "Open connections one client address may hold; past it, a 503 and a close.",
)
@_shown(
    "--max-connections",
    _AT_LEAST_ONE,
    _DEFAULTS.max_connections,
    "Open connections in total (at most half the open-file limit).",
)
@_shown(
    "--keepalive-timeout",
    _POSITIVE,
    _DEFAULTS.keepalive_timeout_s,
    "Seconds a connection may go without a complete request head (idle or slow).",
)
@_shown(
    "--body-timeout",
    _POSITIVE,
    _DEFAULTS.body_timeout_s,
    "Seconds to receive a request's body; past it, a 408 and a close.",
)
@_shown(
    "--backlog",
    _AT_LEAST_ONE,
    _DEFAULTS.listen_backlog,
    "Connections the kernel queues before they are accepted.",
)
@_shown(
    "--shutdown-grace",
    click.FloatRange(min=0),
    _DEFAULTS.shutdown_grace_s,
    "Seconds calls in progress get to finish when stopping; a second signal skips it.",
)
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    hidden=True,  # test-only: never on a server real users talk to
    help="Inject faults, e.g. 'create:latency=0.2,error=0.1,kinds=500+drop' (repeatable).",
)
@click.option("--fault-seed", type=int, default=0, hidden=True)
def serve(
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    keys_file: Path | None,
    workspace_root: Path | None,
    data_dir: Path | None,
    storage_quota_mb: int,
    idle_timeout: float,
    backend: str,
    python: str | None,
    warm_sandboxes: int,
    warm_sandboxes_max: int | None,
    cpu_seconds: int,
    memory_mb: int,
    max_processes: int,
    max_file_mb: int,
    max_output_kb: int,
    max_timeout: float,
    workspace_quota_mb: int,
    max_body_kb: int,
    max_sessions_per_key: int | None,
    max_connections_per_client: int,
    max_connections: int,
    keepalive_timeout: float,
    body_timeout: float,
    backlog: int,
    shutdown_grace: float,
    log_level: str,
    faults: tuple[str, ...],
    fault_seed: int,
) -> None:
    """Run AGB Local: the AGB protocol served on this machine.

    Keys come from --api-key, --keys-file and the AGB_LOCAL_API_KEYS environment variable
    (comma-separated); with none, a random key is made and printed.
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(message)s")
    _raise_open_file_limit()
    if not _is_loopback(host):
        click.secho(
            f"WARNING: listening on {host}: anyone who can reach it and holds a key can run "
            "code on this machine.",
            fg="yellow",
            err=True,
        )
    limits = SandboxLimits(
        cpu_seconds=cpu_seconds,
        memory_bytes=memory_mb * MIB,
        max_processes=max_processes,
        max_file_bytes=max_file_mb * MIB,
        max_output_bytes=max_output_kb * 1024,
        max_timeout_s=max_timeout,
        workspace_quota_bytes=workspace_quota_mb * MIB,
    )
    try:
        fault_plan = FaultPlan.parse(list(faults), seed=fault_seed) if faults else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    config = ServerConfig(
        host=host,
        port=port,
        api_keys=collect_api_keys(api_keys, keys_file),
        workspace_root=workspace_root,
        data_dir=data_dir or default_data_dir(),
        storage_quota_bytes=storage_quota_mb * MIB or None,
        limits=limits,
        default_idle_timeout_s=idle_timeout,
        backend=backend,
        python=python,
        warm_sandboxes=warm_sandboxes,
        warm_sandboxes_max=_warm_ceiling(warm_sandboxes, warm_sandboxes_max),
        max_body_bytes=max_body_kb * 1024,
        max_sessions_per_key=max_sessions_per_key,
        max_connections_per_client=max_connections_per_client,
        max_connections=max_connections,
        keepalive_timeout_s=keepalive_timeout,
        body_timeout_s=body_timeout,
        listen_backlog=backlog,
        shutdown_grace_s=shutdown_grace,
        faults=fault_plan,
    )
    try:
        anyio.run(partial(_serve, config))
    # A bad root, a taken port, no bubblewrap, a data directory in use, ...
    except (SandboxError, StoreError, OSError) as exc:
        raise click.ClickException(f"AGB Local could not start: {exc}") from None


def _warm_ceiling(floor: int, given: int | None) -> int:
    """The pool's ceiling: as given (never below the floor); by default room to grow, unless
    the pool is off (`--warm-sandboxes 0` means none at all)."""
    if given is None:
        return max(floor, SERVE_WARM_SANDBOXES_MAX) if floor else 0
    return max(floor, given)


def _raise_open_file_limit() -> None:
    """Raises this process's soft open-file limit to its hard limit: every connection and
    every sandbox's pipes take files, and the common default soft limit of 1,024 ran out
    under 1,100 idle connections. Only for `aioagb serve`, which owns its process: in an
    embedding program a higher limit could break its `select()` calls (hence the low soft
    default); there, `LocalServer` keeps its connections within the limit it finds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        logging.getLogger("aioagb.server").warning("open-file limit stays %d: %s", soft, exc)
        return
    logging.getLogger("aioagb.server").info("open-file limit raised from %s to %s", soft, hard)


async def _serve(config: ServerConfig) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with LocalServer(config) as server:
            click.echo(f"AGB Local listening on {server.endpoint}")
            click.echo(f"  export AGB_ENDPOINT={server.endpoint}")
            click.echo(f"  contexts are kept in {config.data_dir}")
            if not config.api_keys:
                click.echo(f"  export AGB_API_KEY={server.api_key}   (generated for this run)")
            else:
                count = len(server.api_keys)
                click.echo(f"  {count} API key(s) accepted (options, file, {ENV_API_KEYS})")
            click.echo("Press Ctrl-C to stop.")
            async for signum in signals:
                name = signal.Signals(signum).name
                grace = config.shutdown_grace_s
                click.echo(
                    f"\n{name}: stopping AGB Local (up to {grace:g} s for calls in progress; "
                    "send it again to stop at once)...",
                    err=True,
                )
                break
            async with anyio.create_task_group() as tg:
                tg.start_soon(_skip_grace_on_signal, signals, server)
                await server.stop()
                tg.cancel_scope.cancel()
    click.echo("AGB Local stopped.", err=True)


async def _skip_grace_on_signal(signals: AsyncIterator[int], server: LocalServer) -> None:
    """A second SIGTERM or SIGINT while stopping: cut off the calls in progress now."""
    async for signum in signals:
        click.echo(f"{signal.Signals(signum).name}: stopping at once", err=True)
        server.skip_grace()
        return
