"""Publication without copying history: a persistent candidate diffed into marts_history.

GIVEN a candidate mart kept by dbt (unique index = grain, `_changed_at` per row write)
WHEN a night changes a few rows and is published, blocked or rolled back
THEN only the changed rows are written, and `marts` shows exactly the intended version.
"""
from __future__ import annotations

from datetime import date

import psycopg
import pytest

from touchpoint.publish import PublishError, block, publish, rollback

CANDIDATE = "marts_candidate"
ROWS = 2000


def make_candidate(conn: psycopg.Connection, rows: int = ROWS) -> None:
    conn.execute(f"create schema {CANDIDATE}")
    conn.execute(
        f"create table {CANDIDATE}.customer_360 as select g as customer_id, 'segment ' || (g % 7) as segment, "
        f"(g * 1.5)::numeric(12, 2) as lifetime_value, 'run1' as _run_id, clock_timestamp() as _changed_at "
        f"from generate_series(1, {rows}) g")
    conn.execute(f"create unique index customer_360__grain on {CANDIDATE}.customer_360 (customer_id)")
    conn.execute(f"create table {CANDIDATE}.orders_daily as select d::date as order_date, 'web' as channel, "
                 f"10 as orders, clock_timestamp() as _changed_at "
                 f"from generate_series('2026-11-01'::date, '2026-11-10'::date, interval '1 day') d")
    conn.execute(f"create unique index orders_daily__grain on {CANDIDATE}.orders_daily (order_date, channel)")


def change_rows(conn: psycopg.Connection, where: str, segment: str) -> int:
    """What an incremental dbt run does: rewrite some rows and stamp them."""
    return conn.execute(f"update {CANDIDATE}.customer_360 set segment = %s, _changed_at = clock_timestamp() "
                        f"where {where.replace('%', '%%')}", (segment,)).rowcount


def checksum(conn: psycopg.Connection, relation: str, columns: str) -> str:
    return conn.execute(f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
                        f"from (select {columns} from {relation}) t").fetchone()[0]


CUSTOMER_COLUMNS = "customer_id, segment, lifetime_value"
ORDER_COLUMNS = "order_date, channel, orders"


def published_matches_candidate(conn: psycopg.Connection) -> bool:
    return (checksum(conn, "marts.customer_360", "*") == checksum(conn, f"{CANDIDATE}.customer_360", CUSTOMER_COLUMNS)
            and checksum(conn, "marts.orders_daily", "*") == checksum(conn, f"{CANDIDATE}.orders_daily", ORDER_COLUMNS))


def marts_snapshot(conn: psycopg.Connection) -> dict:
    """Everything BI can see in `marts`: view OIDs, definitions and content checksums."""
    views = conn.execute("select c.oid::bigint, c.relname, pg_get_viewdef(c.oid) from pg_class c "
                         "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'marts' order by 2").fetchall()
    return {"views": views, "data": {name: checksum(conn, f"marts.{name}", "*") for _, name, _ in views}}


def history_rows(conn: psycopg.Connection, version: int) -> int:
    return conn.execute("select count(*) from marts_history.customer_360 where _valid_from_version = %s",
                        (version,)).fetchone()[0]


