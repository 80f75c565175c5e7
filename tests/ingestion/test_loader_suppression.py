"""The loader's suppression list (right to erasure, issue 10): rows carrying an erased
person's identifier are dropped at load time and counted, so read = loaded +
quarantined + suppressed, and a quarantined line naming them has its raw text redacted."""
from __future__ import annotations

import json
from datetime import date

import pytest

from ingestion.loader import load_file
from ingestion.suppression import REDACTED
from touchpoint.pseudonyms import erasure_pads, pseudonym

DAY = date(2026, 11, 1)
HEADER = "account_id,email,phone,signup_at,updated_at"


def suppress(conn, identifier_type: str, normalised: str) -> None:
    with conn.transaction():
        key = erasure_pads(conn)
        conn.execute("insert into ops.erasure_suppression (identifier_type, identifier_hmac, erasure_id) "
                     "values (%s, %s, 0)", (identifier_type, pseudonym(normalised, key)))


@pytest.fixture
def clean_suppressions(conn):
    conn.execute("truncate ops.erasure_suppression")
    yield
    conn.execute("truncate ops.erasure_suppression")


def test_rows_of_a_suppressed_person_are_dropped_and_counted(conn, tmp_path, clean_suppressions):
    # GIVEN an erased person's email, suppressed in its normalised form
    suppress(conn, "email", "minji.kim@example.com")
    # AND a CRM file with that person (as typed: case and spaces), another person, and a
    # broken line naming the erased person
    folder = tmp_path / "crm_customers" / DAY.isoformat()
    folder.mkdir(parents=True)
    path = folder / "crm.csv"
    path.write_text("\n".join([
        HEADER,
        "A00000001, Minji.Kim@Example.COM ,010-1111-2222,2026-10-01T10:00:00+09:00,2026-11-01T09:00:00+09:00",
        "A00000002,other@example.com,010-3333-4444,2026-10-01T10:00:00+09:00,2026-11-01T09:00:00+09:00",
        "A00000003,minji.kim@example.com,not-a-date",
    ]) + "\n")
    # WHEN it is loaded
    result = load_file(conn, "crm_customers", path, DAY, tmp_path)
    # THEN the person's row is dropped and counted as suppressed, and the counts reconcile
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.rows_suppressed) == (3, 1, 1, 1)
    assert [r[0] for r in conn.execute("select account_id from raw.crm_customers")] == ["A00000002"]
    manifest = conn.execute("select rows_read, rows_loaded, rows_quarantined, rows_suppressed from ops.load_manifest "
                            "where load_id = %s", (result.load_id,)).fetchone()
    assert manifest == (3, 1, 1, 1)
    # AND the quarantined line naming them keeps its reason and line number, not its text
    assert conn.execute("select line_number, raw_record from raw.quarantine").fetchall() == [(3, REDACTED)]
    # AND an unchanged re-delivery is skipped with the same counts
    assert load_file(conn, "crm_customers", path, DAY, tmp_path).rows_suppressed == 1


def test_any_identifier_field_of_the_contract_suppresses(conn, tmp_path, clean_suppressions):
    # GIVEN an erased person's cookie id (they never logged in on this row)
    suppress(conn, "cookie_id", "111.222")
    folder = tmp_path / "web_events" / DAY.isoformat()
    folder.mkdir(parents=True)
    path = folder / "web.jsonl"
    event = {"event_date": "20261101", "event_timestamp": 1793491200123456, "event_name": "page_view"}
    path.write_text("\n".join(json.dumps({**event, "user_pseudo_id": cookie}) for cookie in (" 111.222", "333.444"))
                    + "\n")
    result = load_file(conn, "web_events", path, DAY, tmp_path)
    assert (result.rows_loaded, result.rows_suppressed) == (1, 1)


def test_without_suppressions_nothing_is_dropped(conn, tmp_path, clean_suppressions):
    folder = tmp_path / "crm_customers" / DAY.isoformat()
    folder.mkdir(parents=True)
    path = folder / "crm.csv"
    path.write_text(HEADER + "\nA00000001,minji.kim@example.com,,2026-10-01T10:00:00+09:00,2026-11-01T09:00:00+09:00\n")
    result = load_file(conn, "crm_customers", path, DAY, tmp_path)
    assert (result.rows_loaded, result.rows_suppressed) == (1, 0)
