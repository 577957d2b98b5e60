"""Per-session cgroups: a memory cap, a pids cap and a CPU quota, on cgroup v1 or v2.

Detected at start-up from /proc/self/mounts and /proc/self/cgroup (`detect`):

* **v1** (hybrid hosts, such as the project's machines): the `memory` and `pids` controllers
  (and `cpu` when mounted) each have a hierarchy; the backend makes one parent group under
  the server's own group in each, and each session a child.
* **v2** (the unified hierarchy, every modern host): one tree. A group that distributes
  controllers to children may hold no process itself, so the backend uses a *delegated
  subtree*: under the server's own group it makes `aioagb-<pid>-<n>` with the controllers
  enabled for its children, one child per session. When the server's own group holds the
  server's process (a systemd service with `Delegate=yes`), the server first moves itself
  into a leaf `aioagb-server-<pid>` beside it so that the controllers can be enabled.

v1 is used where its memory and pids controllers work (the measured facts of SANDBOX.md),
else v2 where memory and pids can be delegated; else a loud warning says that rlimits are the
only caps (RLIMIT_AS for memory, RLIMIT_NPROC for processes, RLIMIT_CPU for CPU time).

Each session that starts a process gets its child group: the OOM killer ends a memory hog,
fork fails with EAGAIN past the pids cap, and the CPU quota throttles a spinning cell. The
agent joins the child itself, before dropping privileges, by writing "0" into `cgroup.procs`
through file descriptors the server opened for it.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import logging
import os
import time
from pathlib import Path

import attrs

from .interface import SandboxLimits

log = logging.getLogger("aioagb.server.sandbox")

REQUIRED = ("memory", "pids")  # without these two, cgroups add nothing rlimits do not
CPU_PERIOD_US = 100_000
_counter = itertools.count()


# --- where the hierarchies are -----------------------------------------------------------


@attrs.frozen
class CgroupLayout:
    """This process's groups: per v1 controller, and in the unified (v2) hierarchy."""

    v1: dict[str, Path] = attrs.field(factory=dict)  # controller -> this process's group
    v2: Path | None = None  # this process's group in the unified hierarchy


def detect(mounts: str, own_groups: str) -> CgroupLayout:
    """The layout from the text of /proc/self/mounts and /proc/self/cgroup (pure)."""
    v1_mounts: dict[str, Path] = {}
    v2_mount: Path | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mount_point, kind, options = Path(fields[1]), fields[2], fields[3].split(",")
        if kind == "cgroup2":
            v2_mount = mount_point
        elif kind == "cgroup":
            for option in options:
                v1_mounts[option] = mount_point
    v1: dict[str, Path] = {}
    v2: Path | None = None
    for line in own_groups.splitlines():
        hierarchy, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        if not hierarchy:
            continue
        relative = path.lstrip("/")
        if hierarchy == "0" and names == "" and v2_mount is not None:
            v2 = v2_mount / relative
        for name in names.split(","):
            if name in v1_mounts:
                v1[name] = v1_mounts[name] / relative
    return CgroupLayout(v1=v1, v2=v2)


def current_layout() -> CgroupLayout:
    """This process's layout on this machine (empty when /proc cannot be read)."""
    try:
        mounts = Path("/proc/self/mounts").read_text()
        own = Path("/proc/self/cgroup").read_text()
    except OSError:
        return CgroupLayout()
    return detect(mounts, own)


# --- a backend's groups and a session's --------------------------------------------------


