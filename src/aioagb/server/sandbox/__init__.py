"""AGB Local's sandboxes: `make_backend` picks and builds the backend (bubblewrap where it
works, a loudly unsafe plain-process fallback elsewhere); the contract the HTTP layer relies on
is re-exported here from `interface`. See docs/sandbox.md.

The parts: `interface` (the contract), `backend` (LocalBackend, LocalSandbox), `channel` (the
JSON-lines channel to a session's agent), `replies` (what its replies mean), `bwrap`
(bubblewrap's arguments and where sync paths may go), `hostfiles` (a session's files from the
host, for context sync), `uids` (the uid lease), `warm` (sandboxes started ahead of demand),
`cgroups`, `runtimes` (the languages this machine runs), and `agent/`, the package that runs
inside each sandbox (standard library only, copied into the server's runtime directory).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from .backend import LocalBackend, LocalSandbox
from .bwrap import checked_sync_path, isolation_flags
from .hostfiles import HostFile, SessionFiles
from .interface import (
    WORKSPACE_DIR,
    CodeRun,
    DirEntry,
    FileChange,
    FileEdit,
    FileStat,
    OutputChunk,
    RichOutput,
    Sandbox,
    SandboxBackend,
    SandboxError,
    SandboxFileError,
    SandboxLimits,
    SandboxMetrics,
    SandboxUnavailable,
    ShellOutcome,
    StreamEvent,
)

log = logging.getLogger("aioagb.server.sandbox")

__all__ = [
    "WORKSPACE_DIR",
    "CodeRun",
    "DirEntry",
    "FileChange",
    "FileEdit",
    "FileStat",
    "HostFile",
    "LocalBackend",
    "LocalSandbox",
    "OutputChunk",
    "RichOutput",
    "Sandbox",
    "SandboxBackend",
    "SandboxError",
    "SandboxFileError",
    "SandboxLimits",
    "SandboxMetrics",
    "SandboxUnavailable",
    "SessionFiles",
    "ShellOutcome",
    "StreamEvent",
    "bwrap_works",
    "checked_sync_path",
    "make_backend",
]


def bwrap_works() -> bool:
    """Whether bubblewrap can make this server's kind of sandbox here (probed, ~5 ms)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    argv = [bwrap, *isolation_flags(os.geteuid() == 0), "--ro-bind", "/", "/", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if done.returncode != 0:
        log.info("bubblewrap probe failed: %s", done.stderr.decode(errors="replace").strip())
    return done.returncode == 0


def make_backend(
    root: Path,
    limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen, so sharing is safe
    *,
    prefer: str = "auto",
    python: str | None = None,
    warm_sandboxes: int = 0,
    warm_sandboxes_max: int | None = None,
) -> LocalBackend:
    """The server's sandbox backend, with its sessions under `root`.

    `prefer`: "auto" (bubblewrap when its probe succeeds, else the plain fallback with a loud
    warning), "bwrap" (fail if it does not work) or "plain" (never isolate; unsafe).
    `python`: a venv built from /usr/bin/python3 to run user python in instead of the system
    one (`--system-site-packages` keeps the system's IPython and data stack); it is mounted
    read-only at /opt/venv. `warm_sandboxes`: code-space sandboxes kept started ahead of
    demand (`warm`), once the server runs `keep_warm`, growing up to `warm_sandboxes_max`
    while sessions find the pool empty. Leftovers of a previous run under
    `root` are removed. Blocking (a probe and a directory clean-up): call it before serving.
    """
    if prefer not in ("auto", "bwrap", "plain"):
        raise ValueError(f"prefer must be 'auto', 'bwrap' or 'plain', not {prefer!r}")
    mode = "plain" if prefer == "plain" else "bwrap"
    if mode == "bwrap" and not bwrap_works():
        if prefer == "bwrap":
            raise SandboxError("bubblewrap is not installed or cannot create namespaces here")
        mode = "plain"
    if mode == "plain":
        log.warning(
            "!!! AGB Local runs sessions WITHOUT a sandbox (bubblewrap is %s): user code can "
            "see the host's files, processes and network. Use it only for trusted code on a "
            "development machine. Install bubblewrap for isolation. !!!",
            "not wanted" if prefer == "plain" else "unavailable",
        )
    venv = None if python is None else _venv_dir(python)
    backend = LocalBackend(
        Path(root),
        limits,
        mode,
        venv=venv,
        warm_sandboxes=warm_sandboxes,
        warm_sandboxes_max=warm_sandboxes_max,
    )
    log.info(
        "sandbox backend %s at %s (languages: %s, cgroups: %s)",
        backend.name,
        root,
        ", ".join(backend.languages),
        "yes" if backend.cgroups else "no",
    )
    return backend


def _venv_dir(python: str) -> Path:
    """The virtual environment `python` names: its directory, or an interpreter inside it."""
    venv = Path(python)
    if venv.name.startswith("python") and venv.parent.name == "bin":
        venv = venv.parent.parent  # an interpreter inside a venv was given
    if not (venv / "bin" / "python").exists():
        raise SandboxError(f"not a virtual environment: {python}")
    return venv
