"""Context file keys: the absolute POSIX paths a context's files are stored under
(agb-wire.md §13.10: a file at `P/x` under a mount at `P` is the key `P/x`).

A key is checked once, where it enters the server, and is normalised then (`//` and `.`
collapse, a relative key is taken from `/`). A `..` component is refused outright rather
than resolved: a key that climbs is a mistake or an attack, never a file.
"""

from __future__ import annotations

from ..envelope import ApiError, bad_request

CODE_INVALID_PATH = "InvalidParameter.FilePath"
MAX_PATH_CHARS = 4096  # PATH_MAX
MAX_NAME_CHARS = 255  # NAME_MAX: one component
ROOT = "/"


def _invalid(what: str, why: str) -> ApiError:
    return bad_request(f"{what} {why}", CODE_INVALID_PATH)


def _components(raw: str, what: str) -> list[str]:
    if len(raw) > MAX_PATH_CHARS:
        raise _invalid(what, f"is longer than {MAX_PATH_CHARS} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        raise _invalid(what, "must not contain control characters")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _invalid(what, "must not contain '..'")
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_CHARS for part in parts):
        raise _invalid(what, f"has a component longer than {MAX_NAME_CHARS} bytes")
    return parts


def file_key(raw: str, what: str = "filePath") -> str:
    """The key of a file: absolute, normalised, not the root, not ending in `/`."""
    if not raw.strip():
        raise _invalid(what, "is required")
    if raw.endswith("/"):
        raise _invalid(what, "names a folder (it ends with '/'); name a file")
    parts = _components(raw, what)
    if not parts:
        raise _invalid(what, "names the root folder; name a file")
    return ROOT + "/".join(parts)


def folder_key(raw: str | None, what: str = "parentFolderPath") -> str:
    """The key of a folder: absolute and normalised, without a trailing `/` (the root is
    `/`); missing or empty means the root."""
    if raw is None or not raw.strip():
        return ROOT
    return ROOT + "/".join(_components(raw, what))


def is_under(key: str, folder: str) -> bool:
    """Whether `key` is strictly inside `folder`."""
    return key.startswith(folder if folder == ROOT else folder + "/") and key != folder


def is_within(key: str, folder: str) -> bool:
    """Whether `key` is `folder` itself or inside it."""
    return key == folder or is_under(key, folder)


def relative(key: str, folder: str) -> str:
    """`key` relative to `folder` (which contains it), without a leading `/`."""
    if key == folder:
        return ""
    return key[len(folder) :].lstrip("/") if folder != ROOT else key.lstrip("/")


def join(folder: str, rel: str) -> str:
    """`folder` + a relative path (already checked) as a key."""
    rel = rel.strip("/")
    if not rel:
        return folder
    return f"{folder.rstrip('/')}/{rel}"


def parent(key: str) -> str:
    """The folder a key is in."""
    head = key.rsplit("/", 1)[0]
    return head or ROOT


def name(key: str) -> str:
    """The last component of a key."""
    return key.rsplit("/", 1)[-1]


def ancestors(key: str) -> list[str]:
    """Every folder above `key`, root excluded, outermost first."""
    parts = key.strip("/").split("/")[:-1]
    return [ROOT + "/".join(parts[: i + 1]) for i in range(len(parts))]


def range_under(folder: str) -> tuple[str, str]:
    """Bounds (lo <= key < hi) of the keys strictly under `folder`, for an index range scan:
    `/` sorts just before `0`, so every key starting with `folder/` is in [folder/, folder0)."""
    base = "" if folder == ROOT else folder
    return base + "/", base + "0"