@attrs.define
class Cgroups:
    """The groups of a backend (parent) or of one session (child).

    `dirs` maps each v1 controller to its directory; on v2 it has the one key "unified".
    """

    dirs: dict[str, Path]
    version: int = 1

    @classmethod
    def setup(cls, tag: str, layout: CgroupLayout | None = None) -> Cgroups | None:
        """The backend's parent groups, or None (with a loud warning) when no controller
        set is usable here."""
        layout = current_layout() if layout is None else layout
        name = f"aioagb-{os.getpid()}-{next(_counter)}-{_safe(tag)}"
        made = _setup_v1(layout, name) or _setup_v2(layout, name)
        if made is None:
            log.warning(
                "!!! no usable cgroup controllers (v1 memory+pids, or a v2 subtree where "
                "memory and pids can be delegated): sessions are capped by rlimits only "
                "(RLIMIT_AS for memory, RLIMIT_NPROC for processes, RLIMIT_CPU for CPU "
                "time). See docs/sandbox.md to delegate a cgroup v2 subtree. !!!"
            )
            return None
        # A server that exits without closing its backend should not leave groups behind.
        atexit.register(_remove_all, dict(made.dirs))
        return made

    def child(self, name: str, limits: SandboxLimits) -> Cgroups:
        """A session's groups, with its limits written."""
        dirs = {key: parent / name for key, parent in self.dirs.items()}
        for directory in dirs.values():
            directory.mkdir(exist_ok=True)
        child = Cgroups(dirs, self.version)
        if self.version == 2:
            child._limit_v2(limits)
        else:
            child._limit_v1(limits)
        return child

    def _limit_v1(self, limits: SandboxLimits) -> None:
        memory = self.dirs["memory"]
        (memory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
        with contextlib.suppress(OSError):  # only with swap accounting
            (memory / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
        (self.dirs["pids"] / "pids.max").write_text(str(limits.max_processes))
        if "cpu" in self.dirs and limits.cpu_cores is not None:
            quota = int(limits.cpu_cores * CPU_PERIOD_US)
            (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))

    def _limit_v2(self, limits: SandboxLimits) -> None:
        group = self.dirs["unified"]
        (group / "memory.max").write_text(str(limits.memory_bytes))
        with contextlib.suppress(OSError):  # only with swap accounting
            (group / "memory.swap.max").write_text("0")
        (group / "pids.max").write_text(str(limits.max_processes))
        if limits.cpu_cores is not None and (group / "cpu.max").exists():
            quota = int(limits.cpu_cores * CPU_PERIOD_US)
            (group / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")

    def open_procs(self) -> list[int]:
        """Write-only fds of `cgroup.procs`, handed to the agent so that it joins them."""
        fds: list[int] = []
        try:
            for directory in self.dirs.values():
                fds.append(os.open(directory / "cgroup.procs", os.O_WRONLY))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def remove(self) -> None:
        """Kill what is left in the groups (v2: `cgroup.kill`) and remove them."""
        _remove_all(self.dirs)

    def read(self, controller: str, name: str) -> str:
        """A control file's content, e.g. ("memory", "memory.current") on v2."""
        key = "unified" if self.version == 2 else controller
        return (self.dirs[key] / name).read_text().strip()


def _setup_v1(layout: CgroupLayout, name: str) -> Cgroups | None:
    if not all(controller in layout.v1 for controller in REQUIRED):
        return None
    dirs: dict[str, Path] = {}
    for controller in (*REQUIRED, "cpu"):
        parent = layout.v1.get(controller)
        if parent is None or not (parent / "cgroup.procs").exists():
            if controller in REQUIRED:
                log.info("cgroup v1 controller %r not usable here", controller)
                _remove_all(dirs)
                return None
            continue
        _remove_stale(parent)
        try:
            (parent / name).mkdir()
        except OSError as exc:
            log.info("cannot create cgroups under %s (%s)", parent, exc)
            if controller in REQUIRED:
                _remove_all(dirs)
                return None
            continue
        dirs[controller] = parent / name
    return Cgroups(dirs, version=1)


def _setup_v2(layout: CgroupLayout, name: str) -> Cgroups | None:
    base = layout.v2
    if base is None or not (base / "cgroup.controllers").exists():
        return None
    available = set(_words(base / "cgroup.controllers"))
    if not set(REQUIRED) <= available:
        log.info("cgroup v2 at %s offers %s, not memory and pids", base, sorted(available))
        return None
    _remove_stale(base)
    wanted = [c for c in (*REQUIRED, "cpu") if c in available]
    if not _delegate(base, wanted):
        return None
    parent = base / name
    try:
        parent.mkdir()
        _write_words(parent / "cgroup.subtree_control", [f"+{c}" for c in wanted])
    except OSError as exc:
        log.info("cannot delegate cgroup v2 controllers under %s (%s)", parent, exc)
        _remove_all({"unified": parent})
        return None
    return Cgroups({"unified": parent}, version=2)


def _delegate(base: Path, controllers: list[str]) -> bool:
    """Enable `controllers` for the children of `base`. A group with processes cannot do
    that (v2's no-internal-process rule): when the server is its only process, the server
    moves into a leaf of its own first."""
    control = base / "cgroup.subtree_control"
    enabled = set(_words(control))
    if set(controllers) <= enabled:
        return True
    try:
        _write_words(control, [f"+{c}" for c in controllers])
        return True
    except OSError as exc:
        if exc.errno != errno.EBUSY:
            log.info("cannot enable cgroup v2 controllers at %s (%s)", base, exc)
            return False
    members = _words(base / "cgroup.procs")
    if members != [str(os.getpid())]:
        log.info("cgroup v2 group %s holds other processes; cannot delegate from it", base)
        return False
    leaf = base / f"aioagb-server-{os.getpid()}"
    try:
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
        _write_words(control, [f"+{c}" for c in controllers])
    except OSError as exc:
        log.info("cannot delegate cgroup v2 controllers from %s (%s)", base, exc)
        return False
    return True


# --- small helpers -------------------------------------------------------------------------


def _safe(tag: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in tag)[:40]


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def _write_words(path: Path, words: list[str]) -> None:
    path.write_text(" ".join(words))


def _remove_dir(path: Path, tries: int = 50) -> None:
    """rmdir a group, children first; its processes may need a moment to die after a kill."""
    if not path.is_dir():
        return
    for child in sorted(path.glob("*/"), reverse=True):
        if (child / "cgroup.procs").exists():
            _remove_dir(child, tries)
    with contextlib.suppress(OSError):
        (path / "cgroup.kill").write_text("1")  # v2: SIGKILL everything left inside
    for _ in range(tries):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
    log.warning("could not remove cgroup %s", path)


def _remove_all(dirs: dict[str, Path]) -> None:
    for directory in dirs.values():
        _remove_dir(directory)


def _remove_stale(parent: Path) -> None:
    """Groups a dead server left behind (aioagb-<pid>-..., aioagb-server-<pid>)."""
    with contextlib.suppress(OSError):
        for entry in parent.glob("aioagb-*"):
            pid = (
                entry.name.split("-")[-1]
                if entry.name.startswith("aioagb-server-")
                else (entry.name.split("-")[1])
            )
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _remove_dir(entry, tries=5)
