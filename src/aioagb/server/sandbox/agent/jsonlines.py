"""JSON lines, the only message format of the agent and its kernel, written whole to raw file
descriptors (pipes take a large write in parts)."""

from __future__ import annotations

import json
import os

# Not `typing.TYPE_CHECKING`: importing typing costs every agent and kernel ~2 ms at start
# (mypy reads any `TYPE_CHECKING` as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

JSONDict = dict[str, "Any"]


def json_line(msg: JSONDict) -> bytes:
    """`msg` as one line of JSON, newline included."""
    return json.dumps(msg).encode() + b"\n"


def write_all(fd: int, data: bytes) -> None:
    """Writes all of `data` to `fd`, however many writes that takes."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
