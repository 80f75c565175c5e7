"""False-alarm rate of the publication gate over normal generated nights.

Generates N customers (default 1,000) with H days of history (default 28) and D nights
(default 31: the backfill night plus 30 normal ones), runs every night through the real
DAG (`touchpoint run`, continuing after a blocked night) on a fresh database, then counts
per night whether the audit blocked publication and which checks failed. Nothing is
injected: every block is a false alarm. The anomaly metrics' verdicts come from
ops.metric_values, the blocks from ops.publication_log.

    python bench/bench_false_alarms.py [--customers 1000] [--nights 31]

Results: bench/results/false_alarms.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from touchpoint import warehouse  # noqa: E402
from touchpoint.db import drop_database, recreate_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--nights", type=int, default=31)
    parser.add_argument("--history-days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--start", default="2026-11-01")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "false_alarms.json")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    base_url = os.environ.get("WAREHOUSE_URL") or warehouse.start()
    db = f"bench_false_alarms_{args.customers}"
    url = recreate_database(base_url, db)
    start = date.fromisoformat(args.start)
    end = start + timedelta(days=args.nights - 1)
    with tempfile.TemporaryDirectory(prefix="tp_false_alarms_") as tmp:
        data = Path(tmp) / "data"
        subprocess.run([sys.executable, "-m", "touchpoint.cli", "generate", "--customers", str(args.customers),
                        "--days", str(args.nights), "--start", args.start, "--history-days", str(args.history_days),
                        "--seed", str(args.seed), "--out", str(data)], check=True, cwd=REPO)
        env = {**os.environ, "WAREHOUSE_URL": url, "TOUCHPOINT_LANDING_DIR": str(data / "landing"),
               "TOUCHPOINT_LOCAL_DIR": str(Path(tmp) / "local"), "TOUCHPOINT_CONTINUE_ON_FAILURE": "1"}
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "touchpoint.cli", "run", "--start", args.start, "--end", end.isoformat()],
                       env=env, cwd=REPO, stdout=subprocess.DEVNULL)
        seconds = time.monotonic() - started
    with psycopg.connect(url) as conn:
        decisions = conn.execute(
            "select distinct on (logical_date) logical_date, decision, failed_checks from ops.publication_log"
            " order by logical_date, publication_id desc").fetchall()
        metric_counts = conn.execute(
            "select count(*), count(*) filter (where status = 'failed'), count(*) filter (where status = 'warned'),"
            " count(distinct metric) from ops.metric_values where logical_date > %s", (start,)).fetchone()
        failed_metrics = conn.execute(
            "select logical_date, metric, reason from ops.metric_values where status = 'failed' order by 1, 2").fetchall()
    normal = [d for d in decisions if d[0] > start]
    blocked = [d for d in normal if d[1] == "blocked"]
    result = {
        "customers": args.customers, "history_days": args.history_days, "seed": args.seed,
        "nights_run": len(decisions), "normal_nights": len(normal), "blocked_normal_nights": len(blocked),
        "false_alarm_rate_nights": round(len(blocked) / len(normal), 4) if normal else None,
        "metric_evaluations": metric_counts[0], "metric_failures": metric_counts[1], "metric_warnings": metric_counts[2],
        "metrics": metric_counts[3],
        "false_alarm_rate_metric_evaluations": round(metric_counts[1] / metric_counts[0], 5) if metric_counts[0] else None,
        "backfill_night": decisions[0][1] if decisions else None,
        "failed_metrics": [{"night": str(d), "metric": m, "reason": r} for d, m, r in failed_metrics],
        "blocked_nights": [{"night": str(d), "checks": [c.get("reason") or c.get("check_name") for c in (fc or [])][:5]}
                           for d, _, fc in blocked],
        "seconds": round(seconds, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.keep:
        drop_database(base_url, db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