def test_a_night_that_changes_one_percent_writes_only_those_rows(fresh_conn):
    make_candidate(fresh_conn)
    first = publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    assert first.rows_written == {"customer_360": ROWS, "orders_daily": 10}
    assert published_matches_candidate(fresh_conn)
    # internal columns (_run_id, _changed_at) are never published
    columns = [c.name for c in fresh_conn.execute("select * from marts.customer_360 limit 0").description]
    assert columns == ["customer_id", "segment", "lifetime_value"]

    assert change_rows(fresh_conn, "customer_id % 100 = 0", "vip") == ROWS // 100
    # dbt also rewrites rows of its lookback window with unchanged values: not re-versioned
    fresh_conn.execute(f"update {CANDIDATE}.customer_360 set _changed_at = clock_timestamp() where customer_id <= 50")
    second = publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
    assert second.rows_written == {"customer_360": ROWS // 100, "orders_daily": 0}
    assert history_rows(fresh_conn, second.version) == ROWS // 100
    assert second.mart_row_counts == {"customer_360": ROWS, "orders_daily": 10}
    assert published_matches_candidate(fresh_conn)
    assert fresh_conn.execute("select count(*) from marts.customer_360 where segment = 'vip'").fetchone()[0] == 20


def test_a_blocked_night_leaves_marts_unchanged_and_is_published_with_the_next(fresh_conn):
    make_candidate(fresh_conn)
    publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    before = marts_snapshot(fresh_conn)
    history_before = checksum(fresh_conn, "marts_history.customer_360", "*")

    change_rows(fresh_conn, "customer_id <= 30", "bad")
    fresh_conn.execute(f"delete from {CANDIDATE}.customer_360 where customer_id > 1990")
    block(fresh_conn, "run2", date(2026, 11, 2), [{"check_type": "gx", "check_name": "x"}], CANDIDATE)
    assert marts_snapshot(fresh_conn) == before
    assert checksum(fresh_conn, "marts_history.customer_360", "*") == history_before

    # the next night fixes some of it; everything since the last publication goes out
    change_rows(fresh_conn, "customer_id <= 10", "fixed")
    third = publish(fresh_conn, "run3", date(2026, 11, 3), CANDIDATE)
    assert third.rows_written["customer_360"] == 30
    assert third.mart_row_counts["customer_360"] == 1990
    assert published_matches_candidate(fresh_conn)


def test_deleted_keys_disappear_from_the_published_view(fresh_conn):
    make_candidate(fresh_conn)
    publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    fresh_conn.execute(f"delete from {CANDIDATE}.customer_360 where customer_id in (5, 6, 7)")
    fresh_conn.execute(f"delete from {CANDIDATE}.orders_daily where order_date = '2026-11-03'")
    second = publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
    assert second.mart_row_counts == {"customer_360": ROWS - 3, "orders_daily": 9}
    assert fresh_conn.execute("select count(*) from marts.customer_360 where customer_id in (5, 6, 7)").fetchone()[0] == 0
    assert published_matches_candidate(fresh_conn)
    # a key that comes back is a new row version
    fresh_conn.execute(f"insert into {CANDIDATE}.customer_360 values (6, 'back', 9, 'run3', clock_timestamp())")
    publish(fresh_conn, "run3", date(2026, 11, 3), CANDIDATE)
    assert fresh_conn.execute("select segment from marts.customer_360 where customer_id = 6").fetchall() == [("back",)]
    assert published_matches_candidate(fresh_conn)


def test_rollback_shows_the_previous_version_exactly_and_user_views_follow(fresh_conn, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_KEEP_VERSIONS", "2")
    make_candidate(fresh_conn)
    publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    fresh_conn.execute("create schema bi_user")
    fresh_conn.execute("create view bi_user.vips as select * from marts.customer_360 where segment = 'vip'")
    change_rows(fresh_conn, "customer_id % 3 = 0", "old")
    publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
    previous = marts_snapshot(fresh_conn)

    change_rows(fresh_conn, "customer_id % 10 = 0", "vip")
    fresh_conn.execute(f"delete from {CANDIDATE}.customer_360 where customer_id < 100")
    fresh_conn.execute(f"insert into {CANDIDATE}.customer_360 values (5000, 'vip', 1, 'run3', clock_timestamp())")
    third = publish(fresh_conn, "run3", date(2026, 11, 3), CANDIDATE)
    assert fresh_conn.execute("select count(*) from bi_user.vips").fetchone()[0] == 192

    back = rollback(fresh_conn)
    assert back.version == third.version - 1 and back.mart_row_counts["customer_360"] == ROWS
    assert marts_snapshot(fresh_conn) == previous  # same OIDs, same data, checksum for checksum
    assert fresh_conn.execute("select count(*) from bi_user.vips").fetchone()[0] == 0
    with pytest.raises(PublishError, match="nothing to roll back to"):
        rollback(fresh_conn)

    # publishing again after a rollback serves the candidate's current state
    publish(fresh_conn, "run4", date(2026, 11, 4), CANDIDATE)
    assert published_matches_candidate(fresh_conn)


def test_a_column_change_restarts_that_marts_history_and_blocks_rollback_across_it(fresh_conn, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_KEEP_VERSIONS", "5")
    make_candidate(fresh_conn)
    publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    fresh_conn.execute("create view public.user_view as select customer_id from marts.customer_360")
    oid_before = fresh_conn.execute("select 'marts.customer_360'::regclass::oid").fetchone()[0]

    # dbt's on_schema_change added a column: every row is rewritten
    fresh_conn.execute(f"alter table {CANDIDATE}.customer_360 add column is_active boolean")
    fresh_conn.execute(f"update {CANDIDATE}.customer_360 set is_active = customer_id % 2 = 0, "
                       "_changed_at = clock_timestamp()")
    second = publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
    assert second.history_reset == ["customer_360"]
    assert published_matches_candidate(fresh_conn) is False  # the checksum helper predates is_active
    assert checksum(fresh_conn, "marts.customer_360", "*") == checksum(
        fresh_conn, f"{CANDIDATE}.customer_360", "customer_id, segment, lifetime_value, is_active")
    assert fresh_conn.execute("select 'marts.customer_360'::regclass::oid").fetchone()[0] == oid_before
    assert fresh_conn.execute("select count(*) from public.user_view").fetchone()[0] == ROWS
    log = fresh_conn.execute("select history_reset from ops.publication_log where run_id = 'run2'").fetchone()
    assert log == (["customer_360"],)

    with pytest.raises(PublishError, match="changed its columns or grain"):
        rollback(fresh_conn)
    # the refused rollback changed nothing
    assert fresh_conn.execute("select count(*) from marts.customer_360 where is_active").fetchone()[0] == ROWS // 2

    # later nights publish incrementally again, and can be rolled back to the reset version
    change_rows(fresh_conn, "customer_id = 1", "one")
    third = publish(fresh_conn, "run3", date(2026, 11, 3), CANDIDATE)
    assert third.rows_written["customer_360"] == 1 and third.history_reset == []
    assert rollback(fresh_conn).version == second.version
    assert fresh_conn.execute("select segment from marts.customer_360 where customer_id = 1").fetchone() == ("segment 1",)


def test_marts_without_changed_at_or_grain_are_published_in_full(fresh_conn):
    fresh_conn.execute(f"create schema {CANDIDATE}")
    fresh_conn.execute(f"create table {CANDIDATE}.no_stamp as select g as id, g as value from generate_series(1, 100) g")
    fresh_conn.execute(f"create unique index on {CANDIDATE}.no_stamp (id)")
    fresh_conn.execute(f"create table {CANDIDATE}.no_grain as select g % 3 as bucket from generate_series(1, 9) g")
    fresh_conn.execute(f"create table {CANDIDATE}.customer_360__dbt_tmp as select 1 as leftover")
    first = publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    assert set(first.mart_row_counts) == {"no_stamp", "no_grain"}  # dbt's work table is not a mart

    fresh_conn.execute(f"update {CANDIDATE}.no_stamp set value = -1 where id <= 4")
    fresh_conn.execute(f"insert into {CANDIDATE}.no_grain values (7)")
    second = publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
    assert second.rows_written == {"no_stamp": 4, "no_grain": 10}
    assert second.mart_row_counts == {"no_stamp": 100, "no_grain": 10}
    assert checksum(fresh_conn, "marts.no_stamp", "*") == checksum(fresh_conn, f"{CANDIDATE}.no_stamp", "*")
    assert checksum(fresh_conn, "marts.no_grain", "*") == checksum(fresh_conn, f"{CANDIDATE}.no_grain", "*")
    rollback(fresh_conn)
    assert fresh_conn.execute("select count(*) from marts.no_grain").fetchone()[0] == 9
