"""The file operations, run here as the session's uid and (under bubblewrap) in the sandbox's
own mount namespace: sandbox paths confined to the session's roots after resolving symlinks,
then read, write, stat, list, make, move, delete, edit, search and change tracking.

A failed write never costs the file it was writing: an overwrite or edit goes to a staging
file beside its target that replaces it by an atomic rename only once written (on a full disk
the original stays whole), and an append that fails is cut back to the file's old length.
Staging files are removed on every failure path, and errors name the user's path only.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fnmatch
import os
import stat
import threading
from collections.abc import Iterator, Sequence

from .config import CONFIG, WORKSPACE
from .errors import FileError
from .jsonlines import JSONDict

MAX_LISTED = 100_000  # entries visited by search / change tracking


def sandbox_abspath(path: str) -> str:
    """A sandbox path made absolute (relative to /workspace) and normalised; `FileError` for an
    invalid one."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise FileError(f"Invalid path: {path!r}")
    if not path.startswith("/"):
        path = WORKSPACE + "/" + path
    return os.path.normpath(path).replace("//", "/")


def _inside(real: str) -> bool:
    for root in CONFIG.roots.values():
        top = os.path.realpath(root)
        if real == top or real.startswith(top + "/"):
            return True
    return False


def resolve(path: str, follow: bool = True) -> str:
    """Sandbox path -> a real path in this process's view, symlinks resolved and confined.
    With follow=False the last component itself is not resolved (delete or move a link)."""
    real = CONFIG.real(sandbox_abspath(path))
    if follow:
        resolved = os.path.realpath(real)
    else:
        parent, name = os.path.split(real)
        resolved = os.path.join(os.path.realpath(parent), name)
    if not _inside(resolved):
        raise FileError(f"Path is outside the session's directories: {path}")
    return resolved


def is_root(real: str) -> bool:
    """Whether `real` is one of the session's roots themselves."""
    return any(real == os.path.realpath(r) for r in CONFIG.roots.values())


@contextlib.contextmanager
def file_errors(path: str) -> Iterator[None]:
    """Turns the OS's errors about `path` into `FileError`s with clear messages."""
    try:
        yield
    except FileError:
        raise
    except FileNotFoundError:
        raise FileError(f"No such file or directory: {path}") from None
    except IsADirectoryError:
        raise FileError(f"Is a directory: {path}") from None
    except NotADirectoryError:
        raise FileError(f"Not a directory: {path}") from None
    except PermissionError:
        raise FileError(f"Permission denied: {path}") from None
    except FileExistsError:
        raise FileError(f"Already exists: {path}") from None
    except UnicodeDecodeError:
        raise FileError(f"Not a UTF-8 text file: {path}") from None
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise FileError(f"File too large: {path}") from None
        # Never `str(exc)`: it names the real paths (staging files, the host's root).
        reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else "Operation failed")
        raise FileError(f"{reason}: {path}") from None


def usage() -> int:
    """Bytes used by everything under the session's roots (the workspace quota's measure)."""
    total = 0
    for root in CONFIG.roots.values():
        for dirpath, dirnames, filenames in os.walk(root):
            for name in filenames + dirnames:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def op_read_file(req: JSONDict) -> str:
    """`length` bytes of a file from `offset`, base64-encoded."""
    path = req["path"]
    with file_errors(path):
        real = resolve(path)
        with open(real, "rb") as f:
            f.seek(max(0, int(req["offset"])))
            data = f.read(max(0, int(req["length"])))
    return base64.b64encode(data).decode("ascii")


def op_write_file(req: JSONDict) -> None:
    """Overwrites or appends to a file within the workspace quota, making its parents."""
    path, mode = req["path"], req["mode"]
    if mode not in ("overwrite", "append"):
        raise FileError(f"Invalid write mode: {mode}")
    try:
        data = req["content"].encode("utf-8")
    except UnicodeEncodeError:
        raise FileError(f"Content is not valid Unicode text: {path}") from None
    with file_errors(path):
        real = resolve(path)
        if os.path.isdir(real):
            raise FileError(f"Is a directory: {path}")
        old = os.path.getsize(real) if os.path.exists(real) and mode == "overwrite" else 0
        if usage() - old + len(data) > CONFIG.quota:
            raise FileError(f"Workspace quota of {CONFIG.quota} bytes exceeded: {path}")
        os.makedirs(os.path.dirname(real), exist_ok=True)
        if mode == "overwrite":
            replace_contents(real, data)
        else:
            append_or_restore(real, data)


