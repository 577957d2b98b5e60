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

from aioagb.cli.agb_local import SERVE_WARM_SANDBOXES, SERVE_WARM_SANDBOXES_MAX

from . import _procs, agb_local, batch, browser, languages, overhead, pool, start, transfer
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
    # Issue 14, sandboxes that are ready at once (the server section):
    first_calls: int = 100  # create -> first run_code, one session after another, per server
    first_call_pause_s: float = 0.25  # between them: a warm pool refills
    warm_pool: int = 10  # the pool of the first-call figure; its sandboxes' idle memory
    # `aioagb serve`'s default --warm-sandboxes; the e2e batch keeps it fixed (a pool grown by
    # one client's run would favour the next), the bursts grow it as serve does.
    default_pool: int = SERVE_WARM_SANDBOXES
    burst_sessions: int = 60  # at once, each create + first run_code + delete
    started_sessions: int = 10  # sessions started by a first call, then idle (their memory)
    e2e_sessions: int = 200  # the end-to-end batch with real sandboxes and injected latency
    e2e_concurrency: int = 50
    e2e_sized_pool: bool = True  # that batch again with a pool of e2e_sessions sandboxes
    e2e_pipelined: bool = True  # and aioagb's sessions each created, run and deleted in turn


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
    first_calls=10,
    first_call_pause_s=0.15,  # 10 calls never empty a pool of 10
    burst_sessions=30,  # a pool of 30 fills in about 5 s, one of 60 in about 10
    e2e_sessions=50,
    e2e_sized_pool=False,
    e2e_pipelined=False,
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


def run_server(sizes: Sizes, latency: Latency) -> dict[str, Any]:
    with running_server(NO_LATENCY) as server:
        log(
            f"server: {sizes.server_sessions} create+delete, {sizes.run_code_calls} warm "
            f"run_code, {sizes.idle_sessions} idle sessions"
        )
        out = agb_local.run(
            server,
            sizes.server_sessions,
            sizes.server_concurrency,
            sizes.run_code_calls,
            sizes.idle_sessions,
        )
    out["start"] = run_start(sizes)
    out["e2e"] = run_e2e(sizes, latency)
    return out


def run_start(sizes: Sizes) -> dict[str, Any]:
    """Issue 14's figures on servers without, with a small and with a large warm pool."""
    n, pause, burst = sizes.first_calls, sizes.first_call_pause_s, sizes.burst_sessions
    out: dict[str, Any] = {}
    with running_server(NO_LATENCY) as server:
        log(f"start: no warm pool: {n} first calls, {burst} at once, idle memory")
        out["first_call_cold"] = start.first_calls(server, n, pause, pool=0)
        out["burst_cold"] = start.burst(server, burst, pool=0)
        out["started_memory"] = start.started_sessions_memory(server, sizes.started_sessions)
    size = sizes.warm_pool
    with running_server(NO_LATENCY, warm_sandboxes=size) as server:
        log(f"start: warm pool of {size}: its idle sandboxes' memory, {n} first calls")
        out["warm_pool_fill_s"] = _procs.wait_for_started(server.pid, size)
        out["warm_memory"] = start.idle_memory(server)
        out["first_call_warm"] = start.first_calls(server, n, pause, pool=size)
    default, ceiling = sizes.default_pool, SERVE_WARM_SANDBOXES_MAX  # `aioagb serve`'s
    with running_server(NO_LATENCY, warm_sandboxes=default, warm_sandboxes_max=ceiling) as server:
        log(f"start: warm pool of {default}: {burst} at once, {sizes.idle_sessions} idle sessions")
        out["burst_default_pool"] = start.burst(server, burst, pool=default)
        # The first burst's misses grew the pool (one per miss, up to its ceiling): the next
        # burst of that size starts with more sandboxes ready.
        grown = min(ceiling, default + burst)
        log(f"start: the pool grown to {grown}: {burst} at once again")
        out["burst_grown_pool"] = start.burst(server, burst, pool=grown)
        out["idle_default_pool"] = agb_local.idle_sessions(server, sizes.idle_sessions)
    with running_server(NO_LATENCY, warm_sandboxes=burst) as server:
        log(f"start: warm pool of {burst}: {burst} at once")
        out["burst_sized_pool"] = start.burst(server, burst, pool=burst)
    return out


