"""The code, command and file modules against real sandboxes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioagb import AsyncAGB, AsyncSession, CreateSessionParams
from aioagb.server import ServerConfig
from aioagb.server.sandbox import SandboxLimits


@pytest.fixture
async def session(agb: AsyncAGB, params: CreateSessionParams) -> AsyncIterator[AsyncSession]:
    async with agb.session(params) as session:
        yield session


async def test_python_keeps_state_and_returns_rich_results(session: AsyncSession) -> None:
    first = await session.code.run("x = 41\nprint('set')", "python")
    assert first.success and first.logs.stdout == ["set\n"]
    second = await session.run_code("x + 1", "python")
    assert second.success
    main = [r for r in second.results if r.is_main_result]
    assert main and main[0].text == "42"


async def test_python_errors_are_results(session: AsyncSession) -> None:
    failed = await session.code.run("undefined_name", "python", timeout_s=10)
    assert not failed.success
    assert "NameError" in failed.error_message
    assert failed.error is not None and "NameError" in failed.error.value


async def test_javascript_runs_under_node(session: AsyncSession) -> None:
    result = await session.code.run("console.log(6 * 7)", "js")
    assert result.success and "42" in "".join(result.logs.stdout)


async def test_code_timeout_stops_a_runaway_loop(session: AsyncSession) -> None:
    result = await session.code.run("while True:\n    pass", "python", timeout_s=1)
    assert not result.success
    assert (await session.code.run("print('alive')", "python")).success


async def test_command_exit_codes_cwd_and_envs(session: AsyncSession) -> None:
    ok = await session.command.execute("echo hello", timeout_ms=5000)
    assert ok.success and ok.exit_code == 0 and ok.stdout == "hello\n"
    failed = await session.command.execute("echo oops >&2; exit 3", timeout_ms=5000)
    assert not failed.success and failed.exit_code == 3 and "oops" in failed.stderr
    await session.file.mkdir("/tmp/work")
    where = await session.command.execute(
        "pwd; echo $GREETING", timeout_ms=5000, cwd="/tmp/work", envs={"GREETING": "hi there"}
    )
    assert where.stdout == "/tmp/work\nhi there\n"
    slow = await session.command.execute("sleep 5", timeout_ms=500)
    assert not slow.success and slow.exit_code == 124


async def test_text_files_round_trip_in_chunks(session: AsyncSession) -> None:
    small = "Hello AGB!\nline 2\n"
    assert (await session.file.write("/tmp/t/a.txt", small)).success
    assert (await session.file.read("/tmp/t/a.txt")).content == small
    # 300 KB of multi-byte UTF-8: several 51 200-character writes and 51 200-byte reads, with
    # characters straddling the read boundaries.
    big = ("ab€ü😀" * 30_000)[:150_000]
    assert len(big.encode()) > 300_000
    assert (await session.file.write("/workspace/big.txt", big)).success
    assert (await session.file.read("/workspace/big.txt")).content == big
    assert (await session.file.write("/workspace/big.txt", "tail", mode="append")).success
    assert (await session.file.read("/workspace/big.txt")).content == big + "tail"


async def test_a_multi_chunk_overwrite_replaces_an_existing_file(session: AsyncSession) -> None:
    """The chunks go to a staging file that then replaces the old file in one rename (it
    used to be a move_file onto the existing path, which the server refuses), through a
    symlink to its target, keeping the file's mode."""
    await session.file.write("/workspace/old.txt", "old\n")
    await session.command.execute("chmod 640 old.txt && ln -s old.txt link.txt")
    new = "n" * 120_000
    written = await session.file.write("/workspace/link.txt", new)
    assert written.success, written.error_message
    assert (await session.file.read("/workspace/old.txt")).content == new
    listing = await session.command.execute("stat -c '%a %F %n' old.txt link.txt; ls -a")
    assert "640 regular file old.txt" in listing.stdout
    assert "symbolic link link.txt" in listing.stdout and ".part" not in listing.stdout


