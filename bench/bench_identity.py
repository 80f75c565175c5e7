"""Identity resolver benchmark: full resolution at 100k / 300k / 1M people, then one
nightly incremental run touching 1% of the components.

Synthetic edges are generated straight in PostgreSQL (generate_series) into a table
shaped like intermediate.int_identifier_edges_collected, in a scratch database per
size (dropped afterwards). People (deterministic pseudo-random by id):
  - 15% anonymous visitors: 1-2 cookies seen alone (singletons, never linked);
  - 85% known: account id, email, phone (a CRM record: 3 pairs), 1-3 cookies each
    logged in twice (cookie + account, 2 records), 40% an app install (+ account);
    ~5.4 identifiers per known person.
Night 2 (incremental), ~1% of the components are touched: 0.85% of people get a new
cookie that logs in to their account, and 0.15% (anonymous visitors) log in to the
account of a known person (two existing customers merge; the older id survives).

    python bench/bench_identity.py [--sizes 100000,300000,1000000] [--output bench/results/identity.json] [--docs]
    python bench/bench_identity.py --docs-only     # re-render docs/identity.md from the results file

Targets (2 cores): full 1M people (~5M identifiers) < 10 min; incremental < 1 min.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from touchpoint import warehouse  # noqa: E402
from touchpoint.db import admin_database_url, owned_by, with_database  # noqa: E402
from touchpoint.identity import resolve  # noqa: E402
from touchpoint.identity.state import EDGES_STANDIN_DDL, max_component_size  # noqa: E402


# People: p in 1..N. h(p, salt) is a deterministic pseudo-random 0..99.
PEOPLE_SQL = """
create temp table people as
select p,
       (abs(hashtext(p::text || ':kind')) %% 100) < 15 as anonymous,
       1 + abs(hashtext(p::text || ':cookies')) %% 3 as cookies,
       (abs(hashtext(p::text || ':app')) %% 100) < 40 as has_app,
       timestamptz '2026-10-01' + (abs(hashtext(p::text || ':t')) %% 2592000) * interval '1 second' as t
from generate_series(1, %(n)s) as p
"""

NIGHT1_SQL = """
insert into intermediate.int_identifier_edges_collected
-- anonymous visitors: cookies seen alone
select 'cookie_id', 'ck' || p || '.' || k, null, null, 'web_events', 'w' || p || '.' || k, t, 'n1', %(loaded)s
from people, generate_series(1, least(cookies, 2)) as k
where anonymous
union all
-- CRM record: account, email, phone (all pairs)
select a_type, a_value, b_type, b_value, 'crm_customers', 'A' || lpad(p::text, 9, '0'), t, 'n1', %(loaded)s
from people,
     lateral (values
        ('account_id', 'A' || lpad(p::text, 9, '0'), 'email', 'u' || p || '@example.com'),
        ('account_id', 'A' || lpad(p::text, 9, '0'), 'phone', '+8210' || lpad(p::text, 8, '0')),
        ('email', 'u' || p || '@example.com', 'phone', '+8210' || lpad(p::text, 8, '0'))
     ) as v(a_type, a_value, b_type, b_value)
where not anonymous
union all
-- web logins: each cookie with the account, in two records
select 'account_id', 'A' || lpad(p::text, 9, '0'), 'cookie_id', 'ck' || p || '.' || k, 'web_events',
       'w' || p || '.' || k || '.' || r, t + r * interval '1 hour', 'n1', %(loaded)s
from people, generate_series(1, cookies) as k, generate_series(1, 2) as r
where not anonymous
union all
-- app logins
select 'account_id', 'A' || lpad(p::text, 9, '0'), 'app_instance_id', 'app' || p, 'app_events',
       'a' || p, t, 'n1', %(loaded)s
from people
where not anonymous and has_app
"""

# ~1% of components touched: 0.85% of people (known, p % 100 = 7) get a new cookie
# logging in to their account; anonymous visitors with p % 100 = 11 (0.15% of people)
# log in to the account of a known person (two existing customers merge).
NIGHT2_SQL = """
insert into intermediate.int_identifier_edges_collected
select 'account_id', 'A' || lpad(p::text, 9, '0'), 'cookie_id', 'ck' || p || '.new', 'web_events',
       'w' || p || '.new', timestamptz '2026-11-02', 'n2', %(loaded)s
from people
where not anonymous and p %% 100 = 7
union all
select 'account_id', 'A' || lpad(known.p::text, 9, '0'), 'cookie_id', 'ck' || anon.p || '.1', 'web_events',
       'w' || anon.p || '.login', timestamptz '2026-11-02', 'n2', %(loaded)s
from (select p, row_number() over (order by p) as i from people where anonymous and p %% 100 = 11) as anon
join (select p, row_number() over (order by p) as i from people where not anonymous and p %% 100 = 13) as known
    using (i)
