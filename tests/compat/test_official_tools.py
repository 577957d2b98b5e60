"""The official SDK's code, command and file-system modules against AGB Local's real sandbox."""

from __future__ import annotations

import hashlib

from agb.session import Session

LONG_MS = 20_000  # the official default (1 s) is tight for a sandbox's first process


def test_python_state_is_kept_across_runs(session: Session) -> None:
    first = session.code.run("x = 41\nprint('set')", "python")
    assert first.success, first.error_message
    assert "set" in "".join(first.logs.stdout)
    second = session.code.run("print(x + 1)\nx * 2", "python3")
    assert second.success, second.error_message
    assert "42" in "".join(second.logs.stdout)
    assert any(r.text == "82" for r in second.results)


def test_code_errors_are_reported(session: Session) -> None:
    failed = session.code.run("undefined_name", "python")
    assert not failed.success
    assert "NameError" in (failed.error_message + "".join(failed.logs.stderr))
    assert session.code.run("# nothing", "python").success
    unsupported = session.code.run("1", "ruby")
    assert not unsupported.success and "ruby" in unsupported.error_message


def test_command_execute_reports_exit_codes_stderr_cwd_and_envs(session: Session) -> None:
    ok = session.command.execute("echo hello", timeout_ms=LONG_MS)
    assert ok.success and ok.exit_code == 0 and ok.stdout.strip() == "hello"
    failed = session.command.execute("echo out; echo err >&2; exit 7", timeout_ms=LONG_MS)
    assert not failed.success and failed.exit_code == 7
    assert failed.error_message.strip() == "err"
    env = session.command.execute(
        "echo $GREETING; pwd", timeout_ms=LONG_MS, cwd="/tmp", envs={"GREETING": "hi"}
    )
    assert env.success and env.stdout.split() == ["hi", "/tmp"]


def test_text_round_trip_and_chunked_large_files(session: Session) -> None:
    assert session.file.write("/workspace/t/a.txt", "hello\nworld\n").success
    read = session.file.read("/workspace/t/a.txt")
    assert read.success and read.content == "hello\nworld\n"
    big = "".join(f"line {i:06d} " + "x" * 40 + "\n" for i in range(6_000))  # ~300 KB
    assert len(big) > 300_000
    assert session.file.write("/workspace/t/big.txt", big).success  # 6 write chunks
    assert session.file.info("/workspace/t/big.txt").file_info["size"] == len(big)
    assert session.file.read("/workspace/t/big.txt").content == big  # 6 read chunks


def test_multibyte_utf8_straddling_chunk_boundaries(session: Session) -> None:
    # 1-4 byte characters with shifting alignment: every kind crosses some 51 200 boundary.
    text = "".join(f"a{'é' * (i % 3)}€😀\n" for i in range(25_000))
    assert session.file.write("/workspace/u.txt", text).success
    size = session.file.info("/workspace/u.txt").file_info["size"]
    assert size == len(text.encode("utf-8")) > 3 * 51_200
    read = session.file.read("/workspace/u.txt")
    assert read.success and read.content == text


def test_binary_files_read_as_bytes(session: Session) -> None:
    made = session.command.execute(
        "head -c 150000 /dev/urandom > /workspace/b.bin && sha256sum /workspace/b.bin",
        timeout_ms=LONG_MS,
    )
    assert made.success, made.error_message
    digest = made.stdout.split()[0]
    read = session.file.read("/workspace/b.bin", format="bytes")
    assert read.success, read.error_message
    assert len(read.content) == 150_000
    assert hashlib.sha256(read.content).hexdigest() == digest
    empty = session.command.execute("touch /workspace/empty.bin", timeout_ms=LONG_MS)
    assert empty.success
    assert session.file.read("/workspace/empty.bin", format="bytes").content == b""


def test_directory_listing_info_move_and_remove_reflect_the_file_system(session: Session) -> None:
    assert session.file.mkdir("/workspace/d/empty/deeper").success
    empty = session.file.list("/workspace/d/empty/deeper")
    assert empty.success and empty.entries == []
    assert session.file.write("/workspace/d/f.txt", "f").success
    listing = session.file.list("/workspace/d")
    assert listing.success
    kinds = {entry["name"]: entry["isDirectory"] for entry in listing.entries}
    assert kinds == {"empty": True, "f.txt": False}
    info = session.file.info("/workspace/d/f.txt")
    assert info.success and info.file_info["size"] == 1
    assert info.file_info["isDirectory"] is False
    assert session.file.info("/workspace/d").file_info["isDirectory"] is True
    assert session.file.move("/workspace/d/f.txt", "/workspace/d/g.txt").success
    assert session.file.read("/workspace/d/g.txt").content == "f"
    assert not session.file.info("/workspace/d/f.txt").success
    assert session.file.remove("/workspace/d/g.txt").success
    gone = session.file.info("/workspace/d/g.txt")
    assert not gone.success and gone.error_message


def test_edit_search_and_read_batch(session: Session) -> None:
    for name, body in (("a.txt", "alpha"), ("b.txt", "beta"), ("c.log", "gamma")):
        assert session.file.write(f"/workspace/s/{name}", body).success
    edited = session.file.edit(
        "/workspace/s/a.txt", [{"oldText": "alpha", "newText": "before alpha after"}]
    )
    assert edited.success, edited.error_message
    assert session.file.read("/workspace/s/a.txt").content == "before alpha after"
    found = session.file.search("/workspace/s", "*.txt")
    assert found.success
    assert sorted(found.matches) == ["/workspace/s/a.txt", "/workspace/s/b.txt"]
    none = session.file.search("/workspace/s", "*.md")
    assert none.success and none.matches == []
    batch = session.file.read_batch(["/workspace/s/a.txt", "/workspace/s/b.txt"])
    assert batch.success
    assert {k: v.rstrip() for k, v in batch.contents.items()} == {
        "/workspace/s/a.txt": "before alpha after",
        "/workspace/s/b.txt": "beta",
    }
