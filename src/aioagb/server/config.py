"""AGB Local's settings: one attrs class with every default, and where API keys come from."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from .. import _protocol as p
from .faults import FaultPlan
from .sandbox import SandboxLimits

ENV_API_KEYS = "AGB_LOCAL_API_KEYS"  # comma-separated
ENV_DATA_DIR = "AGB_LOCAL_DATA_DIR"  # `aioagb serve --data-dir`'s default, when set
BACKENDS = ("auto", "bwrap", "plain")
LOOPBACK = "127.0.0.1"
DEFAULT_STORAGE_QUOTA_BYTES: int | None = 10 * 1024 * 1024 * 1024  # per API key


# Each waiting sandbox holds ~12 MiB and a uid of the server's block: a bound that catches a
# typo (an extra zero) before it fills the machine.
MAX_WARM_SANDBOXES = 1000


@attrs.frozen
class ServerConfig:
    """How one AGB Local server runs. Every field has a safe default."""

    host: str = LOOPBACK  # loopback: the server runs code for whoever can reach it
    port: int = 0  # 0: an ephemeral port, read back from `LocalServer.endpoint`
    # Accepted API keys. Empty: `LocalServer` makes one fresh random key.
    api_keys: tuple[str, ...] = ()
    # Where session workspaces live. None: a fresh temporary directory, removed on exit.
    # A directory given here is cleaned of a previous run's leftovers on start.
    workspace_root: Path | None = attrs.field(
        default=None, converter=attrs.converters.optional(Path)
    )
    limits: SandboxLimits = attrs.field(factory=SandboxLimits)
    # Idle release timeout when a create request names none (the cloud's default).
    default_idle_timeout_s: float = attrs.field(
        default=float(p.DEFAULT_IDLE_RELEASE_TIMEOUT_S), validator=attrs.validators.gt(0)
    )
    backend: str = attrs.field(default="auto", validator=attrs.validators.in_(BACKENDS))
    python: str | None = None  # the interpreter sandboxes run; None: the backend's choice
    # Code-space sandboxes started ahead of demand (agent and python kernel running): a
    # session's first use takes one, so its first call answers at once. 0: every sandbox
    # starts on its session's first call. The embedded server's default is 0 (tests start
    # many servers);
    # `AsyncAGB.local()` and `aioagb serve` start a few (docs/sandbox.md, "Warm sandboxes").
    warm_sandboxes: int = attrs.field(
        default=0, validator=[attrs.validators.ge(0), attrs.validators.le(MAX_WARM_SANDBOXES)]
    )
    # How far the pool may grow while sessions find it empty (one more per such session; back
    # to `warm_sandboxes` after 10 minutes without one). None: it stays at `warm_sandboxes`.
    warm_sandboxes_max: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.le(MAX_WARM_SANDBOXES)),
    )

    @warm_sandboxes_max.validator
    def _at_least_the_floor(self, _attribute: object, value: int | None) -> None:
        if value is not None and value < self.warm_sandboxes:
            raise ValueError(
                f"warm_sandboxes_max ({value}) must be at least warm_sandboxes "
                f"({self.warm_sandboxes})"
            )

    max_body_bytes: int = attrs.field(default=4 * 1024 * 1024, validator=attrs.validators.gt(0))
    reaper_interval_s: float = attrs.field(default=1.0, validator=attrs.validators.gt(0))
    max_list_results: int = attrs.field(default=100, validator=attrs.validators.gt(0))
    # Upper bound on ending one sandbox; a stuck release must not hang the server.
    release_timeout_s: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    # Live sessions one API key may hold at once; None: no limit. Past it, creates answer
    # 429 with `CODE_SESSION_QUOTA` (back-pressure the client can see and wait on).
    max_sessions_per_key: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.gt(0))
    )
    # --- connections (docs/security.md "Connections"): what one client, or anyone who can
    # reach the port without a key, may hold of the server.
    # Open connections per client address and in total. Past either cap a new connection
    # gets a 503 envelope and is closed. The total is also kept under half the process's
    # open-file limit, so that connections alone can never exhaust the server's files.
    max_connections_per_client: int = attrs.field(default=512, validator=attrs.validators.gt(0))
    max_connections: int = attrs.field(default=4096, validator=attrs.validators.gt(0))
    # A connection that has not delivered a complete request head this long after it opened,
    # or after its previous reply, is closed: idle keep-alive and slow headers alike.
    keepalive_timeout_s: float = attrs.field(default=75.0, validator=attrs.validators.gt(0))
    # Time to receive one request's whole body once its head is in; past it, a 408 envelope
    # and the connection is closed (a body trickling in byte by byte holds nothing forever).
    body_timeout_s: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    # Connections the kernel queues before the server accepts them (capped by somaxconn).
    listen_backlog: int = attrs.field(default=1024, validator=attrs.validators.gt(0))
    # How long stopping waits for requests in progress before cutting them off; requests that
    # arrive meanwhile get a 503 envelope. A second SIGTERM/SIGINT skips the rest of it.
    shutdown_grace_s: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    # Where contexts (§13) are kept: SQLite metadata and file contents, durable across
    # restarts. None: a fresh temporary directory, removed on exit (the embedded server's
    # default; `aioagb serve` defaults to `default_data_dir()`). One server per directory.
    data_dir: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    # Bytes one API key's contexts may hold, all together; None: no limit. Past it, uploads
    # answer 413 (`QuotaExceeded.Storage`) and syncs end `Failed`.
    storage_quota_bytes: int | None = attrs.field(
        default=DEFAULT_STORAGE_QUOTA_BYTES,
        validator=attrs.validators.optional(attrs.validators.gt(0)),
    )
    # How long a pre-signed upload or download URL of a context file stays valid.
    presigned_url_ttl_s: float = attrs.field(default=3600.0, validator=attrs.validators.gt(0))
    # How often the store drops expired files (recycle policies) and empties its trash.
    store_maintenance_interval_s: float = attrs.field(
        default=60.0, validator=attrs.validators.gt(0)
    )
    # Test-only fault injection (see `faults`); never set this for real users.
    faults: FaultPlan | None = None


# `AsyncAGB.local()`'s warm sandboxes when given no config: one program's first sessions.
LOCAL_WARM_SANDBOXES = 2


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where `aioagb serve` keeps contexts unless told otherwise: the per-user data directory
    (`$XDG_DATA_HOME/aioagb`, else `~/.local/share/aioagb`)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aioagb"


def collect_api_keys(
    given: Iterable[str] = (),
    keys_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """Keys from `--api-key` values, a keys file (one per line, `#` comments) and the
    `AGB_LOCAL_API_KEYS` environment variable (comma-separated), de-duplicated in order."""
    keys = [key.strip() for key in given]
    if keys_file is not None:
        for line in keys_file.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                keys.append(line)
    env = os.environ if environ is None else environ
    keys.extend(part.strip() for part in env.get(ENV_API_KEYS, "").split(","))
    return tuple(dict.fromkeys(key for key in keys if key))


LOCAL_KEY_FILE = "local-api-key"


def local_api_key(data_dir: Path) -> str:
    """The key `AsyncAGB.local(data_dir=...)` uses with that directory, made on first use.

    Contexts belong to the key that made them, and an embedded server otherwise makes a fresh
    key on every start: a key kept next to the contexts (mode 600) is what lets the next
    `local(data_dir=...)` see them again."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / LOCAL_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        raise ValueError(f"{path} is empty; remove it to make a new key") from None
    key = secrets.token_urlsafe(32)
    try:
        os.write(fd, key.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return key
