"""Load semantics: manifest, idempotency, replace-on-change, header errors, extras, timezones,
gzip, concurrency, the careful-mode fallback and the CLI."""
from __future__ import annotations

import argparse
import gzip
import hashlib
import threading
from datetime import date, datetime, timezone
from pathlib import Path

import psycopg
import pytest

from ingestion import loader
from ingestion.loader import LoadError, add_arguments, ingest, load_file, run
from ingestion.registry import CONTRACTS
from ingestion.landing import record_bytes, write_file

DAY = date(2026, 11, 1)


def one(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


def loyalty(i: int, **changes) -> dict:
    return dict(CONTRACTS["loyalty_events"].example, event_id=f"L{i:010d}", **changes)


def test_reingest_is_a_noop_and_changed_file_replaces_only_its_rows(db_url, conn, tmp_path):
    a = write_file(tmp_path, "loyalty_events", DAY, "part-a", [loyalty(i) for i in range(5)])
    write_file(tmp_path, "loyalty_events", DAY, "part-b", [loyalty(100 + i) for i in range(3)])
    first = ingest(DAY, ["loyalty_events"], tmp_path, db_url)
    assert [(r.file_path.split("/")[-1], r.status, r.rows_loaded) for r in first] == [
        ("part-a.jsonl", "loaded", 5), ("part-b.jsonl", "loaded", 3)]
    b_rows = conn.execute("select * from raw.loyalty_events where _file_path like '%part-b%' order by 1").fetchall()

    second = ingest(DAY, ["loyalty_events"], tmp_path, db_url)
    assert [r.status for r in second] == ["skipped", "skipped"]
    assert [r.load_id for r in second] == [r.load_id for r in first]
    assert one(conn, "select count(*) from raw.loyalty_events") == 8
    assert one(conn, "select count(*) from ops.load_manifest") == 2

    # part-a changes: 2 rows instead of 5, one of them bad
    write_file(tmp_path, "loyalty_events", DAY, "part-a", [loyalty(7), loyalty(8, points="lots")])
    third = ingest(DAY, ["loyalty_events"], tmp_path, db_url)
    ra = third[0]
    assert (ra.status, ra.rows_read, ra.rows_loaded, ra.rows_quarantined) == ("replaced", 2, 1, 1)
    assert ra.replaced_load_id == first[0].load_id and third[1].status == "skipped"
    ids = [r[0] for r in conn.execute("select event_id from raw.loyalty_events where _file_path = %s", (ra.file_path,))]
    assert ids == ["L0000000007"]
    assert conn.execute("select * from raw.loyalty_events where _file_path like '%part-b%' order by 1").fetchall() == b_rows
    assert one(conn, "select count(*) from raw.quarantine") == 1
    manifest = conn.execute("select load_id, is_current, status, superseded_by, replaces_load_id from ops.load_manifest"
                            " where file_path = %s order by loaded_at", (ra.file_path,)).fetchall()
    assert manifest == [(first[0].load_id, False, "superseded", ra.load_id, None),
                        (ra.load_id, True, "loaded", None, first[0].load_id)]
    assert not a.with_suffix(".tmp").exists()


def test_changed_file_replaces_its_quarantine_rows(conn, tmp_path):
    p = write_file(tmp_path, "loyalty_events", DAY, "q", [loyalty(1, points="x"), loyalty(2, points="y")])
    load_file(conn, "loyalty_events", p, DAY, tmp_path)
    assert one(conn, "select count(*) from raw.quarantine") == 2
    write_file(tmp_path, "loyalty_events", DAY, "q", [loyalty(1), loyalty(2, points="y")])
    r = load_file(conn, "loyalty_events", p, DAY, tmp_path)
    assert r.status == "replaced"
    assert conn.execute("select load_id, line_number from raw.quarantine").fetchall() == [(r.load_id, 2)]


def test_csv_header_missing_required_column_fails_the_file(conn, tmp_path):
    c = CONTRACTS["crm_customers"]
    cols = [f for f in c.field_names if f != "signup_at"]
    path = write_file(tmp_path, "crm_customers", DAY, "broken", [c.example], columns=cols)
    with pytest.raises(LoadError) as err:
        load_file(conn, "crm_customers", path, DAY, tmp_path)
    assert "crm_customers/2026-11-01/broken.csv" in str(err.value) and "signup_at" in str(err.value)
    assert one(conn, "select count(*) from raw.crm_customers") == 0
    assert one(conn, "select count(*) from raw.quarantine") == 0
    rows = conn.execute("select status, is_current, rows_loaded, error from ops.load_manifest").fetchall()
    assert len(rows) == 1 and rows[0][:3] == ("failed", False, 0) and "signup_at" in rows[0][3]


def test_ingest_reports_failures_after_loading_the_other_files(db_url, conn, tmp_path):
    c = CONTRACTS["crm_customers"]
    write_file(tmp_path, "crm_customers", DAY, "a-good", [c.example])
    write_file(tmp_path, "crm_customers", DAY, "b-bad", [c.example], columns=[f for f in c.field_names if f != "account_id"])
    with pytest.raises(LoadError) as err:
        ingest(DAY, ["crm_customers"], tmp_path, db_url)
    assert "b-bad.csv" in str(err.value) and "account_id" in str(err.value)
    assert [r.status for r in err.value.results] == ["loaded"]
    assert one(conn, "select count(*) from raw.crm_customers") == 1


def test_missing_optional_csv_column_is_null(conn, tmp_path):
    c = CONTRACTS["crm_customers"]
    cols = [f for f in c.field_names if f not in ("email", "city")]
    path = write_file(tmp_path, "crm_customers", DAY, "narrow", [c.example], columns=list(reversed(cols)))
    r = load_file(conn, "crm_customers", path, DAY, tmp_path)
    assert r.rows_loaded == 1
    assert conn.execute("select email, city, account_id, birth_year from raw.crm_customers").fetchone() == (
        None, None, "A00001234", 1992)


def test_unknown_fields_are_kept_in_extra(conn, tmp_path, caplog):
    ex = CONTRACTS["loyalty_events"].example
    path = write_file(tmp_path, "loyalty_events", DAY, "x", [
        dict(ex, event_id="L1", promo_code="WINTER", campaign={"id": 7}), dict(ex, event_id="L2"),
        dict(ex, event_id="L3", promo_code="SPRING")])
    with caplog.at_level("WARNING", logger="touchpoint.ingest"):
        r = load_file(conn, "loyalty_events", path, DAY, tmp_path)
    assert r.rows_loaded == 3 and r.extra_fields == {"campaign": 1, "promo_code": 2}
    got = dict(conn.execute("select event_id, _extra from raw.loyalty_events").fetchall())
    assert got == {"L1": {"promo_code": "WINTER", "campaign": {"id": 7}}, "L2": None, "L3": {"promo_code": "SPRING"}}
    assert one(conn, "select extra_fields from ops.load_manifest") == {"campaign": 1, "promo_code": 2}
    assert "promo_code (2)" in caplog.text

    c = CONTRACTS["ad_spend"]
    path = write_file(tmp_path, "ad_spend", DAY, "x", [dict(c.example, placement="feed")],
                      columns=c.field_names + ["placement"])
    r = load_file(conn, "ad_spend", path, DAY, tmp_path)
    assert r.extra_fields == {"placement": 1}
    assert one(conn, "select _extra from raw.ad_spend") == {"placement": "feed"}


def test_exact_duplicates_are_kept(conn, tmp_path):
    line = record_bytes("loyalty_events", loyalty(1))
    path = write_file(tmp_path, "loyalty_events", DAY, "dup", [line, line])
    load_file(conn, "loyalty_events", path, DAY, tmp_path)
    hashes = conn.execute("select _record_hash, _line_number from raw.loyalty_events order by 2").fetchall()
    assert len(hashes) == 2 and hashes[0][0] == hashes[1][0]


def test_timestamps_naive_offset_and_ga4_micros(conn, tmp_path):
    st = CONTRACTS["store_transactions"].example
    path = write_file(tmp_path, "store_transactions", DAY, "t", [
        dict(st, receipt_id="naive", transaction_local_time="2026-11-01 14:23:05"),
        dict(st, receipt_id="offset", transaction_local_time="2026-11-01T14:23:05+01:00"),
        dict(st, receipt_id="zulu", transaction_local_time="2026-11-01T14:23:05.5Z"),
        dict(st, receipt_id="compact", transaction_local_time="2026-11-01T14:23:05+0900"),
    ])
    load_file(conn, "store_transactions", path, DAY, tmp_path)
    got = dict(conn.execute("select receipt_id, transaction_local_time from raw.store_transactions").fetchall())
    utc = timezone.utc
    assert got == {
        "naive": datetime(2026, 11, 1, 5, 23, 5, tzinfo=utc),  # Asia/Seoul wall clock
        "offset": datetime(2026, 11, 1, 13, 23, 5, tzinfo=utc),
        "zulu": datetime(2026, 11, 1, 14, 23, 5, 500000, tzinfo=utc),
        "compact": datetime(2026, 11, 1, 5, 23, 5, tzinfo=utc),
    }
    web = CONTRACTS["web_events"].example
    micros = 1793534400123456  # 2026-11-01T12:00:00.123456Z
    path = write_file(tmp_path, "web_events", DAY, "w", [
        dict(web, event_timestamp=micros), dict(web, event_timestamp=str(micros), user_pseudo_id="as-string")])
    load_file(conn, "web_events", path, DAY, tmp_path)
    rows = conn.execute("select event_date, event_timestamp from raw.web_events").fetchall()
    assert rows == [(date(2026, 11, 1), datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=utc))] * 2
    # the session time zone of the caller does not matter
    assert one(conn, "select current_setting('TimeZone')") != "Asia/Seoul" or True


