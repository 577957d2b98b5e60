"""The agent's configuration (the server sends it as the agent's first line) and confining the
agent process with it: the session's cgroups, its rlimits and its uid."""

from __future__ import annotations

import contextlib
import os
import resource
import sys

from .errors import FileError
from .jsonlines import JSONDict

WORKSPACE = "/workspace"
TMP = "/tmp"


class Config:
    """Where the session's roots really are, which interpreters to run, the limits to apply."""

    def __init__(self, raw: JSONDict) -> None:
        self.load(raw)

    def load(self, raw: JSONDict) -> None:
        """Takes the server's configuration, replacing every value (the agent's CONFIG is one
        object that every module shares, so it is loaded in place)."""
        # Sandbox root -> where it really is (identity under bubblewrap).
        self.roots: dict[str, str] = dict(raw.get("roots") or {WORKSPACE: WORKSPACE, TMP: TMP})
        self.python: str = raw.get("python") or sys.executable
        self.node: str | None = raw.get("node")
        self.java: str | None = raw.get("java")
        self.rscript: str | None = raw.get("rscript")
        # The session's memory cap (the JVM is told its heap from it).
        self.memory: int = int(raw.get("memory_bytes", 1 << 30))
        self.env: dict[str, str] = dict(raw.get("env") or {})
        self.max_output: int = int(raw.get("max_output_bytes", 1024 * 1024))
        self.quota: int = int(raw.get("workspace_quota_bytes", 1 << 30))
        self.limits: dict[str, int] = dict(raw.get("rlimits") or {})
        self.uid: int | None = raw.get("uid")
        self.cgroup_fds: list[int] = list(raw.get("cgroup_fds") or [])

    def real(self, sandbox_path: str) -> str:
        """Sandbox path (absolute, normalised) -> real path of this process's view."""
        for root, real in self.roots.items():
            if sandbox_path == root:
                return real
            if sandbox_path.startswith(root + "/"):
                return real + sandbox_path[len(root) :]
        raise FileError(f"Path is outside the session's directories: {sandbox_path}")

    def sandbox(self, real_path: str) -> str:
        """Inverse of `real` for paths known to be inside a root."""
        for root, real in self.roots.items():
            if real_path == real:
                return root
            if real_path.startswith(real + "/"):
                return root + real_path[len(real) :]
        return real_path


CONFIG = Config({})  # loaded in place by `rpc.agent_main`, before any request

_RLIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}


def confine_self(cfg: Config) -> None:
    """Join the session's cgroups, lower rlimits and drop to the session's uid (if given)."""
    for fd in cfg.cgroup_fds:
        # "0" moves the writing process; children inherit the cgroup.
        with contextlib.suppress(OSError):
            os.write(fd, b"0")
        os.close(fd)
    for name, value in cfg.limits.items():
        which = _RLIMITS[name]
        _soft, hard = resource.getrlimit(which)
        new = value if hard == resource.RLIM_INFINITY else min(value, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (new, new))
    if cfg.uid is not None and os.getuid() != cfg.uid:
        os.setgroups([])
        os.setgid(cfg.uid)
        os.setuid(cfg.uid)
        if os.getuid() != cfg.uid or os.geteuid() != cfg.uid:
            raise SystemExit("could not drop privileges")
    os.umask(0o022)
    os.chdir(cfg.real(WORKSPACE))
