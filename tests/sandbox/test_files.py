"""File tools: round trips, ranges, edits, search, change tracking, and confinement."""

from __future__ import annotations

import pytest

from aioagb.server.sandbox import FileChange, FileEdit, LocalSandbox, SandboxFileError


async def test_text_round_trip_append_and_info(sandbox: LocalSandbox, mode: str) -> None:
    await sandbox.write_file("/tmp/deep/dir/a.txt", "héllo ", "overwrite")
    await sandbox.write_file("/tmp/deep/dir/a.txt", "wörld", "append")
    info = await sandbox.get_file_info("/tmp/deep/dir/a.txt")
    data = "héllo wörld".encode()
    assert info.size == len(data) and info.is_file and not info.is_directory
    assert info.permissions == "644"
    assert "T" in info.modified
    assert await sandbox.read_file("/tmp/deep/dir/a.txt", 0, 1000) == data
    # The shell and python see the same /tmp as the file tools (in plain mode: at $TMPDIR,
    # since only the file tools map sandbox paths there).
    tmp = "/tmp" if mode == "bwrap" else (await sandbox.shell("printf %s $TMPDIR", 10)).stdout
    out = await sandbox.shell(f"cat {tmp}/deep/dir/a.txt", 10)
    assert out.stdout == "héllo wörld"
    code = await sandbox.run_code(f"open('{tmp}/deep/dir/a.txt').read()", "python", 10)
    assert code.results[0]["text/plain"] == repr("héllo wörld")
    await sandbox.write_file("rel.txt", "x", "append")
    assert (await sandbox.shell("cat rel.txt", 10)).stdout == "x"


async def test_read_file_returns_exact_byte_ranges_of_a_binary_file(sandbox: LocalSandbox) -> None:
    await sandbox.shell("head -c 100000 /dev/urandom > bin.dat", 10)
    whole = await sandbox.read_file("/workspace/bin.dat", 0, 200_000)
    assert len(whole) == 100_000
    assert await sandbox.read_file("/workspace/bin.dat", 51_200, 51_200) == whole[51_200:]
    assert await sandbox.read_file("/workspace/bin.dat", 10, 5) == whole[10:15]
    assert await sandbox.read_file("/workspace/bin.dat", 200_000, 10) == b""


async def test_directories_move_delete_and_missing_paths(sandbox: LocalSandbox) -> None:
    await sandbox.create_directory("/workspace/a/b/c")
    await sandbox.create_directory("/workspace/a/b/c")  # exists: fine
    await sandbox.write_file("/workspace/a/f.txt", "1", "overwrite")
    entries = await sandbox.list_directory("/workspace/a")
    assert [(e.name, e.is_directory) for e in entries] == [("b", True), ("f.txt", False)]
    assert await sandbox.list_directory("/workspace/a/b/c") == []
    await sandbox.move_file("/workspace/a/f.txt", "/tmp/moved/g.txt")
    assert await sandbox.read_file("/tmp/moved/g.txt", 0, 10) == b"1"
    with pytest.raises(SandboxFileError):
        await sandbox.get_file_info("/workspace/a/f.txt")
    await sandbox.delete_file("/workspace/a")
    with pytest.raises(SandboxFileError, match="No such file"):
        await sandbox.get_file_info("/workspace/a")
    with pytest.raises(SandboxFileError):
        await sandbox.read_file("/workspace/nothing", 0, 10)
    with pytest.raises(SandboxFileError):
        await sandbox.list_directory("/tmp/moved/g.txt")
    with pytest.raises(SandboxFileError):
        await sandbox.delete_file("/workspace")
    with pytest.raises(SandboxFileError):
        await sandbox.write_file("/workspace/x", "y", "prepend")


