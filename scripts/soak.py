"""Soak: run the fault scenario (tests/_support/fault_scenario.py) seed after seed, for as long
as asked, and stop at the first seed that leaks a session or repeats a result.

    python3 scripts/soak.py --minutes 30            # seeds 0, 1, 2, ... until time is up
    python3 scripts/soak.py --seeds 100 --sessions 500
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import anyio

# The scenario lives with the tests' shared helpers, the package tests/_support (pytest puts
# tests/ on sys.path through `pythonpath` in pyproject.toml; this script does the same, once).
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from _support.fault_scenario import run_scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="run until this much time")
    parser.add_argument("--seeds", type=int, default=None, help="run this many seeds")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=200)
    args = parser.parse_args()
    if args.minutes is None and args.seeds is None:
        args.seeds = 20
    stop_at = time.monotonic() + args.minutes * 60 if args.minutes is not None else None
    seed = args.first_seed
    while (args.seeds is None or seed < args.first_seed + args.seeds) and (
        stop_at is None or time.monotonic() < stop_at
    ):
        started = time.monotonic()
        report = anyio.run(run_scenario, seed, args.sessions)
        problems = report.problems()
        print(
            f"seed {seed}: batch {report.batch_sessions} made, {report.batch_failures} failed"
            f"{' (cancelled)' if report.batch_cancelled else ''}; pool {report.pool_uses_ok} ok, "
            f"{report.pool_uses_cancelled} cancelled; faults seen {report.faults_seen}; "
            f"left {report.left_on_server}; {time.monotonic() - started:.1f} s"
            + (f"  PROBLEMS: {problems}" if problems else ""),
            flush=True,
        )
        if problems:
            return 1
        seed += 1
    print(f"soak: {seed - args.first_seed} seeds, no leaks, no repeated results")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