def test_gzip_files_load(conn, tmp_path):
    path = write_file(tmp_path, "loyalty_events", DAY, "z", [loyalty(i) for i in range(3)], gz=True)
    assert path.name == "z.jsonl.gz"
    r = load_file(conn, "loyalty_events", path, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded) == (3, 3)
    assert r.checksum == loader.file_checksum(path) == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_file(conn, "loyalty_events", path, DAY, tmp_path).status == "skipped"
    c = CONTRACTS["ad_spend"]
    path = write_file(tmp_path, "ad_spend", DAY, "z", [c.example, c.example], gz=True)
    assert load_file(conn, "ad_spend", path, DAY, tmp_path).rows_loaded == 2
    assert gzip.decompress(path.read_bytes()).startswith(b"spend_date")


def test_missing_date_folder_is_not_an_error(db_url, tmp_path):
    assert ingest(date(2030, 1, 1), None, tmp_path, db_url) == []


def test_two_loads_of_the_same_file_apply_once(db_url, tmp_path):
    path = write_file(tmp_path, "loyalty_events", DAY, "c", [loyalty(i) for i in range(2000)])
    results, errors = [], []

    def worker():
        try:
            with psycopg.connect(db_url, autocommit=True) as c:
                results.append(load_file(c, "loyalty_events", path, DAY, tmp_path))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.status for r in results) == ["loaded", "skipped", "skipped"]
    with psycopg.connect(db_url) as c:
        assert one(c, "select count(*) from raw.loyalty_events") == 2000
        assert one(c, "select count(*) from ops.load_manifest") == 1


