"""A session's files seen from the host, for copying contexts in and out of a sandbox
(agb-wire.md §13): list, read, write and make directories, as the server, without starting
the session's agent.

The server is root and the sandbox is not trusted, so no path is ever resolved through a
link the sandbox could have planted: each directory is opened relative to its parent's fd
with O_NOFOLLOW (a symbolic link anywhere on the way is an error), files are opened the same
way and must be regular, and listings do not follow links. When sessions have their own uid,
only files that uid owns are read (a hard link to someone else's file is not the session's
to copy) and every file and directory written is given to it.

Paths are sandbox paths (`/workspace/a.txt`, `/home/user/data/x`); each is mapped to a host
directory by the longest sandbox root that contains it. Everything here blocks: call it from
a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, BinaryIO

import attrs

from .interface import SandboxFileError

CHUNK_BYTES = 1024 * 1024
MAX_LISTED_FILES = 200_000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@attrs.frozen
class HostFile:
    """A regular file found under a listed directory."""

    rel: str  # POSIX, relative to the listed directory ("" when that is the file itself)
    size: int
    mtime_ns: int


def _parts(path: str) -> list[str]:
    if not path.startswith("/") or "\x00" in path:
        raise SandboxFileError(f"Not an absolute sandbox path: {path!r}")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise SandboxFileError(f"Path must not contain '..': {path}")
    return parts


class SessionFiles:
    """The files of one session under its sandbox roots (sandbox path -> host directory)."""

    def __init__(self, roots: Mapping[str, Path], uid: int | None) -> None:
        # Longest first, so a mount inside another root wins for its own paths.
        ordered = sorted(roots.items(), key=lambda item: -len(_parts(item[0])))
        self._roots = [(_parts(path), Path(host)) for path, host in ordered]
        self.uid = uid

    # --- locating ------------------------------------------------------------------------

    def _locate(self, path: str) -> tuple[Path, list[str]]:
        parts = _parts(path)
        for root, host in self._roots:
            if parts[: len(root)] == root:
                return host, parts[len(root) :]
        raise SandboxFileError(f"Path is outside the session's directories: {path}")

    def _open_dir(self, host: Path, parts: list[str], path: str, *, create: bool) -> int:
        """An fd of the directory `parts` below `host`, made (and given to the session's
        uid) where missing when `create`."""
        fd = os.open(host, _DIR_FLAGS)
        for part in parts:
            fd = self._step(fd, part, path, create)
        return fd

    def _step(self, parent: int, name: str, path: str, create: bool) -> int:
        """The child directory `name` of `parent`; `parent` is closed either way."""
        try:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=parent)
                child = os.open(name, _DIR_FLAGS, dir_fd=parent)
                if self.uid is not None:
                    os.fchown(child, self.uid, self.uid)
        except OSError as exc:
            raise _file_error(exc, path) from None
        finally:
            os.close(parent)
        return child

    # --- reading -------------------------------------------------------------------------

    def kind(self, path: str) -> str | None:
        """ "dir", "file" (a regular file) or None (missing, or anything else)."""
        host, parts = self._locate(path)
        try:
            fd = self._open_dir(host, parts[:-1], path, create=False)
        except SandboxFileError:
            return None
        try:
            st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False) if parts else os.fstat(fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        if stat.S_ISDIR(st.st_mode):
            return "dir"
        return "file" if stat.S_ISREG(st.st_mode) and self._owned(st) else None

    def _owned(self, st: os.stat_result) -> bool:
        return self.uid is None or st.st_uid == self.uid

    def files(self, path: str) -> list[HostFile]:
        """The session's regular files at `path` (a file) or below it (a directory), links
        not followed; [] when `path` does not exist."""
        kind = self.kind(path)
        if kind is None:
            return []
        host, parts = self._locate(path)
        if kind == "file":
            fd = self._open_dir(host, parts[:-1], path, create=False)
            try:
                st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
            finally:
                os.close(fd)
            return [HostFile("", st.st_size, st.st_mtime_ns)]
        fd = self._open_dir(host, parts, path, create=False)
        try:
            return list(self._walk(fd))
        finally:
            os.close(fd)

    def _walk(self, top: int) -> Iterator[HostFile]:
        found = 0
        for dirpath, _dirs, names, dirfd in os.fwalk(".", dir_fd=top, follow_symlinks=False):
            for name in sorted(names):
                try:
                    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                except OSError:
                    continue  # gone meanwhile
                if not stat.S_ISREG(st.st_mode) or not self._owned(st):
                    continue  # links, devices, fifos, sockets, others' files: not copied
                rel = os.path.normpath(os.path.join(dirpath, name))
                yield HostFile(rel, st.st_size, st.st_mtime_ns)
                found += 1
                if found >= MAX_LISTED_FILES:
                    raise SandboxFileError(f"More than {MAX_LISTED_FILES} files to copy")

    def open_read(self, path: str) -> BinaryIO:
        """The session's regular file at `path`, open for reading."""
        host, parts = self._locate(path)
        if not parts:
            raise SandboxFileError(f"Is a directory: {path}")
        parent = self._open_dir(host, parts[:-1], path, create=False)
        try:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(parts[-1], flags, dir_fd=parent)
        except OSError as exc:
            raise _file_error(exc, path) from None
        finally:
            os.close(parent)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not self._owned(st):
            os.close(fd)
            raise SandboxFileError(f"Not a regular file of the session: {path}")
        return os.fdopen(fd, "rb")

    # --- writing -------------------------------------------------------------------------

    def make_dirs(self, path: str) -> None:
        """Makes the directory `path` and its missing parents (the session's own)."""
        host, parts = self._locate(path)
        os.close(self._open_dir(host, parts, path, create=True))

    def write(self, path: str, source: IO[bytes], mtime_ns: int | None = None) -> int:
        """Writes `source` to the file `path` (parents made), replacing it whole: a reader
        in the sandbox sees the old file or the new one. Returns the bytes written."""
        host, parts = self._locate(path)
        if not parts:
            raise SandboxFileError(f"Is a directory: {path}")
        parent = self._open_dir(host, parts[:-1], path, create=True)
        temporary = f".{parts[-1][:200]}.agb-{secrets.token_hex(6)}"
        try:
            written = self._write_new(parent, temporary, source, mtime_ns, path)
            try:
                os.rename(temporary, parts[-1], src_dir_fd=parent, dst_dir_fd=parent)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=parent)
                raise _file_error(exc, path) from None
        finally:
            os.close(parent)
        return written

    def _write_new(
        self, parent: int, name: str, source: IO[bytes], mtime_ns: int | None, path: str
    ) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, 0o644, dir_fd=parent)
        except OSError as exc:
            raise _file_error(exc, path) from None
        written = 0
        try:
            if self.uid is not None:
                os.fchown(fd, self.uid, self.uid)
            while chunk := source.read(CHUNK_BYTES):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                written += len(chunk)
            if mtime_ns is not None:
                os.utime(fd, ns=(mtime_ns, mtime_ns))
        except BaseException as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=parent)
            if isinstance(exc, OSError):
                raise _file_error(exc, path) from None
            raise
        os.close(fd)
        return written


def _file_error(exc: OSError, path: str) -> SandboxFileError:
    reasons = {
        errno.ELOOP: "Path crosses a symbolic link",
        errno.ENOENT: "No such file or directory",
        # Opening a directory through a link with O_NOFOLLOW fails with ENOTDIR too.
        errno.ENOTDIR: "Not a directory (or a symbolic link) on the way",
        errno.EISDIR: "Is a directory",
        errno.EACCES: "Permission denied",
        errno.ENOSPC: "No space left on the device",
        errno.EEXIST: "Already exists",
    }
    return SandboxFileError(f"{reasons.get(exc.errno or 0, exc.strerror or exc)}: {path}")