STAGING_PREFIX = ".aioagb-"
STAGING_SUFFIX = ".part"


def replace_contents(real: str, data: bytes) -> None:
    """Makes `data` the contents of the file `real` by writing a staging file beside it and
    renaming that over it: at every moment `real` holds either its old contents or `data`.
    The file keeps its permission bits; a file this uid may not write stays unwritten."""
    try:
        mode = stat.S_IMODE(os.stat(real).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the umask decides, as for open()
    else:
        if not os.access(real, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    # os.urandom, not secrets: secrets imports hmac and hashlib, ~3 ms of every agent's start.
    staging_name = f"{STAGING_PREFIX}{os.urandom(6).hex()}{STAGING_SUFFIX}"
    staging = os.path.join(os.path.dirname(real), staging_name)  # same file system: a rename
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            write_durably(fd, data)
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(staging, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise


def append_or_restore(real: str, data: bytes) -> None:
    """Appends `data` to `real`; on any failure the file is cut back to its old length.

    Not a copy and a rename: the SDK writes large contents as a series of 51,200-character
    appends, so copying the file on each would cost time and disk quadratic in its size (and
    a second copy's worth of free space): truncating frees space, so it works on a full disk."""
    try:
        fd, created = os.open(real, os.O_WRONLY | os.O_APPEND), False
    except FileNotFoundError:
        fd, created = os.open(real, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o666), True
    try:
        before = os.fstat(fd).st_size
        try:
            write_durably(fd, data)
        except BaseException:
            with contextlib.suppress(OSError):
                if created:
                    os.unlink(real)  # it did not exist: it should not now
                else:
                    os.ftruncate(fd, before)
            raise
    finally:
        os.close(fd)


def write_durably(fd: int, data: bytes) -> None:
    """Writes all of `data` to `fd` and syncs it. Unbuffered on purpose: a buffered file
    retries its failed write when closed, which would append again after a cut-back."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    # Before the rename or the reply: a write error the disk reports late (delayed
    # allocation, network file systems) must fail this call, not surface afterwards.
    os.fsync(fd)


def _iso(ts: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc).isoformat()


def op_get_file_info(req: JSONDict) -> JSONDict:
    """Size, type, permissions and times of a path."""
    path = req["path"]
    with file_errors(path):
        st = os.stat(resolve(path))
    return {
        "size": st.st_size,
        "is_directory": stat.S_ISDIR(st.st_mode),
        "is_file": stat.S_ISREG(st.st_mode),
        "permissions": format(st.st_mode & 0o777, "o"),
        "created": _iso(st.st_ctime),
        "modified": _iso(st.st_mtime),
        "accessed": _iso(st.st_atime),
    }


def op_list_directory(req: JSONDict) -> list[JSONDict]:
    """A directory's entries, sorted by name."""
    path = req["path"]
    with file_errors(path):
        real = resolve(path)
        with os.scandir(real) as it:
            entries = [{"name": e.name, "is_directory": e.is_dir()} for e in it]
    return sorted(entries, key=lambda e: str(e["name"]))


def op_create_directory(req: JSONDict) -> None:
    """Makes a directory and its parents; an existing one is fine."""
    path = req["path"]
    with file_errors(path):
        os.makedirs(resolve(path), exist_ok=True)


def op_move_file(req: JSONDict) -> None:
    """Moves a file, directory or link itself to a destination that does not exist."""
    src, dst = req["source"], req["destination"]
    with file_errors(src):
        real_src = resolve(src, follow=False)
        real_dst = resolve(dst, follow=False)
        if is_root(real_src):
            raise FileError(f"Cannot move a session root: {src}")
        if not os.path.lexists(real_src):
            raise FileError(f"No such file or directory: {src}")
        if os.path.lexists(real_dst):
            raise FileError(f"Destination already exists: {dst}")
        os.makedirs(os.path.dirname(real_dst), exist_ok=True)
        move_or_undo(real_src, real_dst)


def move_or_undo(real_src: str, real_dst: str) -> None:
    """`shutil.move` to a destination that does not exist, and if it fails (between /tmp and
    /workspace it copies: a full disk stops it half way), the partial copy is removed again;
    the source is removed only after a complete copy, so it is whole either way."""
    import shutil

    try:
        shutil.move(real_src, real_dst)
    except BaseException:
        if os.path.lexists(real_src) and os.path.lexists(real_dst):
            if os.path.isdir(real_dst) and not os.path.islink(real_dst):
                shutil.rmtree(real_dst, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(real_dst)
        raise


def op_delete_file(req: JSONDict) -> None:
    """Deletes a file or link itself, or a directory with its contents."""
    path = req["path"]
    with file_errors(path):
        real = resolve(path, follow=False)
        if is_root(real):
            raise FileError(f"Cannot delete a session root: {path}")
        if os.path.isdir(real) and not os.path.islink(real):
            import shutil

            shutil.rmtree(real)
        else:
            os.unlink(real)


def op_edit_file(req: JSONDict) -> str:
    """Replaces each old text's first occurrence in order; returns the unified diff."""
    import difflib

    path = req["path"]
    with file_errors(path):
        real = resolve(path)
        with open(real, encoding="utf-8", newline="") as f:
            before = f.read()
        after = before
        for edit in req["edits"]:
            old, new = edit["old_text"], edit["new_text"]
            if old not in after:
                raise FileError(f"Could not find the text to replace in {path}: {old!r}")
            after = after.replace(old, new, 1)
        diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=path,
                tofile=path,
            )
        )
        if not req.get("dry_run"):
            replace_contents(real, after.encode("utf-8"))
    return diff


def _walk(real: str, exclude: Sequence[str] = ()) -> Iterator[tuple[str, bool]]:
    """(real path, is_directory) of everything under `real`, not following symlinks."""
    seen = 0
    for dirpath, dirnames, filenames in os.walk(real):
        kept = []
        for name in sorted(dirnames):
            rel = os.path.relpath(os.path.join(dirpath, name), real)
            if any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in exclude):
                continue
            kept.append(name)
            yield os.path.join(dirpath, name), True
            seen += 1
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), real)
            if any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in exclude):
                continue
            yield os.path.join(dirpath, name), False
            seen += 1
        if seen > MAX_LISTED:
            return


