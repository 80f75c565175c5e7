"""The summary `touchpoint run` prints: a file that could not be read is named with its reason.

GIVEN a night whose manifest holds loaded files, a suppressed row and an unreadable file
WHEN the summary is printed
THEN the counts reconcile per source and the failed file is listed with its reason,
     unless a corrected re-delivery has answered it.
"""
from __future__ import annotations

from datetime import date

from touchpoint.runner import RunOutcome
from touchpoint.summary import print_summary

DAY = date(2026, 11, 1)


def add_load(conn, load_id, path, read, loaded, quarantined, suppressed=0, status="loaded", error=None,
             superseded_by=None):
    conn.execute(
        "insert into ops.load_manifest (load_id, source, logical_date, file_path, checksum, rows_read, rows_loaded,"
        " rows_quarantined, rows_suppressed, status, error, superseded_by, is_current)"
        " values (%s, 'loyalty_events', %s, %s, 'x', %s, %s, %s, %s, %s, %s, %s, %s)",
        (load_id, DAY, path, read, loaded, quarantined, suppressed, status, error, superseded_by,
         status != "failed"))


def test_a_failed_file_is_named_with_its_reason(fresh_conn, fresh_db_url, capsys):
    add_load(fresh_conn, "l1", "loyalty_events/2026-11-01/part-0001.jsonl.gz", 100, 97, 2, suppressed=1)
    reason = "gzip stream truncated (the file ends before the end-of-stream marker): an incomplete upload"
    add_load(fresh_conn, "l2", "loyalty_events/2026-11-01/part-0002.jsonl.gz", 0, 0, 0, status="failed",
             error=reason)
    add_load(fresh_conn, "l3", "loyalty_events/2026-11-01/part-0003.jsonl.gz", 0, 0, 0, status="failed",
             error="corrupt gzip data", superseded_by="l4")
    print_summary(fresh_db_url, RunOutcome(DAY, None, "failed", 1.0))
    out = capsys.readouterr().out
    assert "loyalty_events       files=1   read=100      loaded=97       quarantined=2 suppressed=1" in out
    assert f"FAILED loyalty_events/2026-11-01/part-0002.jsonl.gz: {reason}" in out
    assert "part-0003" not in out  # answered by its re-delivery
