"""The processes of AGB Local's sandboxes, read from /proc: who is whose child, how much memory
each sandbox's processes hold, and how many sandboxes are started (agent and kernel running).

Under bubblewrap each sandbox is one child of the server's process: bwrap, bwrap's own child
(pid 1 of the sandbox's pid namespace), the agent, the python kernel the agent started.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import attrs

# The processes of a started sandbox, kernel included (bwrap, its child, agent, kernel).
STARTED_BWRAP = 4
STARTED_PLAIN = 2  # without bubblewrap: the agent and its kernel
# smaps_rollup's fields, in kB: RSS, PSS (shared pages counted proportionally) and the
# private pages (USS: what ending the process would give back).
_FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty")


def children_map() -> dict[int, list[int]]:
    """Every process's children, by parent pid."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
    return children


def descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def children_rss(pid: int) -> int:
    """The resident memory of every descendant of `pid` (the sandboxes' processes)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for child in descendants(pid, children_map()):
        try:
            total += int(Path(f"/proc/{child}/statm").read_text().split()[1]) * page
        except OSError:
            continue
    return total


def sandboxes(server_pid: int) -> list[list[int]]:
    """The server's sandboxes, each as its processes (its root, a child of the server, first)."""
    children = children_map()
    return [[root, *descendants(root, children)] for root in children.get(server_pid, [])]


def started(server_pid: int) -> list[list[int]]:
    """The server's sandboxes whose kernel runs (with no session running code: idle ones)."""
    return [procs for procs in sandboxes(server_pid) if len(procs) >= _started_size(procs)]


def _started_size(procs: list[int]) -> int:
    try:
        comm = Path(f"/proc/{procs[0]}/comm").read_text().strip()
    except OSError:
        return STARTED_BWRAP
    return STARTED_BWRAP if comm == "bwrap" else STARTED_PLAIN


def wait_for_started(server_pid: int, count: int, timeout_s: float = 120.0) -> float:
    """Waits until `count` sandboxes of the server are started (its warm pool full, when no
    session holds one); returns the seconds it took. Raises TimeoutError after `timeout_s`."""
    began = time.perf_counter()
    while len(started(server_pid)) < count:
        if time.perf_counter() - began > timeout_s:
            have = len(started(server_pid))
            raise TimeoutError(f"{have} of {count} sandboxes started after {timeout_s:.0f} s")
        time.sleep(0.05)
    time.sleep(0.2)  # the last kernel answers the agent's start a moment after it exists
    return time.perf_counter() - began


@attrs.frozen
class Memory:
    """One sandbox's memory, its processes summed, in bytes."""

    rss: int
    pss: int
    uss: int
    processes: int


def sandbox_memory(procs: list[int]) -> Memory:
    totals = dict.fromkeys(_FIELDS, 0)
    for pid in procs:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, rest = line.partition(":")
            if name in totals:
                totals[name] += int(rest.split()[0]) * 1024
    uss = totals["Private_Clean"] + totals["Private_Dirty"]
    return Memory(rss=totals["Rss"], pss=totals["Pss"], uss=uss, processes=len(procs))
