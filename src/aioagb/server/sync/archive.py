"""Zip archives in context sync (agb-wire.md §13.10 item 8): a mount in Archive mode is stored
as one zip of its tree, and a download unpacks zips (the mount's own archive always, others
when the extract policy says so).

Unpacking never trusts the archive: entry names that are absolute, climb with `..` or hold
odd bytes are refused, links and special entries are skipped, and the total size is checked
against a limit before anything is written (a zip bomb is refused, not written until the
disk is full). Files land through `SessionFiles`, so a link planted in the session cannot
redirect them. Blocking: call from a worker thread.
"""

from __future__ import annotations

import stat
import time
import zipfile
from collections.abc import Iterable
from typing import BinaryIO

from ..sandbox import HostFile, SandboxFileError, SessionFiles
from ..store import StagedBlob
from ..store.paths import join

ARCHIVE_NAME = "agb-archive.zip"  # the mount's tree, at the top of its folder in the context
CHUNK_BYTES = 1024 * 1024


class ArchiveError(Exception):
    """An archive that cannot be unpacked (corrupt, unsafe or too large)."""


def pack(files: SessionFiles, top: str, members: Iterable[HostFile], out: StagedBlob) -> None:
    """Writes the session's files `members` (relative to the sandbox directory `top`) into
    `out` as a zip; files that vanish meanwhile are left out."""
    with zipfile.ZipFile(out.file, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for member in members:
            try:
                source = files.open_read(join(top, member.rel))
            except SandboxFileError:
                continue
            with source:
                info = zipfile.ZipInfo(member.rel, _zip_time(member.mtime_ns))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                with zf.open(info, "w", force_zip64=True) as sink:
                    while chunk := source.read(CHUNK_BYTES):
                        sink.write(chunk)


def _zip_time(mtime_ns: int) -> tuple[int, int, int, int, int, int]:
    year, month, day, hour, minute, second = time.localtime(mtime_ns / 1e9)[:6]
    return (max(year, 1980), month, day, hour, minute, second)


def unpack(archive: BinaryIO, files: SessionFiles, dest: str, limit: int) -> int:
    """Unpacks the zip `archive` into the sandbox directory `dest`; returns the files
    written. `ArchiveError` when it is corrupt, holds an unsafe name, or would unpack to
    more than `limit` bytes."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [_checked(info) for info in zf.infolist()]
            total = sum(info.file_size for info, _ in members)
            if total > limit:
                raise ArchiveError(f"unpacks to {total} bytes, more than the {limit} allowed")
            written = 0
            files.make_dirs(dest)
            for info, name in members:
                if name is None:
                    continue
                if info.is_dir():
                    files.make_dirs(join(dest, name))
                    continue
                with zf.open(info) as source:
                    files.write(join(dest, name), source, _mtime_ns(info))
                written += 1
            return written
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise ArchiveError(f"not a readable zip archive: {exc}") from None


def _checked(info: zipfile.ZipInfo) -> tuple[zipfile.ZipInfo, str | None]:
    """The entry and its safe relative name; None for entries that are skipped (links and
    other special files)."""
    raw = info.filename
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver recorded no type
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return info, None  # a link or a special file
    if raw.startswith("/") or "\\" in raw or any(ord(ch) < 0x20 for ch in raw):
        raise ArchiveError(f"unsafe entry name {raw!r}")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"unsafe entry name {raw!r}")
    if not parts:
        return info, None
    return info, "/".join(parts)


def _mtime_ns(info: zipfile.ZipInfo) -> int:
    try:
        return int(time.mktime((*info.date_time, 0, 0, -1)) * 1e9)
    except (OverflowError, ValueError):
        return time.time_ns()