async def test_edit_applies_in_order_and_dry_run_writes_nothing(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("/workspace/e.txt", "one two one\n", "overwrite")
    edits = [FileEdit("one", "1"), FileEdit("1 two", "first two")]
    diff = await sandbox.edit_file("/workspace/e.txt", edits, dry_run=True)
    assert "-one two one" in diff and "+first two one" in diff
    assert await sandbox.read_file("/workspace/e.txt", 0, 100) == b"one two one\n"
    await sandbox.edit_file("/workspace/e.txt", edits, dry_run=False)
    assert await sandbox.read_file("/workspace/e.txt", 0, 100) == b"first two one\n"
    with pytest.raises(SandboxFileError, match="find"):
        await sandbox.edit_file("/workspace/e.txt", [FileEdit("absent", "x")], dry_run=False)
    assert await sandbox.read_file("/workspace/e.txt", 0, 100) == b"first two one\n"


async def test_search_by_name_glob_with_excludes(sandbox: LocalSandbox) -> None:
    for name in ("a.txt", "b.txt", "c.log", "skip/d.txt", "deep/er/e.txt"):
        await sandbox.write_file(f"/workspace/s/{name}", "x", "overwrite")
    found = await sandbox.search_files("/workspace/s", "*.txt", ["skip"])
    assert sorted(found) == [
        "/workspace/s/a.txt",
        "/workspace/s/b.txt",
        "/workspace/s/deep/er/e.txt",
    ]
    assert await sandbox.search_files("/workspace/s", "*.none") == []


async def test_file_changes_since_the_previous_call(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("/workspace/w/keep.txt", "1", "overwrite")
    await sandbox.write_file("/workspace/w/gone.txt", "1", "overwrite")
    assert await sandbox.get_file_change("/workspace/w") == []  # baseline
    await sandbox.write_file("/workspace/w/keep.txt", "22", "overwrite")
    await sandbox.write_file("/workspace/w/new.txt", "1", "overwrite")
    await sandbox.delete_file("/workspace/w/gone.txt")
    changes = await sandbox.get_file_change("/workspace/w")
    assert sorted(changes, key=lambda c: c.path) == [
        FileChange("delete", "/workspace/w/gone.txt", "file"),
        FileChange("modify", "/workspace/w/keep.txt", "file"),
        FileChange("create", "/workspace/w/new.txt", "file"),
    ]
    assert await sandbox.get_file_change("/workspace/w") == []


@pytest.mark.parametrize(
    "path",
    ["../../etc/passwd", "/etc/passwd", "/workspace/../etc/shadow", "/root", "/proc/1/environ"],
)
async def test_paths_outside_the_session_are_refused(sandbox: LocalSandbox, path: str) -> None:
    with pytest.raises(SandboxFileError, match="outside"):
        await sandbox.read_file(path, 0, 100)
    with pytest.raises(SandboxFileError, match="outside"):
        await sandbox.write_file(path, "x", "overwrite")


async def test_symlinks_pointing_out_are_refused(sandbox: LocalSandbox) -> None:
    made = await sandbox.shell("ln -s /etc/passwd pw && ln -s / rootlink", 10)
    assert made.exit_code == 0, made.stderr
    for path in ("/workspace/pw", "/workspace/rootlink/etc/passwd"):
        with pytest.raises(SandboxFileError, match="outside"):
            await sandbox.read_file(path, 0, 100)
        with pytest.raises(SandboxFileError, match="outside"):
            await sandbox.write_file(path, "x", "overwrite")
    with pytest.raises(SandboxFileError, match="outside"):
        await sandbox.list_directory("/workspace/rootlink")
    # Deleting the link removes the link, never its target.
    await sandbox.delete_file("/workspace/pw")
    assert (await sandbox.shell("test -e /etc/passwd && test ! -e pw", 10)).exit_code == 0


async def test_workspace_quota_is_checked_on_write(sandbox: LocalSandbox) -> None:
    made = await sandbox.shell("head -c 60000000 /dev/zero > big.bin", 10)  # quota: 64 MiB
    assert made.exit_code == 0
    await sandbox.write_file("/workspace/small.txt", "x" * 1_000_000, "overwrite")
    with pytest.raises(SandboxFileError, match="quota"):
        await sandbox.write_file("/workspace/small.txt", "x" * 8_000_000, "append")
    # Overwriting counts the old size as freed.
    await sandbox.write_file("/workspace/small.txt", "x" * 2_000_000, "overwrite")


async def test_writes_replace_whole_files_and_keep_their_permissions(
    sandbox: LocalSandbox,
) -> None:
    """Overwrites and edits go through a staging file renamed into place (issue 16, point
    2): the file keeps its mode, a read-only file stays unwritten, and no staging file stays."""
    await sandbox.write_file("/workspace/run.sh", "echo one\n", "overwrite")
    await sandbox.shell("chmod 750 run.sh", 10)
    await sandbox.write_file("/workspace/run.sh", "echo two\n", "overwrite")
    await sandbox.edit_file("/workspace/run.sh", [FileEdit("two", "three")], dry_run=False)
    assert (await sandbox.get_file_info("/workspace/run.sh")).permissions == "750"
    assert (await sandbox.shell("./run.sh", 10)).stdout == "three\n"
    await sandbox.write_file("/workspace/frozen.txt", "kept", "overwrite")
    await sandbox.shell("chmod 444 frozen.txt", 10)
    for mode in ("overwrite", "append"):
        with pytest.raises(SandboxFileError, match=r"Permission denied: /workspace/frozen\.txt"):
            await sandbox.write_file("/workspace/frozen.txt", "lost", mode)
    assert await sandbox.read_file("/workspace/frozen.txt", 0, 100) == b"kept"
    listed = (await sandbox.shell("ls -A", 10)).stdout.split()  # in the workspace
    assert sorted(listed) == ["frozen.txt", "run.sh"]
