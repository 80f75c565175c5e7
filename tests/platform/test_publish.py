"""Write-audit-publish mechanics on a real PostgreSQL: atomic swap, blocked, rollback.

The candidate marts follow the contract of the mart models: one unique index (the
grain) and `_changed_at`; columns starting with `_` are internal, never published.
"""
from __future__ import annotations

from datetime import date

import psycopg
import pytest

from touchpoint.publish import PublishError, block, current_version, publish, reset_candidate, rollback

CANDIDATE = "marts_candidate"


def build_candidate(conn: psycopg.Connection, customers: int, label: str) -> None:
    """A candidate rebuilt from scratch (as after a full refresh): every row is new."""
    reset_candidate(conn, CANDIDATE)
    conn.execute(f"create schema {CANDIDATE}")
    conn.execute(f"create table {CANDIDATE}.customer_360 as select g as customer_id, '{label}' as label, "
                 f"clock_timestamp() as _changed_at from generate_series(1, {customers}) g")
    conn.execute(f"create unique index on {CANDIDATE}.customer_360 (customer_id)")
    conn.execute(f"create table {CANDIDATE}.loyalty as select 1 as member_id, clock_timestamp() as _changed_at")
    conn.execute(f"create unique index on {CANDIDATE}.loyalty (member_id)")


def snapshot(conn: psycopg.Connection) -> dict:
    """Everything BI can see in `marts`: view definitions and ordered contents."""
    views = conn.execute("select table_name, view_definition from information_schema.views "
                         "where table_schema = 'marts' order by 1").fetchall()
    data = {name: conn.execute(f'select md5(string_agg(t::text, \'|\' order by t::text)) from marts."{name}" t').fetchone()[0]
            for name, _ in views}
    return {"views": views, "data": data}


def test_publish_swaps_every_mart_and_keeps_previous_for_rollback(fresh_conn):
    build_candidate(fresh_conn, 3, "night1")
    first = publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    assert first.decision == "published" and first.mart_row_counts == {"customer_360": 3, "loyalty": 1}
    # a BI user's own view on a published mart
    fresh_conn.execute("create schema bi_user")
    fresh_conn.execute("create view bi_user.big_customers as select * from marts.customer_360")

    build_candidate(fresh_conn, 5, "night2")
    second = publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
    assert second.version_schema > first.version_schema
    assert fresh_conn.execute("select count(*), min(label) from marts.customer_360").fetchone() == (5, "night2")
    # the user's view follows the published version, not the old tables
    assert fresh_conn.execute("select count(*) from bi_user.big_customers").fetchone()[0] == 5
    # the candidate persists (dbt's incremental state); no copy of it was made
    assert fresh_conn.execute("select to_regnamespace(%s)", (CANDIDATE,)).fetchone()[0] is not None
    assert fresh_conn.execute("select count(*) from pg_namespace where nspname like 'marts_v%'").fetchone()[0] == 0
    # internal columns are not published
    assert "_changed_at" not in {c.name for c in fresh_conn.execute("select * from marts.customer_360").description}

    back = rollback(fresh_conn)
    assert back.decision == "rolled_back" and back.version_schema == first.version_schema
    assert fresh_conn.execute("select count(*), min(label) from marts.customer_360").fetchone() == (3, "night1")
    assert fresh_conn.execute("select count(*) from bi_user.big_customers").fetchone()[0] == 3
    assert current_version(fresh_conn) == first.version_schema
    decisions = fresh_conn.execute("select decision from ops.publication_log order by publication_id").fetchall()
    assert [d for (d,) in decisions] == ["published", "published", "rolled_back"]


def test_blocked_leaves_marts_byte_for_byte_unchanged(fresh_conn):
    build_candidate(fresh_conn, 4, "good")
    publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    before = snapshot(fresh_conn)
    build_candidate(fresh_conn, 400, "bad")
    decision = block(fresh_conn, "run2", date(2026, 11, 2), [{"check_type": "gx", "check_name": "x"}], CANDIDATE)
    assert decision.decision == "blocked" and decision.mart_row_counts["customer_360"] == 400
    assert snapshot(fresh_conn) == before
    row = fresh_conn.execute("select decision, failed_checks from ops.publication_log where run_id = 'run2'").fetchone()
    assert row[0] == "blocked" and row[1][0]["check_type"] == "gx"


