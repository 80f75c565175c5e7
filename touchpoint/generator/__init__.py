"""Realistic omnichannel data generator with ground truth.

    generate(customers, days, start, seed, out, bad_rate=0.0, history_days=0) -> stats

writes ``OUT/landing/<source>/<YYYY-MM-DD>/<source>_<YYYYMMDD>.jsonl|csv`` for the
twelve contracted sources and ``OUT/truth/{identifiers,journey_stages,
feedback_labels,bad_rows}.csv``.  ``history_days`` H simulates H more days before
``start`` whose records all arrive in the ``start`` delivery (an initial backfill).
Phase 1 (``simulate``) decides everything in one process; phase 2 renders the
sources, in two forked processes for large runs.
Same seed and arguments -> byte-identical files.  See docs/generator.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import time
from pathlib import Path

from ingestion.registry import SOURCE_NAMES

__all__ = ["add_arguments", "run", "generate"]

# Render tasks: the two GA4 streams are the heavy ones; everything else fits in a third.
TASKS: tuple[tuple[str, ...], ...] = (
    ("web_events",),
    ("app_events",),
    ("email_events", "crm_customers", "social_mentions", "store_transactions", "ecommerce_orders",
     "support_tickets", "survey_responses", "product_reviews", "loyalty_events", "ad_spend"),
)
PARALLEL_MIN_PERSON_DAYS = 200_000   # below this, forking costs more than it saves

_WORLD = None   # set before forking so that workers inherit it copy-on-write
_ARGS: dict = {}


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more days, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, default=2000, help="population size (people, CRM or not)")
    parser.add_argument("--days", type=int, default=7, help="number of delivery days / folders from --start")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 11, 1),
                        help="first delivery day, YYYY-MM-DD (Asia/Seoul)")
    parser.add_argument("--history-days", type=_non_negative_int, default=0, dest="history_days", metavar="H",
                        help="also simulate the H days before --start; their records arrive in the --start "
                             "delivery as one initial backfill (default 0)")
    parser.add_argument("--seed", type=int, default=42, help="random seed; same seed -> identical bytes")
    parser.add_argument("--bad-rate", type=float, default=0.0, dest="bad_rate",
                        help="share of deliberately broken rows added per file (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="output directory (landing/ and truth/ inside)")
    parser.add_argument("--workers", type=int, default=None,
                        help="render processes (default: 2 for large runs, 1 for small)")


def run(args: argparse.Namespace) -> int:
    if args.customers < 1 or args.days < 1:
        print("generate: --customers and --days must be at least 1")
        return 2
    if not 0.0 <= args.bad_rate < 1.0:
        print("generate: --bad-rate must be in [0, 1)")
        return 2
    history_days = getattr(args, "history_days", 0)
    if history_days < 0:
        print("generate: --history-days must be 0 or more")
        return 2
    stats = generate(args.customers, args.days, args.start, args.seed, args.out, args.bad_rate,
                     workers=getattr(args, "workers", None), history_days=history_days)
    width = max(len(s) for s in SOURCE_NAMES)
    for source in SOURCE_NAMES:
        s = stats["sources"][source]
        bad = f"  bad {s['bad_rows']}" if s["bad_rows"] else ""
        print(f"{source:<{width}}  {s['rows']:>10,} rows  dup {s['duplicates']:>6,}  late {s['late']:>7,}{bad}")
    t = stats["truth"]
    print(f"{'truth':<{width}}  {t['identifiers']:,} identifiers, {t['journey_rows']:,} stage rows, "
          f"{t['feedback_labels']:,} feedback labels, {t['bad_rows']:,} bad rows")
    if history_days:
        first = args.start - dt.timedelta(days=history_days)
        print(f"history: {history_days} days ({first} .. {args.start - dt.timedelta(days=1)}) delivered "
              f"in the {args.start} backfill")
    print(f"{stats['rows_total']:,} rows in {stats['seconds']:.1f} s "
          f"({stats['rows_total'] / max(stats['seconds'], 1e-9):,.0f} rows/s) -> {args.out}")
    return 0


def _render(task: tuple[str, ...]):
    from touchpoint.generator.sources import render_email, render_ga4, render_records
    from touchpoint.generator.writer import SourceWriter

    world = _WORLD
    out: dict = {}
    bad: list = []
    landing = Path(_ARGS["out"]) / "landing"
    for source in task:
        writer = SourceWriter(source, landing, world.dates, world.seed, _ARGS["bad_rate"],
                              late=source != "ad_spend", first=world.history_days)
        if source in ("web_events", "app_events"):
            render_ga4(world, writer, app=source == "app_events")
        elif source == "email_events":
            render_email(world, writer)
        else:
            render_records(world, writer, source)
        out[source] = writer.stats()
        bad.extend(writer.bad_rows)
    return out, bad


def generate(customers: int, days: int, start: dt.date, seed: int, out: Path, bad_rate: float = 0.0,
             workers: int | None = None, history_days: int = 0) -> dict:
    """Simulate and write everything; returns stats (rows, duplicates, late and bad rows per source).

    ``history_days`` H: the simulation starts H days before ``start``; every record that
    would be delivered before ``start`` is delivered in the ``start`` folder instead.
    """
    global _WORLD, _ARGS
    from touchpoint.generator.simulate import simulate
    from touchpoint.generator.truth import write_truth

    if history_days < 0:
        raise ValueError(f"history_days must be 0 or more, got {history_days}")
    t0 = time.perf_counter()
    out = Path(out)
    world = simulate(customers, days, start, seed, history_days)
    t_sim = time.perf_counter() - t0
    _WORLD, _ARGS = world, {"out": str(out), "bad_rate": bad_rate}
    if workers is None:
        person_days = customers * (history_days + days)
        workers = 2 if person_days >= PARALLEL_MIN_PERSON_DAYS and (os.cpu_count() or 1) > 1 else 1
    try:
        if workers > 1:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.map(_render, TASKS, chunksize=1)
        else:
            results = [_render(task) for task in TASKS]
        bad_rows: list = []
        per_source: dict = {}
        for stats, bad in results:
            per_source.update(stats)
            bad_rows.extend(bad)
        bad_rows.sort(key=lambda r: (SOURCE_NAMES.index(r[0]), r[1], r[2]))
        truth = write_truth(world, out, bad_rows)
    finally:
        _WORLD, _ARGS = None, {}
    seconds = time.perf_counter() - t0
    sources = {s: per_source[s] for s in SOURCE_NAMES}
    return {
        "customers": customers, "days": days, "start": start.isoformat(), "history_days": history_days,
        "seed": seed, "bad_rate": bad_rate,
        "sources": sources, "truth": truth,
        "rows_total": sum(s["rows"] for s in sources.values()),
        "bad_rows_total": sum(s["bad_rows"] for s in sources.values()),
        "bad_rows": {s: v["bad_rows"] for s, v in sources.items()},
        "seconds": round(seconds, 3), "simulate_seconds": round(t_sim, 3), "workers": workers,
    }