def run_e2e(sizes: Sizes, latency: Latency) -> dict[str, Any]:
    """The batch with real sandboxes and the injected latency: aioagb, then the official SDK
    in threads, each starting with the server's warm pool full."""
    n, c, threads = sizes.e2e_sessions, sizes.e2e_concurrency, sizes.official_threads
    out: dict[str, Any] = {
        "sessions": n,
        "concurrency": c,
        "official_threads": threads,
        "physical_limit_s": batch.physical_limit_s(n, c, latency),
        "official_physical_limit_s": batch.physical_limit_s(n, threads, latency),
    }
    pools = [("default_pool", sizes.default_pool)]
    if sizes.e2e_sized_pool:
        pools.append(("sized_pool", n))
    for key, size in pools:
        with running_server(latency, warm_sandboxes=size) as server:
            fill_s = _procs.wait_for_started(server.pid, size, timeout_s=300)
            log(f"e2e: warm pool of {size} (filled in {fill_s:.1f} s): aioagb, {n} at C={c}")
            figures: dict[str, Any] = {"pool": size, "pool_fill_s": fill_s}
            figures["aioagb_s"] = batch.aioagb_batch(server, n, c)
            _procs.wait_for_started(server.pid, size, timeout_s=300)
            if sizes.e2e_pipelined:
                log(f"e2e: warm pool of {size}: aioagb pipelined, {n} at C={c}")
                figures["aioagb_pipelined_s"] = batch.aioagb_pipelined(server, n, c)
                _procs.wait_for_started(server.pid, size, timeout_s=300)
            log(f"e2e: warm pool of {size}: official SDK, {n} in {threads} threads")
            figures["official_threads_s"] = batch.official_threads(server, n, threads)
        out[key] = figures
    return out


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
            f"aioagb {_s(sdk)}; ceiling ceil(N/{b['official_threads']})/ceil(N/C) = "
            f"{bound:.2f}x (latency alone allows no more)",
            f"aioagb {threads / sdk:.1f}x faster = {threads / sdk / bound:.2f} of the ceiling",
            ">= 0.8 of the ceiling",
            threads / sdk / bound >= 0.8,
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
    rows = [
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
            target="p50 <= 5 ms",
            met=rc["p50_s"] <= 0.005,
        ),
    ]
    st = s["start"]
    return [
        *rows,
        *_start_rows(st),
        _idle_row(mem, st["idle_default_pool"]),
        *_e2e_rows(s["e2e"]),
    ]


def _idle_row(mem: dict[str, Any], pooled: dict[str, Any]) -> Row:
    n = mem["sessions"]
    name = f"server: RSS with {n} idle sessions" + (
        "" if n >= 1000 else " (quick: the target is for 1,000)"
    )
    # The sandboxes' own processes are not the server's: shown, not judged. Without a pool
    # idle sessions have none; with one, a create takes a started sandbox while any is ready.
    reference = (
        f"{mem['rss_before_mib']:.0f} MiB with none; with the default warm pool: "
        f"{pooled['rss_mib']:.0f} MiB (sandboxes' processes: RSS "
        f"{mem['sandbox_processes_rss_mib']:.0f} MiB without a pool, "
        f"{pooled['sandbox_processes_rss_mib']:.0f} MiB with it)"
    )
    return Row(
        name,
        f"{mem['rss_mib']:.0f} MiB",
        reference,
        f"{mem['rss_per_session_kib']:.1f} KiB/session",
        "<= 200 MiB",
        max(mem["rss_mib"], pooled["rss_mib"]) <= 200,
    )


