"""Per-session cgroups (v1 `memory` and `pids`), where the machine offers them to root.

Detected at start-up: on the project's machines the hierarchy is hybrid, with v1 `memory` and
`pids` controllers writable by root and a v2 tree without them. Each backend makes one parent
group under the server's own cgroup; each session that starts a process gets a child with a
memory cap (the OOM killer ends a hog) and a pids cap (fork fails with EAGAIN). The agent
joins the child itself, before dropping privileges, by writing "0" into `cgroup.procs`
through file descriptors the server opened for it. Without cgroups, rlimits are the only caps.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import time
from pathlib import Path

import attrs

from .interface import SandboxLimits

log = logging.getLogger("aioagb.server.sandbox")

V1_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")
_counter = itertools.count()


def _own_path(controller: str) -> str | None:
    """This process's cgroup path for a v1 controller, from /proc/self/cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return None


def _remove_dir(path: Path, tries: int = 50) -> None:
    """rmdir a cgroup; its processes may need a moment to finish dying after SIGKILL."""
    if not path.exists():
        return
    for child in sorted(path.glob("*/"), reverse=True) if path.is_dir() else ():
        if child.is_dir() and (child / "cgroup.procs").exists():
            _remove_dir(child, tries)
    for _ in range(tries):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
    log.warning("could not remove cgroup %s", path)


@attrs.define
class Cgroups:
    """One directory per controller: a backend's parent group, or a session's child."""

    dirs: dict[str, Path]

    @classmethod
    def setup(cls, tag: str) -> Cgroups | None:
        """The backend's parent groups, or None when v1 memory+pids are not usable here."""
        dirs: dict[str, Path] = {}
        safe_tag = "".join(c if c.isalnum() else "_" for c in tag)[:40]
        name = f"aioagb-{os.getpid()}-{next(_counter)}-{safe_tag}"
        for ctrl in CONTROLLERS:
            own = _own_path(ctrl)
            base = V1_ROOT / ctrl
            if own is None or not (base / "cgroup.procs").exists():
                log.info("cgroup v1 controller %r not available; rlimits only", ctrl)
                _cleanup(dirs)
                return None
            parent = base / own.lstrip("/")
            _remove_stale(parent)
            mine = parent / name
            try:
                mine.mkdir()
            except OSError as exc:
                log.info("cannot create cgroups under %s (%s); rlimits only", parent, exc)
                _cleanup(dirs)
                return None
            dirs[ctrl] = mine
        # A server that exits without closing its backend should not leave groups behind.
        atexit.register(_cleanup, dict(dirs))
        return cls(dirs)

    def child(self, name: str, limits: SandboxLimits) -> Cgroups:
        """A session's groups under this backend's, with its memory and pids caps written."""
        dirs = {ctrl: parent / name for ctrl, parent in self.dirs.items()}
        for d in dirs.values():
            d.mkdir(exist_ok=True)
        mem = dirs["memory"]
        (mem / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
        with contextlib.suppress(OSError):  # only with swap accounting
            (mem / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
        (dirs["pids"] / "pids.max").write_text(str(limits.max_processes))
        return Cgroups(dirs)

    def open_procs(self) -> list[int]:
        """Write-only fds of `cgroup.procs`, handed to the agent so that it joins them."""
        fds: list[int] = []
        try:
            for d in self.dirs.values():
                fds.append(os.open(d / "cgroup.procs", os.O_WRONLY))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def remove(self) -> None:
        """Removes the groups (waiting briefly for killed processes to leave them)."""
        _cleanup(self.dirs)

    def read(self, controller: str, name: str) -> str:
        """One control file's value, e.g. `read("pids", "pids.max")`."""
        return (self.dirs[controller] / name).read_text().strip()


def _cleanup(dirs: dict[str, Path]) -> None:
    for d in dirs.values():
        _remove_dir(d)


def _remove_stale(parent: Path) -> None:
    """Groups a dead server left behind (aioagb-<pid>-...)."""
    with contextlib.suppress(OSError):
        for entry in parent.glob("aioagb-*"):
            pid = entry.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _remove_dir(entry, tries=5)
