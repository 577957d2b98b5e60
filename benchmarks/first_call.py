"""first call: how long a session's first python cell takes, sandbox start included.

Straight on the sandbox backend (no HTTP), so only the sandbox's own cost is measured: for
each of `n` fresh sessions, the wall time of its first `run_code` (bubblewrap, the agent, the
kernel, the cell), then of a second, trivial cell; and, for a few cells that need more than
the standard library, the first such cell of a fresh session. Run it alone on a quiet
machine: `python -m benchmarks.first_call [n]`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import anyio

from aioagb.server.sandbox import make_backend

from ._stats import median, percentile

# Cells whose first run is measured on fresh sessions, by what they need.
CELLS = {
    "1 + 1": "1 + 1",
    "display(HTML)": "from IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))",
    "import numpy": "import numpy as np\nnp.arange(3).sum()",
    "matplotlib plot": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
}


async def _first_calls(n: int, root: Path) -> dict[str, list[float]]:
    backend = await anyio.to_thread.run_sync(make_backend, root)
    timings: dict[str, list[float]] = {name: [] for name in CELLS}
    timings["second 1 + 1"] = []
    try:
        for i in range(n):
            for name, code in CELLS.items():
                sandbox = await backend.create(f"first-{i}-{len(timings[name])}-{abs(hash(name))}")
                started = time.perf_counter()
                run = await sandbox.run_code(code, "python", 60)
                timings[name].append(time.perf_counter() - started)
                if run.error:
                    raise RuntimeError(f"{name}: {run.error}")
                if name == "1 + 1":
                    started = time.perf_counter()
                    await sandbox.run_code("1 + 1", "python", 60)
                    timings["second 1 + 1"].append(time.perf_counter() - started)
                await sandbox.aclose()
    finally:
        await backend.aclose()
    return timings


def main() -> None:
    """Prints the minimum, median and p90 of each first cell, in milliseconds."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    root = Path(tempfile.mkdtemp(prefix="aioagb-first-", dir="/tmp"))
    root.chmod(0o711)  # the sessions' uids pass through it
    try:
        timings = anyio.run(_first_calls, n, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    # The minimum is what the code costs; the median and p90 add what a busy machine costs.
    print(f"{'first cell of a fresh session':<32} {'min':>7} {'median':>9} {'p90':>9}   (n={n})")
    for name, values in timings.items():
        ms = [min(values) * 1000, median(values) * 1000, percentile(values, 90) * 1000]
        print(f"{name:<32} {ms[0]:>5.0f}ms {ms[1]:>7.0f}ms {ms[2]:>7.0f}ms")


if __name__ == "__main__":
    main()
