"""Misuse that no server could fix raises before anything is sent: invalid arguments
(InvalidArgumentError, also a ValueError) and a closed client (ClientClosedError)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from _support.mock_wire import SESSION_ID, Wire, client
from aioagb import (
    AsyncAGB,
    AsyncSession,
    ClientClosedError,
    CreateSessionParams,
    InvalidArgumentError,
)

IMAGE = "agb-code-space-2"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_id": ""}, "image_id is required and cannot be empty or None"),
        ({"image_id": "   "}, "image_id is required and cannot be empty or None"),
        ({"image_id": None}, "image_id is required and cannot be empty or None"),
        ({"image_id": "a\x00b"}, "image_id cannot contain NUL"),
        ({"image_id": IMAGE, "labels": ["a"]}, "labels must be a dict"),
        # a list of pairs used to be turned into labels silently by the attrs converter
        ({"image_id": IMAGE, "labels": [("k", "v")]}, "labels must be a dict"),
        ({"image_id": IMAGE, "labels": {"": "v"}}, "Label keys must be non-empty strings"),
        ({"image_id": IMAGE, "labels": {1: "v"}}, "Label keys must be non-empty strings"),
        ({"image_id": IMAGE, "labels": {"k": " "}}, "Label values must be non-empty strings"),
        ({"image_id": IMAGE, "labels": {"k": 1}}, "Label values must be non-empty strings"),
        ({"image_id": IMAGE, "labels": {"k": "v" * 129}}, "longer than 128"),
        ({"image_id": IMAGE, "idle_release_timeout": 0}, "idle_release_timeout must be >= 1"),
        ({"image_id": IMAGE, "idle_release_timeout": -5}, "idle_release_timeout must be >= 1"),
        ({"image_id": IMAGE, "idle_release_timeout": True}, "must be an integer"),
        ({"image_id": IMAGE, "idle_release_timeout": "60"}, "must be an integer"),
        ({"image_id": IMAGE, "policy_id": 5}, "policy_id must be a string"),
    ],
)
def test_create_params_are_checked_when_built(kwargs: dict, message: str) -> None:
    """§3.1 "Client-side checks before sending" (§9 for the image id text), and more."""
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        CreateSessionParams(**kwargs)
    assert isinstance(caught.value, ValueError)
    assert caught.value.request_id == ""


Call = Callable[[AsyncAGB, AsyncSession], Any]
NO_IMAGE = "image_id is required and cannot be empty or None (pass params, e.g. CreateSessionP"

INVALID: dict[str, tuple[Call, str]] = {
    "create not params": (lambda a, s: a.create({"image_id": IMAGE}), "CreateSessionParams"),
    "open_session not params": (lambda a, s: a.open_session(0), "params must be CreateSess"),
    # No params, or None (the official client's default): its words, naming image_id, not
    # Python's TypeError for a missing argument.
    "create no params": (lambda a, s: a.create(), NO_IMAGE),
    "create None": (lambda a, s: a.create(None), NO_IMAGE),
    "open_session no params": (lambda a, s: a.open_session(), NO_IMAGE),
    "open_session None": (lambda a, s: a.open_session(None), NO_IMAGE),
    "session no params": (lambda a, s: a.session().__aenter__(), NO_IMAGE),
    "session None": (lambda a, s: a.session(None).__aenter__(), NO_IMAGE),
    "get empty": (lambda a, s: a.get(""), "session_id is required"),
    "get blank": (lambda a, s: a.get("  "), "session_id is required"),
    "get_session None": (lambda a, s: a.get_session(None), "session_id is required"),
    "list page 0": (lambda a, s: a.list(page=0), "Cannot reach page 0: Page number must be >= 1"),
    "list page -1": (lambda a, s: a.list(page=-1), "Cannot reach page -1"),
    "list page str": (lambda a, s: a.list(page="2"), "page must be an integer"),
    "list limit 0": (lambda a, s: a.list(limit=0), "limit must be >= 1"),
    "list limit 101": (lambda a, s: a.list(limit=101), "limit must be <= 100"),
    "list limit bool": (lambda a, s: a.list(limit=True), "limit must be an integer"),
    "list labels list": (lambda a, s: a.list(labels=["a"]), "labels must be a dict"),
    "list labels blank key": (lambda a, s: a.list(labels={" ": "v"}), "Label keys"),
    "delete not a session": (lambda a, s: a.delete(SESSION_ID), "must be an AsyncSession"),
    "set_labels empty": (
        lambda a, s: s.set_labels({}),
        "Labels cannot be empty. Please provide at least one label.",
    ),
    "set_labels None": (lambda a, s: s.set_labels(None), "labels must be a dict"),
    "set_labels list": (lambda a, s: s.set_labels([("a", "b")]), "labels must be a dict"),
    "set_labels empty value": (lambda a, s: s.set_labels({"a": ""}), "Label values"),
    "list_mcp_tools no image": (
        lambda a, s: AsyncSession(a, SESSION_ID).list_mcp_tools(),
        "image_id",
    ),
    "call_mcp_tool name": (lambda a, s: s.call_mcp_tool("", {}), "tool_name is required"),
    "call_mcp_tool args": (lambda a, s: s.call_mcp_tool("t", "x"), "args must be a dict"),
    "call_mcp_tool json": (lambda a, s: s.call_mcp_tool("t", {"x": {1, 2}}), "JSON-serialisable"),
    "call_mcp_tool timeout": (
        lambda a, s: s.call_mcp_tool("t", {}, timeout=0),
        "timeout must be positive",
    ),
    "run_code language": (
        lambda a, s: s.code.run("1", "ruby"),
        "Unsupported language: ruby. Supported languages are java, javascript, python, r",
    ),
    "run_code language raw text": (lambda a, s: s.run_code("1", " Ruby "), "language:  Ruby "),
    "run_code language None": (lambda a, s: s.code.run("1", None), "language must be a string"),
    "run_code code": (lambda a, s: s.code.run(None, "python"), "code must be a string"),
    "run_code timeout 0": (lambda a, s: s.code.run("1", "python", timeout_s=0), "timeout_s"),
    "run_code timeout float": (
        lambda a, s: s.code.run("1", "python", timeout_s=1.5),
        "timeout_s must be an integer",
    ),
    "shell empty": (lambda a, s: s.command.execute(""), "command is required"),
    "shell timeout": (lambda a, s: s.command.execute("ls", timeout_ms=0), "timeout_ms"),
    "shell envs value": (
        lambda a, s: s.command.execute("ls", envs={"A": 1}),
        "envs keys and values must be strings",
    ),
    "shell envs key": (lambda a, s: s.command.execute("ls", envs={"A=B": "1"}), "envs key"),
    "shell envs type": (lambda a, s: s.command.execute("ls", envs=["A"]), "envs must be a dict"),
    "shell cwd": (lambda a, s: s.command.execute("ls", cwd=""), "cwd is required"),
    "file path empty": (lambda a, s: s.file.read(""), "path is required"),
    "file path type": (lambda a, s: s.file.info(5), "path must be a string"),
    "file path NUL": (lambda a, s: s.file.list("/a\x00b"), "cannot contain NUL"),
    "file read format": (lambda a, s: s.file.read("/x", format="hex"), "format must be"),
    "file write mode": (
        lambda a, s: s.file.write("/x", "y", mode="create_new"),
        "Invalid write mode: create_new. Must be 'overwrite' or 'append'.",
    ),
    "file write content": (lambda a, s: s.file.write("/x", 5), "content must be a string"),
    "file move": (lambda a, s: s.file.move("/x", ""), "destination is required"),
    "file edit empty": (lambda a, s: s.file.edit("/x", []), "edits must be a non-empty list"),
    "file edit oldText": (
        lambda a, s: s.file.edit("/x", [{"oldText": "", "newText": "y"}]),
        "non-empty string oldText",
    ),
    "file search pattern": (lambda a, s: s.file.search("/x", ""), "pattern is required"),
    "file read_batch str": (lambda a, s: s.file.read_batch("/x"), "paths must be a non-empty"),
    "file read_batch empty": (lambda a, s: s.file.read_batch([]), "paths must be a non-empty"),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_invalid_arguments_raise_before_any_request(
    wire: Wire, agb: AsyncAGB, case: str
) -> None:
    call, message = INVALID[case]
    session = AsyncSession(agb, SESSION_ID, image_id=IMAGE)
    with pytest.raises(InvalidArgumentError) as caught:
        await call(agb, session)
    assert message in caught.value.message
    assert wire.sent == []


@pytest.mark.parametrize("session_id", ["", "  ", None, 5])
async def test_session_handle_needs_an_id(agb: AsyncAGB, session_id: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="session_id is required"):
        AsyncSession(agb, session_id)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("connection_limit", 0, "connection_limit must be >= 1"),
        ("cleanup_timeout", -1, "cleanup_timeout must be positive"),
        ("delete_timeout", float("nan"), "delete_timeout must be a finite number"),
        ("orphan_grace", "3", "orphan_grace must be a finite number"),
    ],
)
def test_client_options_are_checked(option: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        client(**{option: value})


CLOSED: dict[str, Call] = {
    "create": lambda a, s: a.create(CreateSessionParams(image_id=IMAGE)),
    "open_session": lambda a, s: a.open_session(CreateSessionParams(image_id=IMAGE)),
    "get": lambda a, s: a.get(SESSION_ID),
    "list": lambda a, s: a.list(),
    "delete": lambda a, s: a.delete(s),
    "status": lambda a, s: s.get_status(),
    "keep_alive": lambda a, s: s.keep_alive(),
    "info": lambda a, s: s.info(),
    "get_labels": lambda a, s: s.get_labels(),
    "run_code": lambda a, s: s.code.run("1", "python"),
    "shell": lambda a, s: s.command.execute("ls"),
    "file_read": lambda a, s: s.file.read("/x"),
}


@pytest.mark.parametrize("call", list(CLOSED))
async def test_closed_client_refuses_every_call(wire: Wire, call: str) -> None:
    """A closed client raises ClientClosedError (seed-parity methods too), sends nothing."""
    agb = client()
    session = AsyncSession(agb, SESSION_ID)
    await agb.aclose()
    await agb.aclose()  # closing twice is fine
    assert agb.closed and "closed" in repr(agb)
    with pytest.raises(ClientClosedError, match="client is closed; create a new one"):
        await CLOSED[call](agb, session)
    assert wire.sent == []


async def test_closed_client_refuses_a_session_context(wire: Wire) -> None:
    async with client() as agb:
        pass
    with pytest.raises(ClientClosedError):
        async with agb.session(CreateSessionParams(image_id=IMAGE)):
            pass  # pragma: no cover
    assert wire.sent == []