def test_a_mart_that_changes_columns_is_republished(fresh_conn):
    build_candidate(fresh_conn, 2, "v1")
    publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    reset_candidate(fresh_conn, CANDIDATE)
    fresh_conn.execute(f"create schema {CANDIDATE}")
    fresh_conn.execute(f"create table {CANDIDATE}.customer_360 as select 1::bigint as customer_id, 2 as orders, "
                       "now() as _changed_at")
    fresh_conn.execute(f"create unique index on {CANDIDATE}.customer_360 (customer_id)")
    second = publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
    assert second.history_reset == ["customer_360"]
    assert fresh_conn.execute("select * from marts.customer_360").fetchall() == [(1, 2)]
    # loyalty disappeared from the new version, so it is no longer published
    assert fresh_conn.execute("select to_regclass('marts.loyalty')").fetchone()[0] is None


def test_old_versions_beyond_the_kept_ones_are_dropped(fresh_conn, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_KEEP_VERSIONS", "2")
    versions = []
    for night in range(4):
        build_candidate(fresh_conn, night + 1, f"n{night}")
        versions.append(publish(fresh_conn, f"run{night}", date(2026, 11, night + 1), CANDIDATE).version)
    # history holds exactly the row versions the two kept publications can see: 4 + 3 rows
    rows = fresh_conn.execute("select _valid_from_version, count(*) from marts_history.customer_360 "
                              "group by 1 order by 1").fetchall()
    assert rows == [(versions[-2], 3), (versions[-1], 4)]
    assert rollback(fresh_conn).version == versions[-2]
    assert fresh_conn.execute("select count(*), min(label) from marts.customer_360").fetchone() == (3, "n2")
    with pytest.raises(PublishError, match="nothing to roll back to"):
        rollback(fresh_conn)


def test_rollback_without_history_is_a_clear_error(fresh_conn):
    with pytest.raises(PublishError, match="nothing has been published"):
        rollback(fresh_conn)
    build_candidate(fresh_conn, 1, "only")
    publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    with pytest.raises(PublishError, match="nothing to roll back to"):
        rollback(fresh_conn)


def test_publish_without_candidate_is_refused(fresh_conn):
    with pytest.raises(PublishError, match="does not exist"):
        publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    for schema in ("marts", "marts_history", "marts_v000001"):
        with pytest.raises(PublishError, match="refusing"):
            reset_candidate(fresh_conn, schema)
        with pytest.raises(PublishError, match="refusing"):
            publish(fresh_conn, "run1", date(2026, 11, 1), schema)


def test_prepare_candidate_keeps_the_candidate_unless_full_refresh(fresh_db_url, fresh_conn, monkeypatch):
    from touchpoint.pipeline import prepare_candidate
    from touchpoint.runlock import RunLockHeld, release_lease

    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    monkeypatch.setenv("TOUCHPOINT_RUN_LOCK_WAIT", "0")
    build_candidate(fresh_conn, 3, "night1")
    prepare_candidate("run2")
    # dbt's incremental state survives a normal night
    assert fresh_conn.execute(f"select count(*) from {CANDIDATE}.customer_360").fetchone()[0] == 3
    # run2 is not decided yet: its lease keeps another night's full refresh out
    with pytest.raises(RunLockHeld, match="DAG run run2, between two of its tasks"):
        prepare_candidate("run3", full_refresh=True)
    assert fresh_conn.execute(f"select count(*) from {CANDIDATE}.customer_360").fetchone()[0] == 3
    release_lease(fresh_conn, "run2")  # what its publication (or its failure callback) does
    prepare_candidate("run3", full_refresh=True)
    assert fresh_conn.execute("select to_regnamespace(%s)", (CANDIDATE,)).fetchone()[0] is None
    monkeypatch.setenv("TOUCHPOINT_CANDIDATE_SCHEMA", "marts")
    with pytest.raises(PublishError, match="refusing"):
        prepare_candidate("run3")
