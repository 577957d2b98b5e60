"""The markdown table, the targets and the machine description."""

from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class Row:
    name: str
    measured: str
    reference: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None  # None: no target

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "**not met**")


def table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | measured (median) | compared with | ratio | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = (row.name, row.measured, row.reference, row.ratio, row.target, row.verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "ram_gib": round(int(meminfo.group(1)) / 1024 / 1024, 1) if meminfo else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(info: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.1f}" for x in info["load_average_at_start"])
    return (
        f"{info['nproc']} CPUs ({info['cpu_model']}), {info['ram_gib']} GiB RAM, "
        f"Python {info['python']}, {info['platform']}; load average at start {load}; "
        f"{info['date_utc']}"
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""
