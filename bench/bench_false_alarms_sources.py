"""False-alarm rate of the source-level gate over 30 normal nights, without the DAG.

The source checks and source anomaly metrics read only ops.load_manifest and
ops.delivery_profiles, which the loader writes: this replays N generated nights through
the real loader, night by night, and judges each night exactly as the audit does (source
checks, then every metric of expectations/metrics/sources.yml against its baseline:
the data's own history first, the recorded values of the published nights once there
are seven). A night with a failed check is blocked (not recorded as published), as in
the DAG. Nothing is injected: every failure is a false alarm.

    python bench/bench_false_alarms_sources.py [--customers 1000] [--nights 31] [--seed 31]

Results: bench/results/false_alarms_sources.json. The marts' metrics need the dbt
build: bench/bench_false_alarms.py runs the same nights through the DAG (slow).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.loader import ingest  # noqa: E402
from touchpoint import anomaly, source_checks, warehouse  # noqa: E402
from touchpoint.db import drop_database, recreate_database  # noqa: E402
from touchpoint.bootstrap import ensure_warehouse  # noqa: E402
from touchpoint.generator import generate  # noqa: E402

SCHEMAS = {"candidate": "marts_candidate", "intermediate": "intermediate", "staging": "staging"}


def judge_night(conn: psycopg.Connection, day: date, run_id: str) -> list[dict]:
    """The night's source checks and source metrics, recorded in ops.metric_values as the audit does."""
    return source_checks.delivery_checks(conn, day) + anomaly.evaluate(conn, run_id, day, SCHEMAS, [],
                                                                        areas={"sources"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--nights", type=int, default=31)
    parser.add_argument("--history-days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--start", default="2026-11-01")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "false_alarms_sources.json")
    args = parser.parse_args()

    base_url = os.environ.get("WAREHOUSE_URL") or warehouse.start()
    db = f"bench_false_alarms_sources_{args.customers}"
    url = recreate_database(base_url, db)
    start = date.fromisoformat(args.start)
    metrics = [m for m in anomaly.load_metrics([]) if m.area == "sources"]
    started = time.monotonic()
    nights = []
    with tempfile.TemporaryDirectory(prefix="tp_false_alarms_sources_") as tmp:
        generate(customers=args.customers, days=args.nights, start=start, history_days=args.history_days,
                 seed=args.seed, out=Path(tmp) / "data")
        with psycopg.connect(url, autocommit=True) as conn:
            ensure_warehouse(conn)
            for index in range(args.nights):
                day = start + timedelta(days=index)
                ingest(day, landing_dir=Path(tmp) / "data" / "landing", url=url)
                run_id = f"replay-{day.isoformat()}"
                checks = judge_night(conn, day, run_id)
                failed = [c for c in checks if c["status"] == "failed"]
                conn.execute("insert into ops.publication_log (run_id, logical_date, decision) values (%s, %s, %s)",
                             (run_id, day, "blocked" if failed else "published"))
                nights.append({"night": day.isoformat(), "blocked": bool(failed),
                               "failed": [c["reason"] for c in failed],
                               "judged": sum(c["check_type"] == "anomaly" and c["status"] in ("passed", "failed")
                                             for c in checks),
                               "warned": sum(c["status"] == "warned" for c in checks),
                               "baseline": sorted({c["details"].get("baseline_source") for c in checks
                                                   if c["check_type"] == "anomaly"} - {None, "none"})})
    normal = nights[1:]
    judged = sum(n["judged"] for n in normal)
    failures = sum(len(n["failed"]) for n in normal)
    result = {
        "customers": args.customers, "history_days": args.history_days, "seed": args.seed,
        "metrics": len(metrics), "normal_nights": len(normal),
        "blocked_normal_nights": sum(n["blocked"] for n in normal),
        "false_alarm_rate_nights": round(sum(n["blocked"] for n in normal) / len(normal), 4),
        "judged_metric_evaluations": judged, "failed_metric_evaluations": failures,
        "false_alarm_rate_metric_evaluations": round(failures / judged, 5) if judged else None,
        "backfill_night_blocked": nights[0]["blocked"], "seconds": round(time.monotonic() - started, 1),
        "nights": nights,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "nights"}, indent=2))
    for night in nights:
        if night["failed"]:
            print(night["night"], night["failed"])
    drop_database(base_url, db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
