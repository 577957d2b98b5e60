"""`python3 -m benchmarks [--quick] [--json out.json]`: every benchmark, one table.

Starts AGB Local in its own process (with the injected latency and a null sandbox, without
latency for the overhead, and with real sandboxes), runs batch, overhead, server, pool,
transfer and browser, prints a markdown table with medians, ratios and each target met or not,
and writes the raw numbers as JSON. Missed targets are reported, never an error: the exit
status is non-zero only when a benchmark itself fails.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import attrs

from . import agb_local, batch, browser, languages, overhead, pool, transfer
from ._server import NO_LATENCY, Latency, running_server
from ._stats import median
from .report import Row, machine, machine_line, table


@attrs.frozen
class Sizes:
    sessions: int = 500
    concurrency: int = 64
    repeats: int = 3
    official_sequential: int = 20
    official_threads: int = 16
    sandboxed_sessions: int = 500
    overhead_calls: int = 5_000
    server_sessions: int = 1_000
    server_concurrency: int = 16
    run_code_calls: int = 500
    idle_sessions: int = 1_000
    pool_gets: int = 200
    transfer_bytes: int = 1_000_000_000  # 1 GB up and down (twice each: context, session)
    language_sessions: int = 10  # fresh sessions per language, for the first call
    language_calls: int = 50  # warm calls per language
    browser_starts: int = 5


QUICK = Sizes(
    sessions=64,
    concurrency=32,
    repeats=1,
    official_sequential=3,
    sandboxed_sessions=16,
    overhead_calls=500,
    server_sessions=100,
    run_code_calls=50,
    idle_sessions=100,
    pool_gets=20,
    transfer_bytes=64 * 1024 * 1024,
    language_sessions=2,
    language_calls=5,
    browser_starts=1,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    parser.add_argument("--sessions", type=int, help="batch size N (default 500)")
    parser.add_argument("--concurrency", type=int, help="batch concurrency C (default 64)")
    parser.add_argument("--repeats", type=int, help="runs of each aioagb batch (median)")
    parser.add_argument("--create-latency", type=float, default=0.2, metavar="S")
    parser.add_argument("--tool-latency", type=float, default=0.05, metavar="S")
    parser.add_argument("--release-latency", type=float, default=0.1, metavar="S")
    parser.add_argument(
        "--only",
        action="append",
        choices=("batch", "overhead", "server", "languages", "pool", "transfer", "browser"),
        help="run only these sections (repeatable)",
    )
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    overrides = {
        name: getattr(args, name)
        for name in ("sessions", "concurrency", "repeats")
        if getattr(args, name) is not None
    }
    return attrs.evolve(sizes, **overrides)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_batch(sizes: Sizes, latency: Latency) -> dict[str, Any]:
    n, c = sizes.sessions, sizes.concurrency
    out: dict[str, Any] = {"sessions": n, "concurrency": c, "latency": attrs.asdict(latency)}
    out["physical_limit_s"] = batch.physical_limit_s(n, c, latency)
    with running_server(latency, backend="null") as server:
        batch.aioagb_batch(server, min(n, c), c)  # warm-up: imports, first connections
        runs = []
        for i in range(sizes.repeats):
            log(f"batch: aioagb, {n} sessions at concurrency {c} ({i + 1}/{sizes.repeats})")
            runs.append(batch.aioagb_batch(server, n, c))
        out["aioagb_runs_s"] = runs
        out["aioagb_s"] = median(runs)
        log(f"batch: aioagb, {n} sessions at concurrency {n} (all at once)")
        out["aioagb_all_at_once_s"] = batch.aioagb_batch(server, n, n)
        out["physical_limit_all_at_once_s"] = batch.physical_limit_s(n, n, latency)
        seq = sizes.official_sequential
        log(f"batch: official SDK, {seq} sessions one after another")
        out["official_sequential_sessions"] = seq
        out["official_sequential_measured_s"] = batch.official_sequential(server, seq)
        out["official_sequential_s"] = out["official_sequential_measured_s"] * n / seq
        threads = sizes.official_threads
        log(f"batch: official SDK, {n} sessions in {threads} threads")
        out["official_threads"] = threads
        out["official_threads_s"] = batch.official_threads(server, n, threads)
        log(f"batch: official SDK, {n} sessions in {c} threads (aioagb's concurrency)")
        out["official_threads_at_c_s"] = batch.official_threads(server, n, c)
    ns = sizes.sandboxed_sessions
    with running_server(latency) as server:
        log(f"batch: aioagb, {ns} sessions, real sandboxes (python started in each)")
        out["sandboxed_sessions"] = ns
        out["sandboxed_physical_limit_s"] = batch.physical_limit_s(ns, c, latency)
        out["aioagb_sandboxed_s"] = batch.aioagb_batch(server, ns, c)
    return out


def run_overhead(sizes: Sizes) -> dict[str, Any]:
    with running_server(NO_LATENCY, backend="null") as server:
        log(f"overhead: {sizes.overhead_calls} get_labels, aioagb and raw aiohttp")
        return overhead.run(server, sizes.overhead_calls)


def run_server(sizes: Sizes) -> dict[str, Any]:
    with running_server(NO_LATENCY) as server:
        log(
            f"server: {sizes.server_sessions} create+delete, {sizes.run_code_calls} warm "
            f"run_code, {sizes.idle_sessions} idle sessions"
        )
        return agb_local.run(
            server,
            sizes.server_sessions,
            sizes.server_concurrency,
            sizes.run_code_calls,
            sizes.idle_sessions,
        )


def run_languages(sizes: Sizes) -> dict[str, Any]:
    with running_server(NO_LATENCY) as server:
        log(
            f"languages: first call of {sizes.language_sessions} fresh sessions and "
            f"{sizes.language_calls} warm calls, per language"
        )
        return languages.run(server, sizes.language_sessions, sizes.language_calls)


def run_pool(sizes: Sizes, latency: Latency) -> dict[str, Any]:
    with running_server(latency, backend="null") as server:
        log(f"pool: {sizes.pool_gets} gets from a warm pool, and fresh creates")
        return pool.run(server, sizes.pool_gets)


def run_transfer(sizes: Sizes) -> dict[str, Any]:
    with running_server(NO_LATENCY) as server:
        log(f"transfer: {sizes.transfer_bytes / 1e6:.0f} MB up and down, client in its own process")
        return transfer.run(server, sizes.transfer_bytes)


def run_browser(sizes: Sizes) -> dict[str, Any]:
    with running_server(NO_LATENCY) as server:
        log(f"browser: {sizes.browser_starts} cold starts of a browser session to a page title")
        return browser.run(server, sizes.browser_starts)


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def rows_for(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if "batch" in results:
        rows += _batch_rows(results["batch"])
    if "overhead" in results:
        o = results["overhead"]
        rows.append(
            Row(
                f"overhead: {o['calls']} get_labels, one at a time",
                f"aioagb {o['aioagb_per_call_s'] * 1e6:.0f} µs/call",
                f"raw aiohttp {o['raw_aiohttp_per_call_s'] * 1e6:.0f} µs/call",
                f"{o['ratio']:.2f}x",
                "<= 1.15x",
                o["ratio"] <= 1.15,
            )
        )
    if "server" in results:
        rows += _server_rows(results["server"])
    if "languages" in results:
        rows += _language_rows(results["languages"])
    if "transfer" in results:
        rows += _transfer_rows(results["transfer"])
    if "browser" in results:
        rows += _browser_rows(results["browser"])
    if "pool" in results:
        p = results["pool"]
        rows.append(
            Row(
                "pool: get a session",
                f"warm pool {p['pool_get_s'] * 1e6:.0f} µs",
                f"fresh create {_ms(p['fresh_create_s'])}",
                f"{p['ratio']:.0f}x faster",
            )
        )
    return rows


def _batch_rows(b: dict[str, Any]) -> list[Row]:
    n, c = b["sessions"], b["concurrency"]
    limit, sdk = b["physical_limit_s"], b["aioagb_s"]
    threads = b["official_threads_s"]
    seq_note = f"{b['official_sequential_sessions']} measured, scaled to {n}"
    # With every call taking exactly its injected latency, T threads need ceil(N/T) rounds.
    bound = math.ceil(n / b["official_threads"]) / math.ceil(n / c)
    return [
        Row(
            f"batch: {n} x (create + run_code + delete), C={c}, aioagb",
            _s(sdk),
            f"physical limit {_s(limit)} (ceil(N/C) x latencies)",
            f"{sdk / limit:.2f}x",
            "<= 1.25x",
            sdk / limit <= 1.25,
        ),
        Row(
            f"batch: official SDK, {b['official_threads']} threads",
            _s(threads),
            f"aioagb {_s(sdk)}; latency alone allows at most {bound:.1f}x",
            f"aioagb {threads / sdk:.1f}x faster",
            ">= 10x faster",
            threads / sdk >= 10,
        ),
        Row(
            f"batch: official SDK, {c} threads (aioagb's concurrency)",
            _s(b["official_threads_at_c_s"]),
            f"aioagb {_s(sdk)}",
            f"aioagb {b['official_threads_at_c_s'] / sdk:.1f}x faster",
        ),
        Row(
            f"batch: aioagb, C=N={n} (all at once)",
            _s(b["aioagb_all_at_once_s"]),
            f"official SDK, {b['official_threads']} threads {_s(threads)}; "
            f"physical limit {_s(b['physical_limit_all_at_once_s'])}",
            f"aioagb {threads / b['aioagb_all_at_once_s']:.1f}x faster",
        ),
        Row(
            f"batch: official SDK, sequential ({seq_note})",
            _s(b["official_sequential_s"]),
            f"aioagb {_s(sdk)}",
            f"aioagb {b['official_sequential_s'] / sdk:.0f}x faster",
        ),
        Row(
            f"batch: {b['sandboxed_sessions']} sessions, aioagb, real sandboxes",
            _s(b["aioagb_sandboxed_s"]),
            f"physical limit {_s(b['sandboxed_physical_limit_s'])}",
            f"{b['aioagb_sandboxed_s'] / b['sandboxed_physical_limit_s']:.2f}x",
        ),
    ]


def _server_rows(s: dict[str, Any]) -> list[Row]:
    cd, rc, mem = s["create_delete"], s["warm_run_code"], s["idle_memory"]
    return [
        Row(
            f"server: create+delete, {cd['sessions']} sessions, {cd['concurrency']} at a time",
            f"{cd['per_second']:.0f} /s",
            target=">= 300 /s",
            met=cd["per_second"] >= 300,
        ),
        Row(
            f"server: warm python run_code, {rc['calls']} calls",
            f"p50 {_ms(rc['p50_s'])}, p99 {_ms(rc['p99_s'])}",
            f"first (cold) call {_ms(rc['cold_first_call_s'])}",
            target="p50 <= 15 ms",
            met=rc["p50_s"] <= 0.015,
        ),
        Row(
            f"server: RSS with {mem['sessions']} idle sessions",
            f"{mem['rss_mib']:.0f} MiB",
            f"{mem['rss_before_mib']:.0f} MiB with none",
            f"{mem['rss_per_session_kib']:.1f} KiB/session",
            "<= 200 MiB",
            mem["rss_mib"] <= 200,
        ),
    ]


def _language_rows(by_language: dict[str, Any]) -> list[Row]:
    rows = []
    for language, figures in by_language.items():
        if figures is None:
            rows.append(Row(f"languages: {language}", "not installed here"))
            continue
        rows.append(
            Row(
                f"languages: {language}, first call of a fresh session",
                f"p50 {_ms(figures['first_p50_s'])}, p99 {_ms(figures['first_p99_s'])}",
                f"warm p50 {_ms(figures['warm_p50_s'])}, p99 {_ms(figures['warm_p99_s'])}",
            )
        )
    return rows


def _browser_rows(b: dict[str, Any]) -> list[Row]:
    mib = b["session_memory_bytes"] / 2**20
    return [
        Row(
            "browser: cold start, create -> page title (playwright over CDP)",
            _s(b["cold_start_s"]),
            f"of which initialize {_s(b['initialize_s'])}",
            target="<= 5 s",
            met=b["cold_start_s"] <= 5,
        ),
        Row(
            "browser: session memory with Chromium and one page",
            f"{mib:.0f} MiB",
            f"cap {b['memory_cap_bytes'] / 2**20:.0f} MiB",
            target="<= half the cap",
            met=b["session_memory_bytes"] <= b["memory_cap_bytes"] / 2,
        ),
    ]


def _transfer_rows(t: dict[str, Any]) -> list[Row]:
    size = f"{t['bytes'] / 1e6:.0f} MB"
    growth = t["rss_growth_bytes"] / 2**20
    rows = [
        Row(
            f"transfer: {size} {what} ({how})",
            f"{t[f'{key}_mb_s']:.0f} MB/s",
            f"{t[f'{key}_s']:.1f} s",
        )
        for key, what, how in (
            ("context_upload", "up", "agb.context.upload_file: PUT"),
            ("context_download", "down", "agb.context.download_file: GET"),
            ("session_upload", "up", "session.file.upload: PUT + sync into the session"),
            ("session_download", "down", "session.file.download: sync out + GET"),
        )
    ]
    rows.append(
        Row(
            f"transfer: client peak RSS over the {size} transfers",
            f"+{growth:.1f} MiB",
            f"{t['rss_before_transfers_bytes'] / 2**20:.0f} MiB before, "
            f"{t['peak_rss_bytes'] / 2**20:.0f} MiB peak",
            target="<= 64 MiB growth",
            met=growth <= 64,
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_from(args)
    latency = Latency(args.create_latency, args.tool_latency, args.release_latency)
    sections = args.only or [
        "batch",
        "overhead",
        "server",
        "languages",
        "pool",
        "transfer",
        "browser",
    ]
    info = machine()
    log(f"machine: {machine_line(info)}")
    started = time.perf_counter()
    results: dict[str, Any] = {}
    if "batch" in sections:
        results["batch"] = run_batch(sizes, latency)
    if "overhead" in sections:
        results["overhead"] = run_overhead(sizes)
    if "server" in sections:
        results["server"] = run_server(sizes)
    if "languages" in sections:
        results["languages"] = run_languages(sizes)
    if "pool" in sections:
        results["pool"] = run_pool(sizes, latency)
    if "transfer" in sections:
        results["transfer"] = run_transfer(sizes)
    if "browser" in sections:
        results["browser"] = run_browser(sizes)
    rows = rows_for(results)
    mode = "quick" if args.quick else "full"
    print(f"\nMachine: {machine_line(info)}")
    print(
        f"Mode: {mode}; injected latency: create {latency.create_s * 1000:.0f} ms, tool call "
        f"{latency.tool_s * 1000:.0f} ms, release {latency.release_s * 1000:.0f} ms\n"
    )
    print(table(rows))
    missed = [row.name for row in rows if row.met is False]
    print(
        f"\n{sum(row.met is True for row in rows)} targets met, {len(missed)} not met "
        f"({time.perf_counter() - started:.0f} s)."
    )
    if args.json is not None:
        payload = {
            "mode": mode,
            "machine": info,
            "sizes": attrs.asdict(sizes),
            "results": results,
            "targets": [attrs.asdict(row) for row in rows if row.met is not None],
        }
        args.json.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
        log(f"raw numbers written to {args.json}")
    return 0


def _jsonable(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
