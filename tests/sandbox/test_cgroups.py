"""cgroup v1 and v2 per-session groups (issue 14.3). The layout is detected from the text of
/proc/self/mounts and /proc/self/cgroup; v2 is exercised on a fake cgroup tree (this machine
has none with memory and pids), v1 on this machine's real hierarchy when it has one."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from aioagb.server.sandbox import SandboxLimits
from aioagb.server.sandbox.cgroups import CgroupLayout, Cgroups, detect

HYBRID_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
HYBRID_GROUPS = "8:pids:/\n4:memory:/job/42\n1:cpu:/\n0::/\n"
UNIFIED_MOUNTS = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
UNIFIED_GROUPS = "0::/system.slice/aioagb.service\n"
LIMITS = SandboxLimits(memory_bytes=256 * 1024 * 1024, max_processes=64, cpu_cores=0.5)


def test_a_hybrid_host_has_v1_controllers_and_a_unified_tree() -> None:
    layout = detect(HYBRID_MOUNTS, HYBRID_GROUPS)
    assert layout.v1 == {
        "pids": Path("/sys/fs/cgroup/pids"),
        "memory": Path("/sys/fs/cgroup/memory/job/42"),
        "cpu": Path("/sys/fs/cgroup/cpu"),
    }
    assert layout.v2 == Path("/sys/fs/cgroup/unified")


def test_a_modern_host_has_only_the_unified_hierarchy() -> None:
    layout = detect(UNIFIED_MOUNTS, UNIFIED_GROUPS)
    assert layout == CgroupLayout(v1={}, v2=Path("/sys/fs/cgroup/system.slice/aioagb.service"))


def fake_v2(root: Path, controllers: str, procs: str = "") -> Path:
    """A unified-hierarchy group as the kernel shows it: the files the driver reads."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text(procs)
    return root


def test_v2_delegates_memory_pids_and_cpu_and_writes_each_sessions_limits(tmp_path: Path) -> None:
    base = fake_v2(tmp_path / "service", "cpuset cpu io memory hugetlb pids")
    parent = Cgroups.setup("t", CgroupLayout(v2=base))
    assert parent is not None and parent.version == 2
    (group,) = parent.dirs.values()
    assert group.parent == base and group.name.startswith(f"aioagb-{os.getpid()}-")
    assert (base / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (group / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"

    (group / "s-1").mkdir()
    (group / "s-1" / "cpu.max").write_text("max 100000")  # present: cpu is delegated
    child = parent.child("s-1", LIMITS)
    session = group / "s-1"
    assert (session / "memory.max").read_text() == str(256 * 1024 * 1024)
    assert (session / "pids.max").read_text() == "64"
    assert (session / "cpu.max").read_text() == "50000 100000"
    (session / "cgroup.procs").write_text("")
    fds = child.open_procs()
    assert len(fds) == 1
    for fd in fds:
        os.close(fd)


def test_v2_without_memory_and_pids_falls_back_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SANDBOX.md: this machine's unified tree offers only hugetlb."""
    base = fake_v2(tmp_path / "unified", "hugetlb")
    assert Cgroups.setup("t", CgroupLayout(v2=base)) is None
    assert "capped by rlimits only" in caplog.text and "RLIMIT_NPROC" in caplog.text


def busy_until_moved(monkeypatch: pytest.MonkeyPatch, base: Path) -> None:
    """The kernel's EBUSY for a group with processes that enables controllers for its
    children, until the server has moved into a leaf of its own."""
    import errno

    from aioagb.server.sandbox import cgroups

    real = cgroups._write_words

    def write(path: Path, words: list[str]) -> None:
        moved = list(base.glob("aioagb-server-*/cgroup.procs"))
        if path == base / "cgroup.subtree_control" and not moved:
            raise OSError(errno.EBUSY, "Device or resource busy")
        real(path, words)

    monkeypatch.setattr(cgroups, "_write_words", write)


def test_v2_moves_the_server_into_a_leaf_when_it_is_the_groups_only_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v2's no-internal-process rule (a systemd service with Delegate=yes)."""
    base = fake_v2(tmp_path / "service", "memory pids", procs=f"{os.getpid()}\n")
    busy_until_moved(monkeypatch, base)
    assert Cgroups.setup("t", CgroupLayout(v2=base)) is not None
    leaf = base / f"aioagb-server-{os.getpid()}"
    assert (leaf / "cgroup.procs").read_text() == str(os.getpid())
    assert (base / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_v2_does_not_move_the_server_out_of_a_group_it_shares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = fake_v2(tmp_path / "shared", "memory pids", procs=f"{os.getpid()}\n1234\n")
    busy_until_moved(monkeypatch, base)
    assert Cgroups.setup("t", CgroupLayout(v2=base)) is None
    assert not list(base.glob("aioagb-server-*"))


@pytest.mark.skipif(os.geteuid() != 0, reason="v1 cgroups are writable by root only")
def test_v1_on_this_machine_caps_memory_pids_and_cpu() -> None:
    from aioagb.server.sandbox.cgroups import current_layout

    layout = current_layout()
    if not {"memory", "pids"} <= set(layout.v1):
        pytest.skip("this machine has no v1 memory and pids hierarchies")
    parent = Cgroups.setup("v1-test", layout)
    assert parent is not None and parent.version == 1
    try:
        child = parent.child("s-1", LIMITS)
        assert child.read("memory", "memory.limit_in_bytes") == str(256 * 1024 * 1024)
        assert child.read("pids", "pids.max") == "64"
        if "cpu" in child.dirs:
            assert child.read("cpu", "cpu.cfs_quota_us") == "50000"
    finally:
        parent.remove()
    assert not any(d.exists() for d in parent.dirs.values())


def test_no_layout_at_all_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert Cgroups.setup("t", CgroupLayout()) is None
    assert "no usable cgroup controllers" in caplog.text
