"""BI readers during publication and rollback: how long does any reader wait?

A candidate of --rows customers and a second mart is published once; then, with a BI
query of --long-seconds running on customer_360, two BI transactions that each hold one
mart while reading the other, and pollers on both marts (a query every 50 ms), the
benchmark (1) publishes a night that changes 10% of the rows, (2) rolls it back,
(3) publishes a night that adds a column (the one case that needs DDL on a view). It
records how long each took and the longest single reader wait, and whether any reader
got an error (a deadlock before issue 10).

Results go to bench/results/publish_readers.json.

    python -m bench.bench_publish_readers [--rows 200000] [--long-seconds 20]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import uuid
from datetime import date
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "platform"))

from test_publish_locks import swap_beside_readers  # noqa: E402
from touchpoint import warehouse  # noqa: E402
from touchpoint.bootstrap import ensure_warehouse  # noqa: E402
from touchpoint.db import create_database, drop_database  # noqa: E402
from touchpoint.publish import publish, rollback  # noqa: E402

CANDIDATE = "marts_candidate"


def build(conn: psycopg.Connection, rows: int) -> None:
    conn.execute(f"create schema {CANDIDATE}")
    conn.execute(
        f"create table {CANDIDATE}.customer_360 as select g as customer_id, 'segment ' || (g % 7) as segment, "
        f"(g * 1.5)::numeric(12, 2) as lifetime_value, clock_timestamp() as _changed_at "
        f"from generate_series(1, {rows}) g")
    conn.execute(f"create unique index on {CANDIDATE}.customer_360 (customer_id)")
    conn.execute(f"create table {CANDIDATE}.orders_daily as select d::date as order_date, 'web' as channel, "
                 f"10 as orders, clock_timestamp() as _changed_at "
                 f"from generate_series('2026-01-01'::date, '2026-11-30'::date, interval '1 day') d")
    conn.execute(f"create unique index on {CANDIDATE}.orders_daily (order_date, channel)")


def scenario(url: str, long_seconds: float, action) -> dict:
    readers, took = swap_beside_readers(url, action, long_seconds)
    return {"seconds": round(took, 3), "longest_reader_wait_seconds": round(max(readers.waits.values()), 3),
            "reader_waits": {k: round(v, 3) for k, v in readers.waits.items()},
            "reader_errors": [f"{type(e).__name__}: {e}" for e in readers.errors]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--long-seconds", type=float, default=20)
    args = parser.parse_args(argv)
    base = warehouse.start()
    name = f"tp_bench_readers_{uuid.uuid4().hex[:8]}"
    url = create_database(base, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            ensure_warehouse(conn)
            build(conn, args.rows)
            publish(conn, "bench-1", date(2026, 11, 1), CANDIDATE)
            conn.execute(f"update {CANDIDATE}.customer_360 set segment = 'changed', _changed_at = clock_timestamp() "
                         "where customer_id % 10 = 0")
            results = {"publish": scenario(url, args.long_seconds,
                                           lambda: publish(conn, "bench-2", date(2026, 11, 2), CANDIDATE))}
            results["rollback"] = scenario(url, args.long_seconds, lambda: rollback(conn))
            conn.execute(f"alter table {CANDIDATE}.customer_360 add column is_active boolean")
            conn.execute(f"update {CANDIDATE}.customer_360 set is_active = true, _changed_at = clock_timestamp()")
            results["publish_with_view_change"] = scenario(
                url, args.long_seconds, lambda: publish(conn, "bench-3", date(2026, 11, 3), CANDIDATE))
    except Exception as exc:  # noqa: BLE001 - recorded: a swap that gave up is a result too
        results = {**locals().get("results", {}), "error": f"{type(exc).__name__}: {exc}"}
    finally:
        drop_database(base, name)
    out = {"rows": args.rows, "long_query_seconds": args.long_seconds, "machine": platform.platform(),
           "results": results}
    path = REPO / "bench" / "results" / "publish_readers.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