async def test_file_read_bytes_returns_a_binary_file_intact(session: AsyncSession) -> None:
    made = await session.command.execute(
        "head -c 200000 /dev/urandom > /tmp/blob.bin && sha256sum /tmp/blob.bin",
        timeout_ms=10_000,
    )
    assert made.success
    blob = await session.file.read("/tmp/blob.bin", format="bytes")
    assert blob.success and len(blob.content) == 200_000
    import hashlib

    assert hashlib.sha256(blob.content).hexdigest() == made.stdout.split()[0]


async def test_file_tools_create_list_find_move_edit_and_remove_within_a_directory(
    session: AsyncSession,
) -> None:
    assert (await session.file.mkdir("/tmp/d/sub")).success
    listing = await session.file.list("/tmp/d")
    assert listing.success
    assert [(e["name"], e["isDirectory"]) for e in listing.entries] == [("sub", True)]
    empty = await session.file.list("/tmp/d/sub")
    assert empty.success and list(empty.entries) == []

    for name in ("a.txt", "b.txt", "c.log"):
        await session.file.write(f"/tmp/d/{name}", f"{name}\n")
    info = await session.file.info("/tmp/d/a.txt")
    assert info.success and info.file_info["size"] == 6 and not info.file_info["isDirectory"]

    found = await session.file.search("/tmp/d", "*.txt")
    assert sorted(found.matches) == ["/tmp/d/a.txt", "/tmp/d/b.txt"]

    batch = await session.file.read_batch(["/tmp/d/a.txt", "/tmp/d/b.txt"])
    assert batch.success
    assert {k: v.rstrip() for k, v in batch.contents.items()} == {
        "/tmp/d/a.txt": "a.txt",
        "/tmp/d/b.txt": "b.txt",
    }

    assert (await session.file.move("/tmp/d/a.txt", "/tmp/d/sub/moved.txt")).success
    assert (await session.file.read("/tmp/d/sub/moved.txt")).content == "a.txt\n"

    edited = await session.file.edit(
        "/tmp/d/b.txt", [{"oldText": "b.txt", "newText": "B!"}], dry_run=False
    )
    assert edited.success
    assert (await session.file.read("/tmp/d/b.txt")).content == "B!\n"

    assert (await session.file.remove("/tmp/d/b.txt")).success
    assert not (await session.file.info("/tmp/d/b.txt")).success


async def test_file_errors_are_results(session: AsyncSession) -> None:
    missing = await session.file.read("/tmp/nope.txt")
    assert not missing.success and missing.error_message
    outside = await session.file.read("/etc/../../root/secret")
    assert not outside.success


async def test_binary_writes_round_trip_and_overwrite_atomically(session: AsyncSession) -> None:
    blob = bytes(range(256)) * 800  # 204 800 bytes: several chunks of base64
    assert (await session.file.write("/tmp/bin/out.bin", b"")).success is False  # no dir yet
    await session.file.mkdir("/tmp/bin")
    assert (await session.file.write("/tmp/bin/out.bin", blob)).success
    assert (await session.file.write("/tmp/bin/out.bin", b"\x00tail", mode="append")).success
    read = await session.file.read("/tmp/bin/out.bin", format="bytes")
    assert read.success and read.content == blob + b"\x00tail"
    # Nothing was left behind: no staging files next to the target or in /tmp.
    listing = await session.file.list("/tmp/bin")
    assert [e["name"] for e in listing.entries] == ["out.bin"]
    leftovers = await session.command.execute("ls -a /tmp | grep aioagb || true")
    assert leftovers.stdout == ""


async def test_a_failed_multi_chunk_overwrite_keeps_the_old_file() -> None:
    """The third 51 200-character chunk goes over the file-size limit: the write fails and the
    old content is still there (chunks go to a staging file that is moved into place)."""
    limits = SandboxLimits(max_file_bytes=120_000)
    async with (
        AsyncAGB.local(ServerConfig(limits=limits)) as agb,
        agb.session(CreateSessionParams(image_id="code_latest")) as session,
    ):
        await session.file.write("/tmp/keep.txt", "old content\n")
        failed = await session.file.write("/tmp/keep.txt", "x" * 150_000)
        assert not failed.success and failed.error_message
        assert (await session.file.read("/tmp/keep.txt")).content == "old content\n"
        listing = await session.file.list("/tmp")
        assert [e["name"] for e in listing.entries] == ["keep.txt"]
