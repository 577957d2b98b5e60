"""bubblewrap's argument list for one session: isolation flags, system mounts, the generated
/etc files, the session's own mounts, and reading the sandbox's pid from its --info-fd."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .interface import WORKSPACE_DIR, SandboxError, SandboxLimits

TMP_DIR = "/tmp"
AGENT_DIR = "/opt/agb"  # where the agent is mounted inside the sandbox
VENV_DIR = "/opt/venv"  # where an optional venv for user code is mounted
# The session's own directories: a sync path inside one needs no mount of its own.
SESSION_ROOTS = (WORKSPACE_DIR, TMP_DIR)
# The sandbox's system directories (read-only, generated or kernel file systems): a sync
# path may be neither one of them, nor inside one, nor above one (that would hide it).
SYSTEM_DIRS = (
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/proc", "/dev", "/sys",
    AGENT_DIR, VENV_DIR,
)  # fmt: skip
MAX_SYNC_PATH_CHARS = 1024


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def checked_sync_path(raw: str) -> str:
    """A context's mount path (agb-wire.md §13.6) made canonical, or `SandboxError` saying
    why a sandbox cannot have one there. Any absolute path works except the system
    directories and their ancestors: `/home/user/data`, `/workspace/x`, `/tmp/y`, `/data`."""
    if not raw.startswith("/"):
        raise SandboxError(f"a sync path must be absolute: {raw!r}")
    if len(raw) > MAX_SYNC_PATH_CHARS or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise SandboxError(f"not a usable sync path: {raw[:100]!r}")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise SandboxError(f"a sync path must not contain '..': {raw}")
    path = "/" + "/".join(parts)
    for system in SYSTEM_DIRS:
        if _within(path, system) or _within(system, path):
            raise SandboxError(f"{path} is (or holds) the sandbox's system directory {system}")
    if any(_within(root, path) and root != path for root in SESSION_ROOTS):
        raise SandboxError(f"{path} would hide the session's own directories")
    return path


def needs_bind(sync_path: str) -> bool:
    """Whether a (checked) sync path lies outside the session's own directories, so the
    sandbox needs a directory of the session bound there."""
    return not any(_within(sync_path, root) for root in SESSION_ROOTS)


def isolation_flags(as_root: bool) -> list[str]:
    """Namespaces and capabilities. As root there is no user namespace: bubblewrap mounts as
    root and the agent drops to the session's uid itself (it keeps only CAP_SETUID/SETGID
    for that, and loses them with the switch). A plain user needs a user namespace."""
    common = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    common += ["--unshare-cgroup-try"]
    if as_root:
        return [*common, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*common, "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]


def system_mounts() -> list[str]:
    """The host's /usr and its /bin, /lib* links or dirs, and a few /etc entries, read-only."""
    # Parents that bubblewrap would make implicitly come out mode 700 when it runs as root.
    out = ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/opt"]
    out += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32"):
        host = f"/{name}"
        if os.path.islink(host):
            out += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            out += ["--ro-bind", host, host]
    for path in ("/etc/alternatives", "/etc/ssl", "/etc/ld.so.cache", "/etc/localtime"):
        out += ["--ro-bind-try", path, path]
    return out


def etc_files(uid: int | None) -> dict[str, bytes]:
    """The /etc files the sandbox gets instead of the host's: one `sandbox` user and group."""
    n = os.getuid() if uid is None else uid
    return {
        "/etc/passwd": f"sandbox:x:{n}:{n}:sandbox:{WORKSPACE_DIR}:/bin/sh\n".encode(),
        "/etc/group": f"sandbox:x:{n}:\n".encode(),
        "/etc/hosts": b"127.0.0.1 localhost sandbox\n::1 localhost\n",
    }


def data_fd(content: bytes) -> int:
    """A pipe's read end holding `content`, for `--ro-bind-data`."""
    r, w = os.pipe()
    try:
        os.write(w, content)  # small: fits in the pipe buffer
    finally:
        os.close(w)
    return r


def bwrap_argv(
    *,
    as_root: bool,
    session_dir: Path,
    agent_root: Path,
    venv: Path | None,
    limits: SandboxLimits,
    etc_fds: Mapping[str, int],
    info_fd: int,
    command: Sequence[str],
    sync_binds: Sequence[tuple[str, Path]] = (),
) -> list[str]:
    """The whole bubblewrap command line that runs `command` in a session's sandbox:
    `session_dir`'s workspace and tmp at /workspace and /tmp, `agent_root` read-only at
    AGENT_DIR, the optional venv read-only at VENV_DIR, and each (sync path, host directory)
    of `sync_binds` bound read-write at its path."""
    argv = ["bwrap", "--info-fd", str(info_fd), *isolation_flags(as_root)]
    argv += ["--die-with-parent", "--new-session", "--clearenv"]
    argv += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8"]
    argv += ["--setenv", "HOME", WORKSPACE_DIR, "--hostname", "sandbox"]
    argv += system_mounts()
    for dest, fd in etc_fds.items():
        argv += ["--perms", "0644", "--ro-bind-data", str(fd), dest]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(limits.tmp_size_bytes // 4), "--tmpfs", "/dev/shm"]
    argv += ["--bind", str(session_dir / "workspace"), WORKSPACE_DIR]
    argv += ["--bind", str(session_dir / "tmp"), TMP_DIR]
    argv += _sync_mounts(sync_binds)
    argv += ["--ro-bind", str(agent_root), AGENT_DIR]
    if venv is not None:
        argv += ["--ro-bind", str(venv), VENV_DIR]
    # `command` starts in AGENT_DIR (`python -m` finds the agent there); the agent enters
    # /workspace once it is the session's uid.
    argv += ["--chdir", AGENT_DIR, "--"]
    return argv + list(command)


def _sync_mounts(binds: Sequence[tuple[str, Path]]) -> list[str]:
    # Outer paths first, so a nested sync path is bound inside its parent's mount. The
    # parents bubblewrap makes on the way are root's, 0755: only the sync path itself is
    # the session's.
    out: list[str] = []
    for path, host in sorted(binds, key=lambda bind: bind[0].count("/")):
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            out += ["--perms", "0755", "--dir", "/" + "/".join(parts[:depth])]
        out += ["--bind", str(host), path]
    return out


def read_child_pid(fd: int) -> int | None:
    """bubblewrap's --info-fd JSON, written before the sandbox starts (so before the agent's
    ready line): {"child-pid": N, ...}."""
    os.set_blocking(fd, False)
    try:
        info = json.loads(os.read(fd, 65536))
        pid = info.get("child-pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) and pid > 1 else None
