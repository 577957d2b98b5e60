"""Issue 12 point 3 and issue 6's isolation, for sync paths: a context mounted outside
/workspace is one session's own directory, bound at that path in that session's sandbox
only; its parents stay the sandbox's; the file tools reach it and nothing beyond it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from _support.context_wire import Wire, wire
from _support.security import KEY_A, KEY_B, security_config
from aioagb.server import LocalServer

DATA = "/home/user/data"


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    async with LocalServer(security_config()) as started:
        yield started


def _mount(context_id: str) -> dict[str, str]:
    return {"contextId": context_id, "path": DATA, "policy": "{}"}


async def _text(agb: Wire, session_id: str, name: str, args: dict[str, object]) -> tuple[bool, str]:
    data = await agb.tool(session_id, name, args)
    text: str = data["content"][0]["text"]
    return bool(data["isError"]), text


async def test_each_session_sees_only_its_own_sync_path(server: LocalServer) -> None:
    async with wire(server.endpoint, KEY_A) as a, wire(server.endpoint, KEY_B) as b:
        mine = await a.create([_mount(await a.context("a-data"))])
        same_key = await a.create([_mount(await a.context("a-other"))])
        theirs = await b.create([_mount(await b.context("b-data"))])
        bare = await a.create()
        await a.shell(mine, f"echo a-secret > {DATA}/secret.txt")
        for agb, session_id in ((a, same_key), (b, theirs)):
            assert await agb.shell(session_id, f"ls -A {DATA}; echo end") == "end\n"
            failed, text = await _text(agb, session_id, "read_file", {"path": f"{DATA}/secret.txt"})
            assert failed and "a-secret" not in text
        # A session without the mount has no such path at all.
        listed = await a.shell(bare, f"ls {DATA} 2>&1; echo end")
        assert "No such file or directory" in listed
        failed, text = await _text(a, bare, "read_file", {"path": f"{DATA}/secret.txt"})
        assert failed and "outside the session" in text
        # Where the mount lives on the host is nowhere in the sandbox. (/usr is the host's,
        # read-only, and large: walking it took over 20 s on a loaded 2-core machine.)
        found = await a.shell(
            mine,
            "find / \\( -path /proc -o -path /sys -o -path /usr \\) -prune"
            " -o -name secret.txt -print 2>/dev/null; true",
        )
        assert found.split() == [f"{DATA}/secret.txt"]


async def test_the_file_tools_reach_the_sync_path_and_nothing_beyond(server: LocalServer) -> None:
    async with wire(server.endpoint, KEY_A) as a:
        session_id = await a.create([_mount(await a.context("tools"))])
        failed, _ = await _text(a, session_id, "write_file",
                                {"path": f"{DATA}/t.txt", "content": "tool"})  # fmt: skip
        assert not failed
        assert await a.shell(session_id, f"cat {DATA}/t.txt") == "tool"
        for path in (f"{DATA}/../x.txt", "/home/user/x.txt", "/home/x.txt"):
            failed, text = await _text(a, session_id, "write_file", {"path": path, "content": "x"})
            assert failed and "outside the session" in text, (path, text)
        # A link from the sync path to the sandbox's system files does not take a tool there.
        await a.shell(session_id, f"ln -s /etc {DATA}/etc")
        failed, text = await _text(a, session_id, "write_file",
                                   {"path": f"{DATA}/etc/x", "content": "x"})  # fmt: skip
        assert failed and "outside the session" in text
        # The parents made for the mount are the sandbox's, not the session's to write in.
        out = await a.shell(session_id, "touch /home/user/x 2>&1; touch /home/x 2>&1; echo end")
        assert out.count("Permission denied") == 2
