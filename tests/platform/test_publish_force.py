"""`touchpoint publish --force --reason`: an operator publishes a blocked night, logged.

A real PostgreSQL; the candidates are built as in test_publish.py (one unique index,
`_changed_at`).
"""
from __future__ import annotations

from datetime import date

import pytest
from test_publish import CANDIDATE, build_candidate, snapshot

from touchpoint.cli import main
from touchpoint.publish import PublishError, block, force_publish, publish, reset_candidate

FAILED = [{"check_type": "anomaly", "check_name": "net_revenue", "object_name": "customer_360",
           "reason": "net revenue 20.4M is above its band"}]


def a_blocked_night(conn) -> None:
    """GIVEN night 1 published (3 customers) and night 2 blocked with 5 in the candidate."""
    build_candidate(conn, 3, "night1")
    publish(conn, "run1", date(2026, 11, 1), CANDIDATE)
    build_candidate(conn, 5, "night2")
    block(conn, "run2", date(2026, 11, 2), FAILED, CANDIDATE)


def test_a_forced_publication_serves_the_candidate_and_logs_who_and_why(fresh_conn):
    a_blocked_night(fresh_conn)
    assert fresh_conn.execute("select count(*) from marts.customer_360").fetchone()[0] == 3

    decision = force_publish(fresh_conn, "  revenue spike is the Black Friday sale  ", "kim.ops",
                             candidate_schema=CANDIDATE)

    assert decision.decision == "published" and decision.forced and decision.run_id == "run2"
    assert fresh_conn.execute("select count(*), min(label) from marts.customer_360").fetchone() == (5, "night2")
    row = fresh_conn.execute(
        "select run_id, logical_date, decision, forced, force_reason, decided_by, version_schema "
        "from ops.publication_log order by publication_id desc limit 1").fetchone()
    assert row == ("run2", date(2026, 11, 2), "published", True, "revenue spike is the Black Friday sale",
                   "kim.ops", decision.version_schema)
    # the normal decisions are logged as not forced, with who decided them
    normal = fresh_conn.execute("select decision, forced, force_reason, decided_by is not null "
                                "from ops.publication_log where run_id in ('run1', 'run2') "
                                "and not forced order by publication_id").fetchall()
    assert normal == [("published", False, None, True), ("blocked", False, None, True)]


def test_a_forced_publication_can_be_rolled_back_like_any_other(fresh_conn):
    from touchpoint.publish import rollback

    a_blocked_night(fresh_conn)
    force_publish(fresh_conn, "checked by hand", "kim.ops", run_id="run2", candidate_schema=CANDIDATE)
    assert rollback(fresh_conn).run_id == "manual_rollback"
    assert fresh_conn.execute("select count(*), min(label) from marts.customer_360").fetchone() == (3, "night1")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_an_override_without_a_reason_is_refused(fresh_conn, reason):
    a_blocked_night(fresh_conn)
    before = snapshot(fresh_conn)
    with pytest.raises(PublishError, match="needs a reason"):
        force_publish(fresh_conn, reason, "kim.ops", candidate_schema=CANDIDATE)
    assert snapshot(fresh_conn) == before


def test_an_override_without_a_candidate_is_refused(fresh_conn):
    a_blocked_night(fresh_conn)
    before = snapshot(fresh_conn)
    reset_candidate(fresh_conn, CANDIDATE)
    with pytest.raises(PublishError, match="candidate schema 'marts_candidate' does not exist"):
        force_publish(fresh_conn, "checked", "kim.ops", candidate_schema=CANDIDATE)
    assert snapshot(fresh_conn) == before


def test_a_run_that_was_not_blocked_has_nothing_to_override(fresh_conn):
    build_candidate(fresh_conn, 3, "night1")
    publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    with pytest.raises(PublishError, match="run run1 .* was not blocked: its latest decision is 'published'"):
        force_publish(fresh_conn, "checked", "kim.ops", candidate_schema=CANDIDATE)
    # a blocked run that has been force-published already: its latest decision is now 'published'
    build_candidate(fresh_conn, 5, "night2")
    block(fresh_conn, "run2", date(2026, 11, 2), FAILED, CANDIDATE)
    force_publish(fresh_conn, "checked", "kim.ops", candidate_schema=CANDIDATE)
    with pytest.raises(PublishError, match="latest decision is 'published'"):
        force_publish(fresh_conn, "again", "kim.ops", run_id="run2", candidate_schema=CANDIDATE)


def test_nothing_decided_yet_or_an_unknown_run_is_refused(fresh_conn):
    with pytest.raises(PublishError, match="no publication decision is recorded for any run"):
        force_publish(fresh_conn, "checked", "kim.ops", candidate_schema=CANDIDATE)
    a_blocked_night(fresh_conn)
    with pytest.raises(PublishError, match="no publication decision is recorded for run nope"):
        force_publish(fresh_conn, "checked", "kim.ops", run_id="nope", candidate_schema=CANDIDATE)
    with pytest.raises(PublishError, match="with data date 2026-11-09"):
        force_publish(fresh_conn, "checked", "kim.ops", logical_date=date(2026, 11, 9),
                      candidate_schema=CANDIDATE)


def test_a_block_overtaken_by_a_later_decided_run_is_refused(fresh_conn):
    a_blocked_night(fresh_conn)
    build_candidate(fresh_conn, 7, "night3")
    publish(fresh_conn, "run3", date(2026, 11, 3), CANDIDATE)
    before = snapshot(fresh_conn)
    with pytest.raises(PublishError, match="a later run has been decided since run run2 .*run3"):
        force_publish(fresh_conn, "checked", "kim.ops", logical_date=date(2026, 11, 2), candidate_schema=CANDIDATE)
    assert snapshot(fresh_conn) == before


def test_the_cli_overrides_only_with_force_and_reason(fresh_db_url, fresh_conn, monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    monkeypatch.setenv("TOUCHPOINT_OPERATOR", "lee.oncall")
    a_blocked_night(fresh_conn)

    # WHEN publish is asked for without --force THEN it explains the gate and publishes nothing
    assert main(["publish"]) == 2
    assert "--force --reason" in capsys.readouterr().err
    assert main(["publish", "--force"]) == 1
    assert "needs a reason" in capsys.readouterr().err
    assert fresh_conn.execute("select count(*) from marts.customer_360").fetchone()[0] == 3

    assert main(["publish", "--force", "--reason", "late CRM file, verified", "--date", "2026-11-02"]) == 0
    out = capsys.readouterr().out
    assert "run run2" in out and "forced by lee.oncall" in out
    assert fresh_conn.execute("select count(*) from marts.customer_360").fetchone()[0] == 5
    assert fresh_conn.execute("select forced, force_reason, decided_by from ops.publication_log "
                              "order by publication_id desc limit 1").fetchone() == (
        True, "late CRM file, verified", "lee.oncall")