"""


def bench_size(base_url: str, n: int) -> dict:
    name = f"tp_bench_identity_{uuid.uuid4().hex[:8]}"
    admin = admin_database_url(base_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"{owned_by(base_url)}')
    url = with_database(base_url, name)
    try:
        night1 = datetime(2026, 11, 1, 3, tzinfo=timezone.utc)
        night2 = datetime(2026, 11, 2, 3, tzinfo=timezone.utc)
        t = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(EDGES_STANDIN_DDL)
            conn.execute(PEOPLE_SQL, {"n": n})
            conn.execute(NIGHT1_SQL, {"loaded": night1})
            conn.execute("create index on intermediate.int_identifier_edges_collected (_loaded_at)")
            conn.execute("analyze intermediate.int_identifier_edges_collected")
            edge_rows = conn.execute("select count(*) from intermediate.int_identifier_edges_collected").fetchone()[0]
            generate_seconds = time.perf_counter() - t

            full = resolve(url, full=True)
            counts = conn.execute(
                "select count(*), count(distinct customer_id) from identity.identifier_map").fetchone()

            t = time.perf_counter()
            conn.execute(NIGHT2_SQL, {"loaded": night2})
            conn.execute("analyze intermediate.int_identifier_edges_collected")
            night2_rows = conn.execute(
                "select count(*) from intermediate.int_identifier_edges_collected where _loaded_at = %s",
                (night2,)).fetchone()[0]
            incremental = resolve(url)
            merges = conn.execute("select count(*) from identity.customer_id_merges").fetchone()[0]
            customers_after = conn.execute(
                "select count(distinct customer_id) from identity.identifier_map").fetchone()[0]
            size_hist = dict(conn.execute(
                """select least(n, 10), count(*) from (select count(*) as n from identity.identifier_map
                   group by customer_id) s group by 1 order by 1""").fetchall())
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
    return {
        "people": n,
        "edge_rows": edge_rows,
        "identifiers": counts[0],
        "customers": counts[1],
        "customer_size_histogram": {("10+" if k == 10 else str(k)): v for k, v in size_hist.items()},
        "generate_seconds": round(generate_seconds, 1),
        "full_seconds": full["seconds"],
        "full_timings": full["timings"],
        "incremental_edge_rows": night2_rows,
        "incremental_seconds": incremental["seconds"],
        "incremental_timings": incremental["timings"],
        "incremental_customers_touched": incremental["customers_touched"],
        "incremental_identifiers_loaded": incremental["identifiers_loaded"],
        "incremental_components_recomputed": incremental["components_recomputed"],
        "incremental_touched_share_of_customers": round(incremental["customers_touched"] / counts[1], 4),
        "incremental_merges": merges,
        "customers_after_incremental": customers_after,
    }


DOC = REPO / "docs" / "identity.md"
BEGIN, END = "<!-- BENCH:BEGIN -->", "<!-- BENCH:END -->"


def render_table(out: dict) -> str:
    rows = out["results"]
    lines = [
        f"Run {out['ran_at']} on {out['machine']['cpus']} CPUs (Python {out['machine']['python']}), "
        f"guard at {out.get('max_component_size')} identifiers; the machine was shared with other work, so "
        "times are upper bounds.",
        "",
        "| people | identifiers | edge rows | customers | full run | full: SQL prepare / union-find / write | "
        "incremental edge rows | customers touched | incremental run |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        t = r["full_timings"]
        sql = t.get("read_edges", 0) + t.get("prepare_nodes", 0) + t.get("copy_out", 0)
        lines.append(
            f"| {r['people']:,} | {r['identifiers']:,} | {r['edge_rows']:,} | {r['customers']:,} | "
            f"{r['full_seconds']:.1f} s | {sql:.1f} / {t.get('union_find', 0):.1f} / {t.get('write_back', 0):.1f} s | "
            f"{r['incremental_edge_rows']:,} | {r['incremental_customers_touched']:,} "
            f"({r['incremental_touched_share_of_customers']:.1%}) | {r['incremental_seconds']:.2f} s |")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        scale = b["people"] / a["people"]
        lines += ["", f"Scaling {a['people']:,} → {b['people']:,} people (×{scale:g}): full run "
                      f"×{b['full_seconds'] / a['full_seconds']:.1f}, incremental run "
                      f"×{b['incremental_seconds'] / a['incremental_seconds']:.1f} (for ×{scale:g} the "
                      f"touched components). Targets: full 1M < 600 s, incremental < 60 s."]
    return "\n".join(lines)


def write_docs(out: dict) -> None:
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + render_table(out) + "\n" + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "identity.json"))
    parser.add_argument("--docs", action="store_true", help="also write the table into docs/identity.md")
    parser.add_argument("--docs-only", action="store_true", help="only re-render docs/identity.md from --output")
    args = parser.parse_args(argv)
    if args.docs_only:
        write_docs(json.loads(Path(args.output).read_text()))
        return 0
    base_url = warehouse.start()
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        print(f"identity bench: {n:,} people ...", flush=True)
        r = bench_size(base_url, n)
        print(json.dumps(r, indent=2), flush=True)
        results.append(r)
    out = {
        "benchmark": "identity resolver (touchpoint.identity.resolve)",
        "ran_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "max_component_size": max_component_size(),
        "targets": {"full_1m_seconds": 600, "incremental_seconds": 60},
        "results": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}")
    if args.docs:
        write_docs(out)
        print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
