"""Incremental staging on a real PostgreSQL (issue 8): a generated dataset loaded night by
night through the real loader, with exact re-sends, a late older version of an order and a
replaced delivery file, staging built incrementally after each night; then a copy of the
database is rebuilt with --full-refresh and every staging table must have the same content.

The lookback is set to 0 hours so that each night really reads only rows above the
watermark (the loads of one test run are minutes apart, inside the default 6 hours).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from psycopg.conninfo import conninfo_to_dict

from touchpoint.db import admin_database_url, owned_by, with_database
from touchpoint.dbt import run_dbt

STAGING_MODELS = [
    "stg_ad_spend__daily_campaigns",
    "stg_app_events__events",
    "stg_crm_customers__accounts",
    "stg_ecommerce_orders__order_lines",
    "stg_ecommerce_orders__orders",
    "stg_email_events__events",
    "stg_loyalty_events__events",
    "stg_product_reviews__reviews",
    "stg_social_mentions__mentions",
    "stg_store_transactions__receipt_lines",
    "stg_store_transactions__receipts",
    "stg_support_tickets__tickets",
    "stg_survey_responses__responses",
    "stg_web_events__events",
]
NO_LOOKBACK = ["--vars", "{incremental_lookback_hours: 0}"]


def _touchpoint(url: str, *args: str) -> None:
    env = {**os.environ, "WAREHOUSE_URL": url}
    subprocess.run([str(Path(sys.executable).parent / "touchpoint"), *args], env=env, check=True,
                   capture_output=True, text=True)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))


def _orders_file(landing: Path, day: str) -> Path:
    return landing / "ecommerce_orders" / day / f"ecommerce_orders_{day.replace('-', '')}.jsonl"


def _table_digests(url: str) -> dict[str, tuple[int, str]]:
    with psycopg.connect(url) as conn:
        return {
            model: conn.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
                f" from staging.{model} as t").fetchone()
            for model in STAGING_MODELS
        }


def _fetch_one(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()


@pytest.fixture(scope="module")
def nights(module_db_url: str, warehouse_url: str, tmp_path_factory):
    """GIVEN three generated delivery days, mutated to hold the hard cases,
    WHEN staging is built incrementally after each load,
    THEN (the tests) it equals a full refresh of a copy of the database."""
    data = tmp_path_factory.mktemp("data")
    target = tmp_path_factory.mktemp("dbt_target")
    common = ["--target-path", str(target), "--log-path", str(target / "logs")]
    _touchpoint(module_db_url, "generate", "--customers", "300", "--days", "3", "--start", "2026-11-01",
                "--history-days", "5", "--seed", "11", "--out", str(data))
    landing = data / "landing"
    day1, day2, day3 = (_orders_file(landing, d) for d in ("2026-11-01", "2026-11-02", "2026-11-03"))
    orders1, orders2, orders3 = _jsonl(day1), _jsonl(day2), _jsonl(day3)
    later_ids = {o["order_id"] for o in orders2 + orders3}
    untouched = [o for o in orders1 if o["order_id"] not in later_ids]
    # an exact re-send of a night-1 order in night 2
    resent = untouched[0]
    orders2.append(resent)
    # a late older version (earlier updated_at, other total) of a night-1 order in night 3
    late = dict(untouched[1], updated_at="2020-01-01T00:00:00+09:00", total_price=1,
                line_items=untouched[1]["line_items"][:1] + untouched[1]["line_items"])
    orders3.append(late)
    # an order only in night 2's file, which its replacement drops
    only_in_day2 = dict(untouched[2], order_id="O900000001")
    changed_later = dict(untouched[3], order_id="O900000002")
    orders2 += [only_in_day2, changed_later]
    _write_jsonl(day2, orders2)
    _write_jsonl(day3, orders3)

    run_dbt(["seed", *common], url=module_db_url)

    def night(*dates: str) -> None:
        for date in dates:
            _touchpoint(module_db_url, "ingest", "--date", date, "--landing", str(landing))
        run_dbt(["run", "--select", "staging", *NO_LOOKBACK, *common], url=module_db_url)

    night("2026-11-01")
    night("2026-11-02")
    # night 2's order file is delivered again with changed content: one order dropped,
    # another one's total changed (the loader supersedes the old load, deletes its rows)
    changed_later = dict(changed_later, total_price=changed_later["total_price"] + 1000)
    changed = [o for o in orders2 if o["order_id"] not in (only_in_day2["order_id"], changed_later["order_id"])]
    changed.append(changed_later)
    _write_jsonl(day2, changed)
    night("2026-11-02")
    night("2026-11-03")

    copy_name = "tp_stg_full_" + os.urandom(4).hex()
    with psycopg.connect(admin_database_url(warehouse_url), autocommit=True) as conn:
        conn.execute(f'create database "{copy_name}" template "{conninfo_to_dict(module_db_url)["dbname"]}"{owned_by(warehouse_url)}')
    copy_url = with_database(warehouse_url, copy_name)
    run_dbt(["run", "--select", "staging", "--full-refresh", *common], url=copy_url)
    yield {
        "incremental": module_db_url, "full": copy_url, "late": late, "resent": resent,
        "original_late": untouched[1], "dropped": only_in_day2, "changed": changed_later,
    }
    with psycopg.connect(admin_database_url(warehouse_url), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{copy_name}" with (force)')


def test_incremental_nights_equal_a_full_refresh(nights):
    incremental = _table_digests(nights["incremental"])
    full = _table_digests(nights["full"])
    assert all(count > 0 for count, _ in full.values())
    assert incremental == full


def test_a_late_older_version_never_overwrites_a_newer_one(nights):
    original = nights["original_late"]
    row = _fetch_one(nights["incremental"],
                     "select total_price_krw, line_item_count from staging.stg_ecommerce_orders__orders"
                     " where order_id = %s", original["order_id"])
    assert row == (original["total_price"], len(original["line_items"]))
    lines = _fetch_one(nights["incremental"],
                       "select count(*) from staging.stg_ecommerce_orders__order_lines where order_id = %s",
                       original["order_id"])
    assert lines == (len(original["line_items"]),)


def test_replaced_file_rows_do_not_survive(nights):
    url = nights["incremental"]
    assert _fetch_one(url, "select count(*) from staging.stg_ecommerce_orders__orders where order_id = %s",
                      nights["dropped"]["order_id"]) == (0,)
    assert _fetch_one(url, "select count(*) from staging.stg_ecommerce_orders__order_lines where order_id = %s",
                      nights["dropped"]["order_id"]) == (0,)
    changed = nights["changed"]
    assert _fetch_one(url, "select total_price_krw from staging.stg_ecommerce_orders__orders where order_id = %s",
                      changed["order_id"]) == (changed["total_price"],)
    superseded = _fetch_one(url, "select count(*) from staging.stg_ecommerce_orders__orders"
                                 " where _load_id in (select load_id from ops.load_manifest where not is_current)")
    assert superseded == (0,)


def test_an_exact_resend_collapses(nights):
    assert _fetch_one(nights["incremental"],
                      "select count(*) from staging.stg_ecommerce_orders__orders where order_id = %s",
                      nights["resent"]["order_id"]) == (1,)