def op_search_files(req: JSONDict) -> list[str]:
    """Sandbox paths under a directory whose names match a glob."""
    path, pattern = req["path"], req["pattern"]
    exclude = list(req.get("exclude") or ())
    with file_errors(path):
        real = resolve(path)
        if not os.path.isdir(real):
            raise FileError(f"Not a directory: {path}")
        return [
            CONFIG.sandbox(p)
            for p, _ in _walk(real, exclude)
            if fnmatch.fnmatch(os.path.basename(p), pattern)
        ]


SNAPSHOTS: dict[str, dict[str, tuple[bool, int, int]]] = {}
SNAPSHOTS_LOCK = threading.Lock()


def op_get_file_change(req: JSONDict) -> list[JSONDict]:
    """Changes under a directory since the previous call for it (the first is a baseline)."""
    path = req["path"]
    with file_errors(path):
        real = resolve(path)
        if not os.path.isdir(real):
            raise FileError(f"Not a directory: {path}")
        now: dict[str, tuple[bool, int, int]] = {}
        for p, is_dir in _walk(real):
            with contextlib.suppress(OSError):
                st = os.lstat(p)
                now[CONFIG.sandbox(p)] = (is_dir, st.st_mtime_ns, st.st_size)
    key = sandbox_abspath(path)
    with SNAPSHOTS_LOCK:
        before = SNAPSHOTS.get(key)
        SNAPSHOTS[key] = now
    if before is None:
        return []
    changes: list[JSONDict] = []
    for p, (is_dir, mtime, size) in now.items():
        kind = "directory" if is_dir else "file"
        old = before.get(p)
        if old is None or old[0] != is_dir:
            changes.append({"event_type": "create", "path": p, "path_type": kind})
        elif not is_dir and (old[1], old[2]) != (mtime, size):
            changes.append({"event_type": "modify", "path": p, "path_type": kind})
    for p, (is_dir, _, _) in before.items():
        if p not in now:
            kind = "directory" if is_dir else "file"
            changes.append({"event_type": "delete", "path": p, "path_type": kind})
    return changes
