"""Marts carry their own sanity bounds (issue 11, part 4).

GIVEN candidate marts holding absurd but well-typed values (9999-12-31, the year 3026,
      1899, a 5 MB name) beside normal rows
WHEN the audit's sanity checks run
THEN each bounded column with an offender fails with a reason (and so blocks), a column
     allowed in the future is not flagged for it, and rows published before (older
     than the mart's watermark) are not read again.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from touchpoint.audit import rank
from touchpoint.mart_sanity import load_bounds, mart_checks

SCHEMA = "sanity_candidate"
DAY = date(2026, 11, 1)


def make_mart(conn) -> None:
    conn.execute(f"create schema {SCHEMA}")
    conn.execute(f"""
        create table {SCHEMA}.people as
        select g as person_id, 'name ' || g as name_masked,
               timestamptz '2026-10-01 09:00+09' + g * interval '1 hour' as last_seen_at,
               date '2024-01-01' + g as first_order_date,
               date '2027-06-30' as points_expire_date,
               clock_timestamp() as _changed_at, repeat('x', 9000) as _internal_note
        from generate_series(1, 100) g""")


def by_object(checks) -> dict:
    return {c["object_name"]: c for c in checks}


def test_normal_rows_pass_and_internal_columns_are_not_checked(fresh_conn):
    make_mart(fresh_conn)
    bounds = {**load_bounds(), "future_columns": {"people.points_expire_date"}}
    checks = by_object(mart_checks(fresh_conn, SCHEMA, ["people"], DAY, bounds))
    assert set(checks) == {"people.name_masked", "people.last_seen_at", "people.first_order_date",
                           "people.points_expire_date"}
    assert all(c["status"] == "passed" for c in checks.values())


def test_absurd_values_fail_with_reasons(fresh_conn):
    make_mart(fresh_conn)
    fresh_conn.execute(f"update {SCHEMA}.people set last_seen_at = '9999-12-31' where person_id = 1")
    fresh_conn.execute(f"update {SCHEMA}.people set last_seen_at = '3026-01-01' where person_id = 2")
    fresh_conn.execute(f"update {SCHEMA}.people set first_order_date = '1899-12-31' where person_id = 3")
    fresh_conn.execute(f"update {SCHEMA}.people set name_masked = repeat('가', 1700000) where person_id = 4")
    checks = by_object(mart_checks(fresh_conn, SCHEMA, ["people"], DAY))
    assert checks["people.last_seen_at"]["status"] == "failed"
    assert checks["people.last_seen_at"]["details"]["rows_outside"] == 2
    # the upper bound is the data date or today, whichever is later, plus 2 days
    last = max(DAY, datetime.now(timezone.utc).date()) + timedelta(days=2)
    assert f"outside the data range (from 2000-01-01 to {last})" in checks["people.last_seen_at"]["reason"]
    assert checks["people.first_order_date"]["details"]["rows_outside"] == 1
    assert checks["people.name_masked"]["reason"] == "mart people.name_masked: 1 row(s) longer than 2000 characters"
    # not declared as a future column: an expiry date next year is flagged too
    assert checks["people.points_expire_date"]["details"]["rows_outside"] == 100
    assert all(c["severity"] == "error" and not c["passed"] for c in checks.values())
    assert rank(list(checks.values()))[0]["check_type"] == "sanity"


def test_a_future_column_keeps_its_lower_bound(fresh_conn):
    make_mart(fresh_conn)
    fresh_conn.execute(f"update {SCHEMA}.people set points_expire_date = '1900-01-01' where person_id = 5")
    bounds = {**load_bounds(), "future_columns": {"people.points_expire_date"}}
    check = by_object(mart_checks(fresh_conn, SCHEMA, ["people"], DAY, bounds))["people.points_expire_date"]
    assert check["details"]["rows_outside"] == 1 and check["details"]["to"] is None


def test_only_rows_changed_since_the_last_publication_are_read(fresh_conn, monkeypatch):
    make_mart(fresh_conn)
    fresh_conn.execute(f"update {SCHEMA}.people set last_seen_at = '9999-12-31' where person_id = 1")
    watermark = fresh_conn.execute(f"select max(_changed_at) from {SCHEMA}.people").fetchone()[0]
    # as if person 1's absurd row had been published (with an override) before tonight
    fresh_conn.execute(
        "insert into ops.mart_publication_state (mart, key_columns, public_columns, changed_at_watermark,"
        " current_row_count, history_from_version, last_published_version) values"
        " ('people', '{person_id}', '[]', %s, 100, 1, 1)", (watermark,))
    assert by_object(mart_checks(fresh_conn, SCHEMA, ["people"], DAY))["people.last_seen_at"]["status"] == "passed"
    fresh_conn.execute(f"update {SCHEMA}.people set last_seen_at = '1800-01-01', _changed_at = clock_timestamp() "
                       "where person_id = 2")
    check = by_object(mart_checks(fresh_conn, SCHEMA, ["people"], DAY))["people.last_seen_at"]
    assert check["status"] == "failed" and check["details"]["rows_outside"] == 1  # tonight's row only


def test_processing_times_of_a_backfill_are_not_in_the_future(fresh_conn):
    # a night for an old data date, processed today: merged_at = now() is plausible
    fresh_conn.execute(f"create schema {SCHEMA}")
    fresh_conn.execute(f"create table {SCHEMA}.merges as select 'C1' as old_customer_id, now() as merged_at")
    check = by_object(mart_checks(fresh_conn, SCHEMA, ["merges"], date(2026, 1, 5)))["merges.merged_at"]
    assert check["status"] == "passed"
