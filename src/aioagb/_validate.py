"""Argument checks that run before anything is sent. Each failure is an InvalidArgumentError
(also a ValueError) whose text says which argument is wrong and why."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from . import _protocol as p
from .errors import InvalidArgumentError

# The official client accepts 1..100 page sizes in its docs; the cloud caps `maxResults`.
MAX_LIST_LIMIT = 100
MAX_LABEL_TEXT = 128


def fail(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(message)


def check_text(name: str, value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise fail(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise fail(f"{name} is required and cannot be empty")
    if "\x00" in value:
        raise fail(f"{name} cannot contain NUL characters")
    return value


def check_session_id(session_id: object) -> str:
    if not isinstance(session_id, str) or not session_id.strip():
        raise fail("session_id is required")  # the seed's wording (§9)
    return check_text("session_id", session_id)


def check_labels(labels: object, *, allow_empty: bool) -> dict[str, str]:
    if labels is None and allow_empty:
        return {}
    if isinstance(labels, list | tuple) or not isinstance(labels, Mapping):
        raise fail(f"labels must be a dict of strings to strings, got {type(labels).__name__}")
    if not labels and not allow_empty:
        raise fail("Labels cannot be empty. Please provide at least one label.")
    for key, value in labels.items():
        if not isinstance(key, str) or not key.strip():
            raise fail(f"Label keys must be non-empty strings, got {key!r}")
        if not isinstance(value, str) or not value.strip():
            raise fail(f"Label values must be non-empty strings, got {value!r} for {key!r}")
        if len(key) > MAX_LABEL_TEXT or len(value) > MAX_LABEL_TEXT:
            raise fail(f"Label {key[:20]!r} is longer than {MAX_LABEL_TEXT} characters")
    return dict(labels)


def check_positive_int(name: str, value: object, *, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise fail(f"{name} must be >= 1, got {value}")
    if maximum is not None and value > maximum:
        raise fail(f"{name} must be <= {maximum}, got {value}")
    return value


def check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(f"{name} must be a finite number of seconds, got {value!r}")
    if value <= 0:
        raise fail(f"{name} must be positive, got {value}")
    return float(value)


def check_optional_seconds(name: str, value: object) -> float | None:
    """None, or a positive finite number of seconds."""
    return None if value is None else check_seconds(name, value)


def check_non_negative_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(f"{name} must be a non-negative integer, got {value!r}")
    return value


def check_create_params(
    image_id: object, labels: object, idle_release_timeout: object, policy_id: object
) -> None:
    if not isinstance(image_id, str) or not image_id.strip():
        raise fail("image_id is required and cannot be empty or None")  # §9
    check_text("image_id", image_id)
    check_labels(labels, allow_empty=True)
    if idle_release_timeout is not None:
        check_positive_int("idle_release_timeout", idle_release_timeout)
    if policy_id is not None:
        check_text("policy_id", policy_id, allow_empty=True)


def check_list_args(page: object, limit: object) -> tuple[int, int]:
    if page is None:
        page = 1
    if isinstance(page, bool) or not isinstance(page, int):
        raise fail(f"page must be an integer, got {page!r}")
    if page < 1:
        raise fail(f"Cannot reach page {page}: Page number must be >= 1")  # §3.4
    limit = p.DEFAULT_LIST_LIMIT if limit is None else limit
    return page, check_positive_int("limit", limit, maximum=MAX_LIST_LIMIT)


def check_language(language: object) -> str:
    raw = check_text("language", language)
    canonical = p.canonical_language(raw)
    if canonical is None:
        raise fail(
            f"Unsupported language: {raw}. Supported languages are java, javascript, python, r"
        )
    return canonical


def check_path(name: str, path: object) -> str:
    return check_text(name, path)


def check_paths(paths: object) -> list[str]:
    if isinstance(paths, str) or not isinstance(paths, Sequence) or not paths:
        raise fail("paths must be a non-empty list of path strings")
    return [check_path("paths[]", item) for item in paths]


def check_write_mode(mode: object) -> str:
    if mode not in p.WRITE_MODES:
        raise fail(f"Invalid write mode: {mode}. Must be 'overwrite' or 'append'.")  # §9
    return str(mode)


def check_envs(envs: object) -> dict[str, str] | None:
    if envs is None:
        return None
    if not isinstance(envs, Mapping):
        raise fail(f"envs must be a dict of strings to strings, got {type(envs).__name__}")
    for key, value in envs.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise fail(f"envs keys and values must be strings, got {key!r}: {value!r}")
        if not key or "=" in key or "\x00" in key + value:
            raise fail(f"envs key {key!r} is not a valid environment variable name")
    return dict(envs)


def check_edits(edits: object) -> list[dict[str, str]]:
    if isinstance(edits, str | bytes) or not isinstance(edits, Sequence) or not edits:
        raise fail("edits must be a non-empty list of {'oldText': ..., 'newText': ...}")
    checked = []
    for edit in edits:
        if not isinstance(edit, Mapping):
            raise fail(f"each edit must be a dict with oldText and newText, got {edit!r}")
        old, new = edit.get("oldText"), edit.get("newText")
        if not isinstance(old, str) or not old or not isinstance(new, str):
            raise fail("each edit needs a non-empty string oldText and a string newText")
        checked.append({"oldText": old, "newText": new})
    return checked


def check_flag(name: str, value: object) -> bool:
    """A bool argument: 1, "yes" and None are refused rather than read as true or false."""
    if not isinstance(value, bool):
        raise fail(f"{name} must be a bool, got {value!r}")
    return value
