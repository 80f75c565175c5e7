"""int_identifier_edges_collected is incremental (issue 8): nights built one by one hold
the same edges as one full refresh, a purchase edge appears whichever side of the
join (the order or its purchase event) arrives later, re-reading the lookback changes
nothing, and a full refresh + full resolution gives the same customers as the nights."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import ingest
from ingestion.registry import CONTRACTS
from touchpoint.dbt import run_dbt
from touchpoint.generator import generate
from touchpoint.identity import resolve

START = dt.date(2026, 11, 1)
DAYS = 3
EDGE_MODELS = ["int_purchase_events_unioned", "int_identifier_edges_collected"]
EDGE_COLUMNS = ("identifier_a_type, identifier_a_value, identifier_b_type, identifier_b_value, "
                "source, record_id, seen_at, _load_id, _loaded_at")
# Nights run seconds apart here; with the default 6-hour lookback every night would
# re-read all earlier loads, so the incremental path is exercised with no lookback.
NO_LOOKBACK = ["--vars", json.dumps({"incremental_lookback_hours": 0})]


def dbt_build(url: str, tmp: Path, *args: str) -> None:
    run_dbt(["build", *args, "--exclude", "resource_type:test", "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
             "--no-partial-parse", "--quiet"], url=url)


def build_night(url: str, tmp: Path, *extra: str) -> None:
    dbt_build(url, tmp, "--select", "+int_identifier_edges_collected", *extra)


def full_refresh(url: str, tmp: Path) -> None:
    dbt_build(url, tmp, "--select", *EDGE_MODELS, "--full-refresh")


def edge_rows(url: str) -> set[tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"select {EDGE_COLUMNS} from intermediate.int_identifier_edges_collected").fetchall()
    assert len(rows) == len(set(rows)), "duplicate edge rows"
    return set(rows)


def partition(url: str) -> set[frozenset]:
    """Customers as sets of identifiers (ids themselves depend on the order of runs)."""
    customers: dict[str, set] = {}
    with psycopg.connect(url) as conn:
        for t, v, c in conn.execute("select identifier_type, identifier_value, customer_id "
                                    "from identity.identifier_map"):
            customers.setdefault(c, set()).add((t, v))
    return {frozenset(s) for s in customers.values()}


@pytest.fixture(scope="module")
def nights(module_db_url, tmp_path_factory):
    """300 people, 2 days of history + 3 nights (seed 7; late and re-sent records), built
    and resolved night by night."""
    tmp = tmp_path_factory.mktemp("edges_incremental")
    generate(300, DAYS, START, 7, tmp / "gen", 0.0, history_days=2)
    stats = []
    for d in range(DAYS):
        ingest(START + dt.timedelta(days=d), landing_dir=tmp / "gen" / "landing", url=module_db_url)
        build_night(module_db_url, tmp, *NO_LOOKBACK)
        stats.append(resolve(module_db_url))
    return {"url": module_db_url, "tmp": tmp, "stats": stats, "edges": edge_rows(module_db_url),
            "partition": partition(module_db_url)}


def test_nights_read_only_new_rows(nights):
    with psycopg.connect(nights["url"]) as conn:
        total = conn.execute("select count(*) from intermediate.int_identifier_edges_collected").fetchone()[0]
    later = [s["edges_read"] for s in nights["stats"][1:]]
    assert all(0 < n < total / 2 for n in later), (later, total)


def test_incremental_nights_equal_a_full_refresh(nights):
    url, tmp = nights["url"], nights["tmp"]
    # GIVEN the edges of four incremental nights
    # WHEN the edge models are rebuilt from all of staging
    full_refresh(url, tmp)
    # THEN the table holds exactly the same rows, loaded_at and seen_at included
    rebuilt = edge_rows(url)
    assert rebuilt == nights["edges"], (len(rebuilt - nights["edges"]), len(nights["edges"] - rebuilt))


def test_rereading_the_lookback_changes_nothing(nights):
    url, tmp = nights["url"], nights["tmp"]
    # GIVEN resolved nights; WHEN a night re-reads with the default lookback (all loads)
    build_night(url, tmp)
    # THEN the edges are the same rows and the resolver finds nothing new
    assert edge_rows(url) == nights["edges"]
    assert resolve(url)["edges_read"] == 0


def test_full_refresh_and_full_resolution_give_the_same_customers(nights):
    url, tmp = nights["url"], nights["tmp"]
    full_refresh(url, tmp)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema identity cascade")
    resolve(url, full=True)
    assert partition(url) == nights["partition"]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _purchase_event(cookie: str, order_id: str, micros: int) -> dict:
    return dict(CONTRACTS["web_events"].example, event_name="purchase", user_pseudo_id=cookie, user_id=None,
                event_timestamp=micros,
                ecommerce={"transaction_id": order_id, "purchase_revenue": 59900, "currency": "KRW",
                           "total_item_quantity": 1})


def _order(order_id: str, email: str) -> dict:
    return dict(CONTRACTS["ecommerce_orders"].example, order_id=order_id, customer_id=None, email=email,
                phone=None)


def _purchase_edges(url: str, order_id: str) -> set[tuple]:
    with psycopg.connect(url) as conn:
        return set(conn.execute(
            """select identifier_a_type, identifier_a_value, identifier_b_type, identifier_b_value
               from intermediate.int_identifier_edges_collected
               where source = 'web_events' and record_id = %s""", (order_id,)))


def test_purchase_edge_appears_whichever_side_arrives_later(fresh_db_url, tmp_path):
    landing = tmp_path / "landing"
    night1, night2 = START, START + dt.timedelta(days=1)
    # GIVEN night 1: a purchase event of order O1 (no order yet) and order O2 (no event yet)
    _write_jsonl(landing / "web_events" / night1.isoformat() / "web_events_20261101.jsonl",
                 [_purchase_event("111.222", "O1", 1793491200123456)])
    _write_jsonl(landing / "ecommerce_orders" / night1.isoformat() / "ecommerce_orders_20261101.jsonl",
                 [_order("O2", "second@example.com")])
    ingest(night1, sources=["web_events", "ecommerce_orders"], landing_dir=landing, url=fresh_db_url)
    build_night(fresh_db_url, tmp_path, *NO_LOOKBACK)
    assert _purchase_edges(fresh_db_url, "O1") == set() and _purchase_edges(fresh_db_url, "O2") == set()
    resolve(fresh_db_url)

    # WHEN night 2 brings the late order O1 and O2's purchase event
    _write_jsonl(landing / "web_events" / night2.isoformat() / "web_events_20261102.jsonl",
                 [_purchase_event("333.444", "O2", 1793577600123456)])
    _write_jsonl(landing / "ecommerce_orders" / night2.isoformat() / "ecommerce_orders_20261102.jsonl",
                 [_order("O1", "first@example.com")])
    ingest(night2, sources=["web_events", "ecommerce_orders"], landing_dir=landing, url=fresh_db_url)
    build_night(fresh_db_url, tmp_path, *NO_LOOKBACK)

    # THEN both purchase edges exist, link the device to the order's email, and are new
    # for the resolver
    assert _purchase_edges(fresh_db_url, "O1") == {("cookie_id", "111.222", "email", "first@example.com")}
    assert _purchase_edges(fresh_db_url, "O2") == {("cookie_id", "333.444", "email", "second@example.com")}
    resolve(fresh_db_url)
    with psycopg.connect(fresh_db_url) as conn:
        ids = dict(((t, v), c) for t, v, c in conn.execute(
            "select identifier_type, identifier_value, customer_id from identity.identifier_map"))
    assert ids[("cookie_id", "111.222")] == ids[("email", "first@example.com")]
    assert ids[("cookie_id", "333.444")] == ids[("email", "second@example.com")]
    # and a full refresh holds the same rows
    incremental = edge_rows(fresh_db_url)
    full_refresh(fresh_db_url, tmp_path)
    assert edge_rows(fresh_db_url) == incremental