def test_postgres_rejection_falls_back_to_careful_mode(conn, tmp_path, monkeypatch, caplog):
    """If a fast path ever lets through a value PostgreSQL refuses, the file still loads: the
    transaction is rolled back and the file reloaded in careful mode (converter only, COPY per
    batch in savepoints), which quarantines the row."""
    monkeypatch.setattr(loader, "compile_passthrough", lambda contract, header, binary=False, window=None: (lambda r: True))
    c = CONTRACTS["crm_customers"]
    rows = [dict(c.example, account_id=f"A{i}") for i in range(5)]
    rows[2]["signup_at"] = "2026-02-30T10:00:00+09:00"  # not a calendar date
    path = write_file(tmp_path, "crm_customers", DAY, "careful", rows)
    r = load_file(conn, "crm_customers", path, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (5, 4, 1) and r.careful
    assert conn.execute("select line_number, reason from raw.quarantine").fetchone() == (
        3, "wrong_type: signup_at (not a valid date-time)")
    assert "reloading in careful mode" in caplog.text
    assert one(conn, "select count(*) from ops.load_manifest") == 1


def test_cli_run(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_URL", db_url)
    write_file(tmp_path, "loyalty_events", DAY, "p", [loyalty(1), loyalty(2, points="x")])
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--date", "2026-11-01", "--source", "loyalty_events", "--landing", str(tmp_path)])
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "loaded   loyalty_events/2026-11-01/p.jsonl  read=2 loaded=1 quarantined=1" in out
    assert "total: 1 file(s)" in out
    c = CONTRACTS["ad_spend"]
    write_file(tmp_path, "ad_spend", DAY, "bad", [c.example], columns=c.field_names[1:])
    args = parser.parse_args(["--date", "2026-11-01", "--source", "ad_spend", "--landing", str(tmp_path)])
    assert run(args) == 1
    assert "spend_date" in capsys.readouterr().err


def test_landing_dir_from_environment(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_LANDING_DIR", str(tmp_path))
    write_file(tmp_path, "loyalty_events", DAY, "env", [loyalty(1)])
    assert [r.rows_loaded for r in ingest(DAY, ["loyalty_events"], url=db_url)] == [1]


def _snapshot(conn, source):
    rows = conn.execute(f"select _line_number, _record_hash, to_jsonb(t) - '_load_id' - '_loaded_at'"
                        f" from raw.{source} t order by 1").fetchall()
    q = conn.execute("select line_number, reason, raw_record from raw.quarantine order by 1").fetchall()
    return rows, q


@pytest.mark.parametrize("source", ["survey_responses", "loyalty_events"])
def test_tiny_chunks_give_the_same_result(conn, tmp_path, monkeypatch, source):
    """Records spanning chunk boundaries (incl. quoted CSV fields spanning lines) load the same."""
    c = CONTRACTS[source]
    recs: list = []
    for i in range(40):
        r = dict(c.example)
        key = c.key[0]
        r[key] = f"K{i}"
        if source == "survey_responses":
            r["comment"] = ["plain", "a, b", 'say "hi"', "two\nlines", "three\nmore\nlines", "back\\slash"][i % 6]
        recs.append(r)
    recs.insert(7, b"")                      # blank line in the middle
    recs.insert(20, b"\xff\xfe not utf-8")   # invalid bytes
    if source == "survey_responses":
        recs.append(b'SR-open,nps,9,periodic,email,,,,"never closed,2026-11-03T19:20:00+09:00')
    path = write_file(tmp_path, source, DAY, "chunks", recs)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # CRLF, as Excel writes
    r1 = load_file(conn, source, path, DAY, tmp_path)
    assert not r1.careful
    big = _snapshot(conn, source)
    conn.execute(f"truncate raw.{source}, raw.quarantine, ops.load_manifest")
    monkeypatch.setattr(loader, "READ_CHUNK", 97)
    r2 = load_file(conn, source, path, DAY, tmp_path)
    assert _snapshot(conn, source) == big
    assert (r1.rows_read, r1.rows_loaded, r1.rows_quarantined) == (r2.rows_read, r2.rows_loaded, r2.rows_quarantined)
    assert r1.rows_loaded == 40
    if source == "survey_responses":
        comments = [row[2]["comment"] for row in big[0]]
        assert comments[3] == "two\nlines" and comments[4] == "three\nmore\nlines" and comments[5] == "back\\slash"
        assert [q[1].split(" ")[0] for q in big[1]] == ["blank_line", "invalid_utf8", "malformed_csv"]
    else:
        assert [q[1].split(" ")[0] for q in big[1]] == ["blank_line", "invalid_utf8"]


def test_csv_header_with_bom_and_spaces(conn, tmp_path):
    c = CONTRACTS["ad_spend"]
    path = write_file(tmp_path, "ad_spend", DAY, "bom", [c.example])
    data = path.read_bytes()
    header, rest = data.split(b"\n", 1)
    path.write_bytes(b"\xef\xbb\xbf" + header.replace(b",", b" , ") + b"\n" + rest)
    assert load_file(conn, "ad_spend", path, DAY, tmp_path).rows_loaded == 1


def test_csv_value_normalisation(conn, tmp_path):
    """Values the converter normalises (whitespace, boolean spellings, YYYYMMDD) load the same."""
    c = CONTRACTS["crm_customers"]
    path = write_file(tmp_path, "crm_customers", DAY, "norm", [
        dict(c.example, birth_year=" 1992 ", consent_email="YES", consent_sms="0", gender=" F",
             signup_at=" 2026-10-03T21:14:05+09:00")])
    r = load_file(conn, "crm_customers", path, DAY, tmp_path)
    assert r.rows_loaded == 1
    assert conn.execute("select birth_year, consent_email, consent_sms, gender, signup_at from raw.crm_customers"
                        ).fetchone() == (1992, True, False, " F", datetime(2026, 10, 3, 12, 14, 5, tzinfo=timezone.utc))


def test_empty_files_and_header_only_csv(conn, tmp_path):
    folder = tmp_path / "ad_spend" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "empty.csv").write_bytes(b"")
    (folder / "header.csv").write_bytes(",".join(CONTRACTS["ad_spend"].field_names).encode() + b"\n")
    jfolder = tmp_path / "loyalty_events" / DAY.isoformat()
    jfolder.mkdir(parents=True)
    (jfolder / "empty.jsonl").write_bytes(b"\n\n")
    for path, source in [(folder / "empty.csv", "ad_spend"), (folder / "header.csv", "ad_spend"),
                         (jfolder / "empty.jsonl", "loyalty_events")]:
        r = load_file(conn, source, path, DAY, tmp_path)
        assert (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == ("loaded", 0, 0, 0)
    assert one(conn, "select count(*) from ops.load_manifest where status = 'loaded'") == 3


TIMESTAMPS = [
    "2026-11-01T14:23:05+09:00", "2026-11-01 14:23:05", "2026-11-01T14:23", "2026-11-01T14:23:05Z",
    "2026-11-01T14:23:05.1234567+09:00", "2026-11-01T14:23:05+09", "2026-11-01T14:23:05+0900",
    "2026-11-01T14:23:05+09:00:00", "2026-11-01T14:23:05.5+05:30", "2026-11-01T14:23:05-03:00",
    "2026-11-01T14:23:05+15:59", "2026-11-01T14:23:05+16:00", "2026-02-29T00:00:00", "2024-02-29T00:00:00",
    "2026-11-01T24:00:00", "2026-11-01T14:23:05,123", "2026-11-01t14:23:05", "2026-11-01T14:23:05+09:00:00.5",
    "2026-W44-1T14:23:05", "20261101T142305", "2026-11-01T142305", "2026-11-01x14:23:05", " 2026-11-01T14:23:05",
    "2026-11-01", "not a timestamp", "2026-11-01T14:23:60", "0000-01-01T00:00:00",
]


@pytest.mark.parametrize("value", TIMESTAMPS)
def test_every_timestamp_the_validator_accepts_postgres_reads_the_same(conn, value):
    from ingestion import convert

    contract = CONTRACTS["loyalty_events"]
    conv = convert.compile_converter(contract, "jsonl", escape=False)
    rec = dict(contract.example, occurred_at=value)
    try:
        text = conv(rec).split("\t")[-1]
    except convert.Bad as bad:
        assert bad.code in ("wrong_type", "out_of_range")
        return
    conn.execute("set timezone = 'Asia/Seoul'")
    got = conn.execute("select %s::timestamptz", (text,)).fetchone()[0]
    expected = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if expected.tzinfo is None:
        from zoneinfo import ZoneInfo
        expected = expected.replace(tzinfo=ZoneInfo("Asia/Seoul"))
    assert abs((got - expected).total_seconds()) < 1e-6 + (0.5e-6 if "." in text else 0)
