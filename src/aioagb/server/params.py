"""Typed reading of request fields: JSON bodies, query parameters and tool `args`.

Each reader either returns a value of the right type or raises a 400 `ApiError` whose message
names the field, so handlers stay short and no malformed request reaches a sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TypeVar

from .envelope import bad_request

T = TypeVar("T")


def parse_json_object(text: str, what: str) -> dict[str, object]:
    """`text` must be JSON encoding an object (the protocol's double-encoded fields)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise bad_request(f"{what} is nested too deeply") from None
    except ValueError:
        raise bad_request(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a JSON object")
    return value


def optional(obj: Mapping[str, object], key: str, kind: type[T], what: str) -> T | None:
    """`obj[key]` if present and not null, checked to be a `kind`; None otherwise."""
    value = obj.get(key)
    if value is None:
        return None
    # bool is an int in Python; the protocol never means True when it says "integer".
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_request(f"{what}.{key} must be of type {_type_name(kind)}")
    return value


def required(obj: Mapping[str, object], key: str, kind: type[T], what: str) -> T:
    """`obj[key]`, which must be present, not null and a `kind`."""
    value = optional(obj, key, kind, what)
    if value is None:
        raise bad_request(f"{what}.{key} is required")
    return value


def required_text(obj: Mapping[str, object], key: str, what: str) -> str:
    """A required string that is not blank (ids, paths)."""
    value = required(obj, key, str, what)
    if not value.strip():
        raise bad_request(f"{what}.{key} must not be empty")
    return value


def optional_int(obj: Mapping[str, object], key: str, what: str) -> int | None:
    """An integer; also accepts a float with no fraction (JSON has one number type)."""
    value = obj.get(key)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return optional(obj, key, int, what)


def string_list(obj: Mapping[str, object], key: str, what: str) -> list[str] | None:
    """An optional list whose items are all strings."""
    value = optional(obj, key, list, what)
    if value is None:
        return None
    if not all(isinstance(item, str) for item in value):
        raise bad_request(f"{what}.{key} must be a list of strings")
    return list(value)


def string_map(value: object, what: str, *, non_empty: bool = False) -> dict[str, str]:
    """A label set: an object whose keys and values are strings."""
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a JSON object of strings")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise bad_request(f"{what} must map strings to strings")
        if non_empty and (not key.strip() or not item.strip()):
            raise bad_request(f"{what} keys and values must not be empty")
    if non_empty and not value:
        raise bad_request(f"{what} must not be empty")
    return dict(value)


def query_int(query: Mapping[str, str], key: str, default: int) -> int:
    """An integer query parameter; `default` when it is missing or empty."""
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"query parameter {key} must be an integer") from None


def _type_name(kind: type[object]) -> str:
    return {str: "string", int: "integer", bool: "boolean", list: "array", dict: "object"}.get(
        kind, kind.__name__
    )
