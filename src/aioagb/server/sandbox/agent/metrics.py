"""The `metrics` operation: what the session's sandbox uses now, read from inside it.

CPU is the time of the processes that run as the session's uid (under bubblewrap the pid
namespace shows nothing else), as a share of the CPUs it may use over the time since the
previous call (or a short sample on a first call); memory their resident size; disk the
session's files against its quota; network the counters of its own network namespace
(only loopback under bubblewrap). The server may replace memory with its cgroup's numbers.
"""

from __future__ import annotations

import os
import threading
import time

from .config import CONFIG
from .files import usage
from .jsonlines import JSONDict

SAMPLE_S = 0.25  # the CPU sample of a first call, or of one long after the previous
MAX_SAMPLE_AGE_S = 60.0  # a previous sample older than this is not used as the baseline
KIB = 1024.0


class _Sample:
    """CPU seconds and network byte counters at one moment."""

    def __init__(self) -> None:
        self.at = time.monotonic()
        self.cpu_s, self.rss = _own_processes()
        self.rx, self.tx = _network_bytes()


_LAST: list[_Sample] = []  # the previous call's sample
_LAST_LOCK = threading.Lock()


def op_metrics(req: JSONDict) -> JSONDict:
    """The session's metrics in the official get_metrics shape (docs/protocol.md §16.2)."""
    now = _Sample()
    with _LAST_LOCK:
        before = _LAST[0] if _LAST else None
        _LAST[:] = [now]
    if before is None or not 0.05 <= now.at - before.at <= MAX_SAMPLE_AGE_S:
        before = now
        time.sleep(SAMPLE_S)
        now = _Sample()
        with _LAST_LOCK:
            _LAST[:] = [now]
    seconds = max(now.at - before.at, 1e-3)
    cpus = len(os.sched_getaffinity(0)) or 1
    busy = max(0.0, now.cpu_s - before.cpu_s) / seconds / cpus * 100.0
    return {
        "cpu_count": cpus,
        "cpu_used_pct": round(min(100.0, busy), 2),
        "mem_total": int(req.get("mem_total") or CONFIG.memory),
        "mem_used": now.rss,
        "disk_total": CONFIG.quota,
        "disk_used": usage(),
        "rx_rate_kbyte_per_s": round(max(0, now.rx - before.rx) / seconds / KIB, 3),
        "tx_rate_kbyte_per_s": round(max(0, now.tx - before.tx) / seconds / KIB, 3),
        "rx_used_kbyte": round(now.rx / KIB, 3),
        "tx_used_kbyte": round(now.tx / KIB, 3),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _own_processes() -> tuple[float, int]:
    """CPU seconds (their own and their reaped children's) and resident bytes of every
    process of this uid."""
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    uid = os.getuid()
    cpu = 0
    rss = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it exited meanwhile
        # After the command name: state(0) ... utime(11) stime(12) cutime(13) cstime(14)
        # ... rss(21), in pages.
        cpu += sum(int(value) for value in fields[11:15])
        rss += int(fields[21]) * page
    return cpu / ticks, rss


def _network_bytes() -> tuple[int, int]:
    """Bytes received and sent on every interface of this network namespace."""
    rx = tx = 0
    try:
        with open("/proc/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        _, _, counters = line.partition(":")
        values = counters.split()
        if len(values) >= 9:
            rx += int(values[0])
            tx += int(values[8])
    return rx, tx
