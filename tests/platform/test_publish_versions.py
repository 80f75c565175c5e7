"""Versions that mean what they say (issue 10, part 6).

GIVEN nights published, rerun and rolled back in various orders
WHEN retention, `touchpoint rollback [--to]` and `touchpoint versions` act on them
THEN the kept versions are the newest of each recent data date plus the served one,
rollback goes back by data date and never to a version already rolled back from, and
every refusal is a clear message, not a traceback.
"""
from __future__ import annotations

from datetime import date

import pytest

from test_publish_history import CANDIDATE, change_rows, checksum, make_candidate
from touchpoint import cli
from touchpoint.publish import PublishError, kept_versions, list_versions, publish, rollback


def night(conn, day: int, segment: str, run: str | None = None):
    """One night: the candidate changes (one row gets `segment`), then it is published."""
    change_rows(conn, "customer_id = 1", segment)
    return publish(conn, run or f"run-{day}-{segment}", date(2026, 11, day), CANDIDATE)


def served_segment(conn) -> str:
    return conn.execute("select segment from marts.customer_360 where customer_id = 1").fetchone()[0]


def test_default_keeps_the_newest_version_of_each_of_seven_data_dates(fresh_conn, monkeypatch):
    monkeypatch.delenv("TOUCHPOINT_KEEP_VERSIONS", raising=False)
    make_candidate(fresh_conn)
    published = [night(fresh_conn, day, f"day{day}").version for day in range(1, 10)]
    assert kept_versions(fresh_conn) == sorted(published[-7:], reverse=True)
    # history holds only what the kept versions see: every row once, plus customer 1's
    # six older kept values (the oldest kept version's row is the first of the seven)
    assert fresh_conn.execute("select count(*) from marts_history.customer_360").fetchone()[0] == 2000 + 6
    assert [v.version for v in list_versions(fresh_conn)] == sorted(published[-7:], reverse=True)


def test_a_same_date_rerun_replaces_its_own_version_not_an_older_night(fresh_conn, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_KEEP_VERSIONS", "2")
    make_candidate(fresh_conn)
    first = night(fresh_conn, 1, "nov1")
    night(fresh_conn, 2, "nov2-first-try")
    rerun = night(fresh_conn, 2, "nov2-rerun")
    # before: two slots, and the rerun pushed 1 Nov out. Now 1 Nov stays.
    assert kept_versions(fresh_conn) == [rerun.version, first.version]
    back = rollback(fresh_conn)
    assert (back.version, back.logical_date) == (first.version, date(2026, 11, 1))
    assert served_segment(fresh_conn) == "nov1"


def test_rollback_never_serves_a_version_it_rolled_back_from(fresh_conn):
    make_candidate(fresh_conn)
    first = night(fresh_conn, 1, "nov1")
    night(fresh_conn, 2, "nov2-bad")
    assert rollback(fresh_conn).version == first.version
    night(fresh_conn, 3, "nov3")
    # before: the second rollback served nov2-bad again
    again = rollback(fresh_conn)
    assert again.version == first.version and served_segment(fresh_conn) == "nov1"
    with pytest.raises(PublishError, match="nothing to roll back to"):
        rollback(fresh_conn)
    assert served_segment(fresh_conn) == "nov1"  # a refused rollback changes nothing


def test_rollback_to_names_a_kept_version(fresh_conn, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_KEEP_VERSIONS", "3")
    make_candidate(fresh_conn)
    versions = [night(fresh_conn, day, f"day{day}") for day in range(1, 5)]
    assert rollback(fresh_conn, to=versions[1].version_schema).version == versions[1].version
    assert served_segment(fresh_conn) == "day2"
    # a version rolled back from can still be named explicitly
    assert rollback(fresh_conn, to=str(versions[3].version)).version == versions[3].version
    assert served_segment(fresh_conn) == "day4"
    assert checksum(fresh_conn, "marts.customer_360", "*") == checksum(
        fresh_conn, f"{CANDIDATE}.customer_360", "customer_id, segment, lifetime_value")
    with pytest.raises(PublishError, match="not a kept version"):
        rollback(fresh_conn, to=versions[0].version)  # pruned: 1 Nov is beyond the 3 kept dates
    with pytest.raises(PublishError, match="the version marts serve now"):
        rollback(fresh_conn, to=versions[3].version)
    with pytest.raises(PublishError, match="is not a version"):
        rollback(fresh_conn, to="yesterday")


def test_cli_versions_and_rollback_print_messages_not_tracebacks(fresh_conn, fresh_db_url, monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    assert cli.main(["rollback"]) == 1
    assert "nothing has been published yet" in capsys.readouterr().err
    assert cli.main(["versions"]) == 0
    assert "nothing has been published yet" in capsys.readouterr().out

    make_candidate(fresh_conn)
    first = night(fresh_conn, 1, "nov1")
    second = night(fresh_conn, 2, "nov2")
    assert cli.main(["rollback"]) == 0
    assert f"marts now serve {first.version_schema} (data date 2026-11-01)" in capsys.readouterr().out
    assert cli.main(["rollback"]) == 1
    err = capsys.readouterr().err
    assert "nothing to roll back to" in err and "Traceback" not in err
    assert cli.main(["versions"]) == 0
    out = capsys.readouterr().out
    served = next(line for line in out.splitlines() if line.startswith("*"))
    assert first.version_schema in served and "served" in served
    assert any(second.version_schema in line and "rolled back from" in line for line in out.splitlines())
    assert cli.main(["rollback", "--to", second.version_schema]) == 0
    assert served_segment(fresh_conn) == "nov2"