def _start_rows(st: dict[str, Any]) -> list[Row]:
    warm, cold = st["first_call_warm"], st["first_call_cold"]
    pause = f"{warm['pause_s'] * 1000:.0f} ms apart"
    bc, bd, bs = st["burst_cold"], st["burst_default_pool"], st["burst_sized_pool"]
    bg = st["burst_grown_pool"]
    burst = f"{bc['sessions']} sessions at once (create + first run_code + delete)" + (
        "" if bc["sessions"] >= 60 else " (quick: the target is for 60)"
    )
    wm, sm = st["warm_memory"], st["started_memory"]
    return [
        Row(
            f"start: create -> first python run_code answered, warm pool of {warm['pool']} "
            f"({warm['sessions']} sessions one after another, {pause})",
            f"p50 {_ms(warm['p50_s'])}, p99 {_ms(warm['p99_s'])}",
            f"no pool: p50 {_ms(cold['p50_s'])}, p99 {_ms(cold['p99_s'])}",
            f"{cold['p50_s'] / warm['p50_s']:.1f}x faster",
            "p50 <= 25 ms",
            warm["p50_s"] <= 0.025,
        ),
        Row(
            f"start: {burst}, warm pool of {bd['pool']} (`aioagb serve`'s default)",
            f"{bd['per_second']:.0f} /s",
            f"no pool: {bc['per_second']:.0f} /s",
            f"{bd['per_second'] / bc['per_second']:.1f}x",
            ">= 40 /s",
            bd["per_second"] >= 40,
        ),
        Row(
            f"start: {burst} again, on the same server: its pool grown to {bg['pool']} by the "
            "first burst's misses (`--warm-sandboxes-max`'s default)",
            f"{bg['per_second']:.0f} /s",
            f"no pool: {bc['per_second']:.0f} /s; first burst {bd['per_second']:.0f} /s",
            f"{bg['per_second'] / bc['per_second']:.1f}x",
            ">= 40 /s",
            bg["per_second"] >= 40,
        ),
        Row(
            f"start: {burst}, warm pool of {bs['pool']} (sized for the burst)",
            f"{bs['per_second']:.0f} /s",
            f"no pool: {bc['per_second']:.0f} /s; the pool filled in {bs['pool_fill_s']:.1f} s",
            f"{bs['per_second'] / bc['per_second']:.1f}x",
            ">= 40 /s",
            bs["per_second"] >= 40,
        ),
        Row(
            f"start: an idle started sandbox (bwrap, agent, kernel), PSS, mean of "
            f"{wm['sandboxes']} warm ones in the pool",
            f"PSS {wm['pss_mib']:.1f} MiB",
            f"USS {wm['uss_mib']:.1f} MiB, RSS {wm['rss_mib']:.1f} MiB; after a first call "
            f"(no pool, mean of {sm['sandboxes']}): PSS {sm['pss_mib']:.1f}, "
            f"USS {sm['uss_mib']:.1f}, RSS {sm['rss_mib']:.1f} MiB",
            "",
            "<= 20 MiB (PSS)",
            max(wm["pss_mib"], sm["pss_mib"]) <= 20,
        ),
    ]


def _e2e_rows(e: dict[str, Any]) -> list[Row]:
    n, c, threads = e["sessions"], e["concurrency"], e["official_threads"]
    limit, official_limit = e["physical_limit_s"], e["official_physical_limit_s"]
    ceiling = math.ceil(n / threads) / math.ceil(n / c)
    name = f"e2e: {n} x (create + run_code + delete), C={c}, real sandboxes" + (
        "" if n >= 200 else " (quick: the target is for 200)"
    )
    rows = []
    for key, what in (
        ("default_pool", "the default, kept fixed"),
        ("sized_pool", "sized for the batch"),
    ):
        if key not in e:
            continue
        f = e[key]
        sdk, official = f["aioagb_s"], f["official_threads_s"]
        pool = f"warm pool of {f['pool']} ({what})"
        rows += [
            Row(
                f"{name}, {pool}, aioagb",
                _s(sdk),
                f"physical limit {_s(limit)} (ceil(N/C) x latencies)",
                f"{sdk / limit:.2f}x",
                "<= 3x",
                sdk / limit <= 3,
            ),
            Row(
                f"{name}, {pool}, official SDK, {threads} threads",
                _s(official),
                f"aioagb {_s(sdk)}; ceiling ceil(N/{threads})/ceil(N/C) = {ceiling:.2f}x; "
                f"official SDK {official / official_limit:.2f}x its own limit "
                f"{_s(official_limit)}",
                f"official SDK's time / aioagb's {official / sdk:.2f}x = "
                f"{official / sdk / ceiling:.2f} of the ceiling",
                ">= 0.8 of the ceiling",
                official / sdk / ceiling >= 0.8,
            ),
        ]
        if "aioagb_pipelined_s" in f:
            piped = f["aioagb_pipelined_s"]
            rows.append(
                Row(
                    f"{name}, {pool}, aioagb pipelined (agb.map_sessions: each session "
                    "created, run, deleted in turn, C at a time)",
                    _s(piped),
                    f"aioagb (agb.sessions) {_s(sdk)}; official SDK {_s(official)}",
                    f"{piped / limit:.2f}x the limit; official SDK's time / this "
                    f"{official / piped:.2f}x = {official / piped / ceiling:.2f} of the ceiling",
                )
            )
    return rows


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
        results["server"] = run_server(sizes, latency)
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
