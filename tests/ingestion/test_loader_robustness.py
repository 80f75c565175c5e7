"""Issue 11: one bad file never stops the others, encodings are stated not guessed, and values
valid by type but absurd are quarantined with a reason.

Each case is a named landing file built here (GIVEN), loaded among good files of the same
source and of other sources (WHEN), and judged by the manifest and raw.quarantine (THEN):
counts reconcile (read = loaded + quarantined + suppressed) and the other files are unaffected.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.landing import write_file
from ingestion.loader import LoadError, ingest, load_file
from ingestion.registry import CONTRACTS
from touchpoint import source_checks

DAY = date(2026, 11, 1)
REPO = Path(__file__).resolve().parents[2]


def loyalty(i: int, **changes) -> dict:
    return dict(CONTRACTS["loyalty_events"].example, event_id=f"L{i:010d}", **changes)


def crm(i: int, **changes) -> dict:
    return dict(CONTRACTS["crm_customers"].example, account_id=f"A{i:08d}", **changes)


def jsonl_bytes(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def good_night(landing: Path) -> None:
    """Good files of the night: two loyalty files and a CRM file."""
    write_file(landing, "loyalty_events", DAY, "part-0001", [loyalty(i) for i in range(3)])
    write_file(landing, "loyalty_events", DAY, "part-0003", [loyalty(10 + i) for i in range(2)], gz=True)
    write_file(landing, "crm_customers", DAY, "part-0001", [crm(i) for i in range(4)])


def manifest(conn) -> dict[str, tuple]:
    rows = conn.execute("select file_path, status, rows_read, rows_loaded, rows_quarantined, rows_suppressed,"
                        " error, encoding from ops.load_manifest order by loaded_at").fetchall()
    return {r[0].split("/")[-1]: r[1:] for r in rows}


def assert_reconciled(conn) -> None:
    bad = conn.execute("select file_path from ops.load_manifest where status = 'loaded'"
                       " and rows_read <> rows_loaded + rows_quarantined + rows_suppressed").fetchall()
    assert bad == []
    counts = conn.execute("select m.file_path, m.rows_loaded, (select count(*) from raw.quarantine q"
                          " where q.load_id = m.load_id) from ops.load_manifest m where m.is_current").fetchall()
    for path, loaded, quarantined in counts:
        source = path.split("/")[0]
        in_raw = conn.execute(f"select count(*) from raw.{source} where _file_path = %s", (path,)).fetchone()[0]
        assert in_raw == loaded, path
        assert quarantined == manifest(conn)[path.split("/")[-1]][3], path


def assert_good_night_loaded(conn) -> None:
    m = manifest(conn)
    assert m["part-0001.jsonl"][:4] == ("loaded", 3, 3, 0)
    assert m["part-0003.jsonl.gz"][:4] == ("loaded", 2, 2, 0)
    assert m["part-0001.csv"][:4] == ("loaded", 4, 4, 0)


def quarantine(conn) -> list[tuple[int, str]]:
    return conn.execute("select line_number, reason from raw.quarantine order by file_path, line_number").fetchall()


# --------------------------------------------------------------------------------------------
# 1. One bad file never stops the others

def corrupt_gzip(data: bytes) -> bytes:
    z = bytearray(gzip.compress(data))
    for i in range(12, len(z) - 8):  # the deflate stream, header and trailer left intact
        z[i] ^= 0x5A
    return bytes(z)


def truncated_gzip(data: bytes) -> bytes:
    z = gzip.compress(data)
    return z[: len(z) // 2]


UNREADABLE = {
    "corrupt gzip": (corrupt_gzip, "corrupt gzip data"),
    "plain text named .gz": (lambda data: data, "not a gzip file although named .gz"),
    "truncated gzip": (truncated_gzip, "gzip stream truncated"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_file_fails_alone_and_the_night_loads(conn, db_url, tmp_path, case):
    # GIVEN good files of two sources and, between them in name order, an unreadable .gz
    good_night(tmp_path)
    make, words = UNREADABLE[case]
    bad = tmp_path / "loyalty_events" / DAY.isoformat() / "part-0002.jsonl.gz"
    bad.write_bytes(make(jsonl_bytes([loyalty(100 + i) for i in range(500)])))
    # WHEN the whole night is ingested
    with pytest.raises(LoadError) as err:
        ingest(DAY, None, tmp_path, db_url)
    # THEN the bad file is one failed manifest row naming the file and the cause ...
    assert len(err.value.errors) == 1
    message = str(err.value.errors[0])
    assert message.startswith("loyalty_events/2026-11-01/part-0002.jsonl.gz: ") and words in message
    m = manifest(conn)
    assert m["part-0002.jsonl.gz"][:5] == ("failed", 0, 0, 0, 0) and words in m["part-0002.jsonl.gz"][5]
    # ... and every other file, of the same source and the next, loaded
    assert_good_night_loaded(conn)
    assert [r.file_path.split("/")[-1] for r in err.value.results] == [
        "part-0001.csv", "part-0001.jsonl", "part-0003.jsonl.gz"]
    assert_reconciled(conn)
    assert conn.execute("select count(*) from raw.loyalty_events where _file_path like '%%part-0002%%'").fetchone()[0] == 0


def test_cli_exits_non_zero_with_one_line_then_a_corrected_redelivery_loads(conn, db_url, tmp_path):
    # GIVEN a night whose second loyalty file is a truncated upload
    good_night(tmp_path)
    bad = tmp_path / "loyalty_events" / DAY.isoformat() / "part-0002.jsonl.gz"
    records = [loyalty(100 + i) for i in range(50)]
    bad.write_bytes(truncated_gzip(jsonl_bytes(records)))
    env = dict(os.environ, WAREHOUSE_URL=db_url)
    cmd = [str(REPO / ".venv" / "bin" / "touchpoint"), "ingest", "--date", DAY.isoformat(), "--landing", str(tmp_path)]
    if not Path(cmd[0]).exists():
        cmd[:1] = [sys.executable, "-m", "touchpoint.cli"]
    # WHEN touchpoint ingest runs
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    # THEN it exits non-zero, says why on one line, shows no traceback, and loaded the rest
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("FAILED")]
    assert failed == ["FAILED   loyalty_events/2026-11-01/part-0002.jsonl.gz: gzip stream truncated (the file ends"
                      " before the end-of-stream marker): an incomplete upload; nothing loaded"]
    assert "failed 1" in proc.stdout
    assert_good_night_loaded(conn)
    blocking = {c["check_name"]: c for c in source_checks.delivery_checks(conn, DAY)
                if c["object_name"] == "loyalty_events"}
    assert blocking["loaded_without_errors"]["status"] == "failed"
    assert "gzip stream truncated" in blocking["loaded_without_errors"]["reason"]

    # WHEN the corrected file is re-delivered and the night re-run
    bad.write_bytes(gzip.compress(jsonl_bytes(records)))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    # THEN it loads, the rest is skipped, and the failed attempt no longer blocks the night
    assert proc.returncode == 0, proc.stderr
    m = manifest(conn)
    assert m["part-0002.jsonl.gz"][:4] == ("loaded", 50, 50, 0)
    assert conn.execute("select count(*) from ops.load_manifest where status = 'failed'"
                        " and superseded_by is null").fetchone()[0] == 0
    checks = {c["check_name"]: c for c in source_checks.delivery_checks(conn, DAY) if c["object_name"] == "loyalty_events"}
    assert checks["loaded_without_errors"]["status"] == "passed"
    assert_reconciled(conn)


def test_unreadable_file_in_one_source_does_not_stop_the_next_source(conn, db_url, tmp_path):
    # GIVEN the CRM file (first source in load order) is not gzip although named .csv.gz
    good_night(tmp_path)
    (tmp_path / "crm_customers" / DAY.isoformat() / "part-0000.csv.gz").write_bytes(b"account_id,signup_at\n")
    with pytest.raises(LoadError):
        ingest(DAY, None, tmp_path, db_url)
    # THEN the other CRM file and the later source both loaded
    assert_good_night_loaded(conn)
    assert manifest(conn)["part-0000.csv.gz"][0] == "failed"


# --------------------------------------------------------------------------------------------
# 2. Encodings stated, not guessed wrong

def test_utf8_bom_jsonl_loads_its_first_record_and_is_recorded(conn, tmp_path):
    path = tmp_path / "loyalty_events" / DAY.isoformat() / "bom.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(codecs.BOM_UTF8 + jsonl_bytes([loyalty(1), loyalty(2)]))
    r = load_file(conn, "loyalty_events", path, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.encoding) == (2, 2, 0, "utf-8 (BOM removed)")
    assert manifest(conn)["bom.jsonl"][6] == "utf-8 (BOM removed)"
    assert_reconciled(conn)


def test_utf8_bom_csv_loads_and_is_recorded(conn, tmp_path):
    path = write_file(tmp_path, "crm_customers", DAY, "bom", [crm(1), crm(2)])
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    r = load_file(conn, "crm_customers", path, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.encoding) == (2, 2, 0, "utf-8 (BOM removed)")


@pytest.mark.parametrize("codec, bom, label", [
    ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16-le (BOM; decoded to UTF-8)"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16-be (BOM; decoded to UTF-8)"),
    ("utf-16-le", b"", "utf-16-le (NUL-byte pattern; decoded to UTF-8)"),
    ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32-le (BOM; decoded to UTF-8)"),
])
def test_utf16_and_utf32_csv_are_decoded_and_recorded(conn, tmp_path, codec, bom, label):
    path = write_file(tmp_path, "crm_customers", DAY, "wide", [crm(1), crm(2, name="Kim Minji")])
    path.write_bytes(bom + path.read_bytes().decode("utf-8").encode(codec))
    r = load_file(conn, "crm_customers", path, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.encoding) == (2, 2, 0, label)
    names = [n for (n,) in conn.execute("select name from raw.crm_customers order by _line_number")]
    assert names == ["김민지", "Kim Minji"]


def test_invalid_utf16_fails_the_file_saying_so(conn, tmp_path):
    path = tmp_path / "loyalty_events" / DAY.isoformat() / "broken16.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(codecs.BOM_UTF16_LE + jsonl_bytes([loyalty(1)]).decode().encode("utf-16-le") + b"\x00\xd8A\x00")
    with pytest.raises(LoadError, match="not valid UTF-16-LE text"):
        load_file(conn, "loyalty_events", path, DAY, tmp_path)
    assert manifest(conn)["broken16.jsonl"][0] == "failed"


def test_timestamp_with_surrounding_whitespace_loads(conn, tmp_path):
    # JSONL (struct fast path) and CSV (per-value path): the documented whitespace rule
    p1 = write_file(tmp_path, "loyalty_events", DAY, "ws", [loyalty(1, occurred_at="2026-11-01T10:00:00+09:00 "),
                                                           loyalty(2, occurred_at=" 2026-11-01 10:00:00")])
    p2 = write_file(tmp_path, "crm_customers", DAY, "ws", [crm(1, updated_at="2026-11-01T09:30:00+09:00 ")])
    assert load_file(conn, "loyalty_events", p1, DAY, tmp_path).rows_loaded == 2
    assert load_file(conn, "crm_customers", p2, DAY, tmp_path).rows_loaded == 1
    got = conn.execute("select occurred_at at time zone 'UTC' from raw.loyalty_events order by 1").fetchall()
    assert [str(t) for (t,) in got] == ["2026-11-01 01:00:00", "2026-11-01 01:00:00"]
    assert_reconciled(conn)


def test_full_width_digits_are_quarantined_not_read_as_numbers(conn, tmp_path):
    c = CONTRACTS["survey_responses"]
    rows = [dict(c.example, response_id="R1"), dict(c.example, response_id="R2", score="１０"),
            dict(c.example, response_id="R3", responded_at="２０２６-11-01T10:00:00+09:00")]
    p = write_file(tmp_path, "survey_responses", DAY, "fw", rows)
    j = write_file(tmp_path, "loyalty_events", DAY, "fw", [loyalty(1), loyalty(2, points="１０")])
    r = load_file(conn, "survey_responses", p, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 1, 2)
    r = load_file(conn, "loyalty_events", j, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (2, 1, 1)
    assert quarantine(conn) == [(2, "non_ascii_digits: points"), (2, "non_ascii_digits: score"),
                                (3, "non_ascii_digits: responded_at")]


def test_numerics_keep_every_digit_as_written(conn, tmp_path):
    c = CONTRACTS["store_transactions"]
    p = tmp_path / "store_transactions" / DAY.isoformat() / "digits.jsonl"
    p.parent.mkdir(parents=True)
    line = json.dumps(dict(c.example, receipt_id="S1", total_krw=0))
    lines = [line.replace('"total_krw": 0', '"total_krw": 12.345678901234567890123'),
             line.replace('"total_krw": 0', '"total_krw": 1.10').replace('"receipt_id": "S1"', '"receipt_id": "S2"'),
             # with an unknown field: the dict path keeps the digits too
             line.replace('"total_krw": 0', '"total_krw": 99.000000000000000000001, "promo": 1.50')
                 .replace('"receipt_id": "S1"', '"receipt_id": "S3"')]
    p.write_text("\n".join(lines) + "\n")
    r = load_file(conn, "store_transactions", p, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 3, 0)
    got = conn.execute("select total_krw, _extra from raw.store_transactions order by receipt_id").fetchall()
    assert [g[0] for g in got] == [Decimal("12.345678901234567890123"), Decimal("1.10"),
                                   Decimal("99.000000000000000000001")]
    assert got[2][1] == {"promo": 1.50}
    cc = CONTRACTS["ad_spend"]
    csvp = write_file(tmp_path, "ad_spend", DAY, "digits", [dict(cc.example, spend_krw="12.345678901234567890123")])
    assert load_file(conn, "ad_spend", csvp, DAY, tmp_path).rows_loaded == 1
    assert conn.execute("select spend_krw::text from raw.ad_spend").fetchone()[0] == "12.345678901234567890123"


# --------------------------------------------------------------------------------------------
# 3. Plausibility bounds

ABSURD_TIMESTAMPS = {
    "year 9026": ("9026-11-01T10:00:00+09:00", "implausible_timestamp: occurred_at (after 2026-11-03)"),
    "9999-12-31": ("9999-12-31T23:59:59Z", "implausible_timestamp: occurred_at (after 2026-11-03)"),
    "year 3026": ("3026-01-01T00:00:00+09:00", "implausible_timestamp: occurred_at (after 2026-11-03)"),
    "1899": ("1899-12-31T00:00:00+09:00", "implausible_timestamp: occurred_at (before 2000-01-01)"),
    "year 1": ("0001-01-01T00:00:00Z", "implausible_timestamp: occurred_at (before 2000-01-01)"),
    "year 1 BC": ("-0001-01-01T00:00:00Z", "wrong_type: occurred_at (expected an ISO-8601 timestamp)"),
    "three days ahead": ("2026-11-04T00:00:00+09:00", "implausible_timestamp: occurred_at (after 2026-11-03)"),
}


@pytest.mark.parametrize("case", list(ABSURD_TIMESTAMPS))
def test_absurd_timestamps_are_quarantined_with_the_field(conn, tmp_path, case):
    value, reason = ABSURD_TIMESTAMPS[case]
    p = write_file(tmp_path, "loyalty_events", DAY, "absurd",
                   [loyalty(1), loyalty(2, occurred_at=value), loyalty(3, occurred_at="2026-11-03T23:00:00+09:00")])
    r = load_file(conn, "loyalty_events", p, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 2, 1)
    assert quarantine(conn) == [(2, reason)]
    assert_reconciled(conn)


def test_absurd_dates_in_csv_and_micros_are_quarantined(conn, tmp_path):
    c = CONTRACTS["crm_customers"]
    p = write_file(tmp_path, "crm_customers", DAY, "absurd", [crm(1), crm(2, signup_at="1899-01-01T00:00:00+09:00"),
                                                             crm(3, updated_at="9999-12-31 23:59:59")])
    r = load_file(conn, "crm_customers", p, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 1, 2)
    a = CONTRACTS["ad_spend"]
    q = write_file(tmp_path, "ad_spend", DAY, "absurd", [a.example, dict(a.example, spend_date="9026-10-31")])
    r = load_file(conn, "ad_spend", q, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (2, 1, 1)
    w = CONTRACTS["web_events"]
    year_9026 = 221_000_000_000 * 1_000_000
    v = write_file(tmp_path, "web_events", DAY, "absurd", [w.example, dict(w.example, event_timestamp=year_9026)])
    r = load_file(conn, "web_events", v, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (2, 1, 1)
    assert [reason for _, reason in quarantine(conn)] == [
        "implausible_date: spend_date (after 2026-11-03)",
        "implausible_timestamp: signup_at (before 2000-01-01)",
        "implausible_timestamp: updated_at (after 2026-11-03)",
        "implausible_timestamp: event_timestamp (after 2026-11-03)"]
    assert c.get("signup_at").type == "timestamp"


def test_epoch_and_tolerance_are_configurable(conn, tmp_path, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_DATA_EPOCH", "2020-01-01")
    monkeypatch.setenv("TOUCHPOINT_FUTURE_TOLERANCE_DAYS", "0")
    p = write_file(tmp_path, "loyalty_events", DAY, "cfg", [loyalty(1, occurred_at="2019-06-01T00:00:00Z"),
                                                           loyalty(2, occurred_at="2026-11-02T00:00:00+09:00"),
                                                           loyalty(3)])
    r = load_file(conn, "loyalty_events", p, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 1, 2)
    assert [reason for _, reason in quarantine(conn)] == [
        "implausible_timestamp: occurred_at (before 2020-01-01)", "implausible_timestamp: occurred_at (after 2026-11-01)"]


def test_over_long_fields_are_quarantined_as_too_long(conn, tmp_path):
    five_mb = "김" * 1_700_000
    p = write_file(tmp_path, "crm_customers", DAY, "long", [crm(1), crm(2, name=five_mb), crm(3, name="김" * 200),
                                                           crm(4, city="x" * 1001)])
    r = load_file(conn, "crm_customers", p, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (4, 2, 2)
    c = CONTRACTS["product_reviews"]
    j = write_file(tmp_path, "product_reviews", DAY, "long", [
        dict(c.example, review_id="R1", body="좋아요 " * 3000),
        dict(c.example, review_id="R2", body="x" * 20_001),
        dict(c.example, review_id="R3", reviewer_nickname="n" * 201, extra_field=1)])
    r = load_file(conn, "product_reviews", j, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 1, 2)
    assert [reason for _, reason in quarantine(conn)] == [
        "too_long: name (over 200 characters)", "too_long: city (over 1,000 characters)",
        "too_long: body (over 20,000 characters)", "too_long: reviewer_nickname (over 200 characters)"]
    assert_reconciled(conn)


def test_a_clock_a_year_ahead_is_still_named_by_the_future_events_check(conn, tmp_path):
    p = write_file(tmp_path, "loyalty_events", DAY, "ahead", [loyalty(i, occurred_at="2027-11-01T10:00:00+09:00")
                                                             for i in range(5)])
    load_file(conn, "loyalty_events", p, DAY, tmp_path)
    checks = {c["check_name"]: c for c in source_checks.delivery_checks(conn, DAY) if c["object_name"] == "loyalty_events"}
    assert checks["no_future_events"]["status"] == "failed"
    assert "5 of 5 rows" in checks["no_future_events"]["reason"] and "dated after" in checks["no_future_events"]["reason"]


def test_every_number_field_has_bounds_and_every_text_field_a_length_limit():
    for contract in CONTRACTS.values():
        for f in contract.fields:
            if f.type == "numeric":
                assert f.minimum is not None and f.maximum is not None, (contract.source, f.name)
                assert -10**12 <= f.minimum and f.maximum <= 10**12, (contract.source, f.name)
            if f.type in ("string", "json"):
                assert f.length_limit, (contract.source, f.name)


# --------------------------------------------------------------------------------------------
# 7. Property: whatever the bytes or records, the readers never raise anything but LoadError

_PROPERTY = settings(max_examples=300, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_SEEDS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"\x1f\x8b", b'{"event_id": ', b"account_id,signup_at\n", b"\x00"]
_names = iter(range(10**9))


def _load_or_fail(conn, tmp_path, source: str, name: str, data: bytes) -> None:
    path = tmp_path / source / DAY.isoformat() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        r = load_file(conn, source, path, DAY, tmp_path)
    except LoadError as exc:
        assert str(exc).startswith(f"{source}/"), exc
        return
    assert r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_suppressed


@_PROPERTY
@given(prefix=st.sampled_from(_SEEDS), body=st.binary(max_size=600),
       name=st.sampled_from(["x.jsonl", "x.csv", "x.jsonl.gz", "x.csv.gz"]), gz=st.booleans())
def test_random_bytes_never_raise_anything_but_a_load_error(conn, tmp_path, prefix, body, name, gz):
    source = "loyalty_events" if ".jsonl" in name else "crm_customers"
    data = prefix + body
    if gz and name.endswith(".gz"):
        data = gzip.compress(data)
    _load_or_fail(conn, tmp_path, source, f"{next(_names)}-{name}", data)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["１０", " 2026-11-01T10:00:00Z ", "9999-12-31", "1e400", "-0001-01-01T00:00:00Z", "NaN"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


@_PROPERTY
@given(records=st.lists(st.dictionaries(st.sampled_from(CONTRACTS["store_transactions"].field_names + ["extra"]),
                                        _json_values, max_size=8), min_size=1, max_size=5),
       csv_rows=st.lists(st.lists(st.text(max_size=25), min_size=15, max_size=15), max_size=4))
def test_random_records_never_raise_anything_but_a_load_error(conn, tmp_path, records, csv_rows):
    base = CONTRACTS["store_transactions"].example
    lines = [json.dumps({**base, **r}, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass") for r in records]
    _load_or_fail(conn, tmp_path, "store_transactions", f"{next(_names)}.jsonl", b"\n".join(lines) + b"\n")
    header = ",".join(CONTRACTS["crm_customers"].field_names)
    buf = io.StringIO()
    csv.writer(buf).writerows(csv_rows)
    _load_or_fail(conn, tmp_path, "crm_customers", f"{next(_names)}.csv", (header + "\n" + buf.getvalue()).encode(
        "utf-8", "surrogatepass"))
