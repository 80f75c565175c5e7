"""Per-source contract tests: each contract's example loads; broken records are quarantined
with a specific reason, and rows_read = rows_loaded + rows_quarantined."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg
import pytest
import xxhash

from ingestion.loader import load_file
from ingestion.registry import CONTRACTS, SOURCE_NAMES
from ingestion.landing import record_bytes, write_file

DAY = date(2026, 11, 1)


def _count(conn, sql, *params):
    return conn.execute(sql, params).fetchone()[0]


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_example_record_loads(conn: psycopg.Connection, tmp_path: Path, source: str):
    contract = CONTRACTS[source]
    path = write_file(tmp_path, source, DAY, "part-0001", [contract.example])
    result = load_file(conn, source, path, DAY, tmp_path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (1, 1, 0)
    assert result.status == "loaded" and not result.careful
    assert result.file_path == f"{source}/2026-11-01/part-0001.{contract.file_format}"
    row = conn.execute(
        f"select _load_id, _file_path, _line_number, _logical_date, _record_hash, _extra, _loaded_at"
        f" from raw.{source}").fetchone()
    assert row[0] == result.load_id and row[1] == result.file_path and row[2] == 1 and row[3] == DAY
    assert row[4] == xxhash.xxh3_128_hexdigest(record_bytes(source, contract.example, contract.field_names))
    assert row[5] is None and row[6] is not None
    # every field the example carries arrives non-null (empty CSV strings are null)
    cols = ", ".join(f'"{f}"' for f in contract.field_names)
    values = dict(zip(contract.field_names, conn.execute(f"select {cols} from raw.{source}").fetchone()))
    for name, value in contract.example.items():
        if value not in (None, ""):
            assert values[name] is not None, name
    manifest = conn.execute(
        "select source, logical_date, file_path, checksum, rows_read, rows_loaded, rows_quarantined, is_current,"
        " status from ops.load_manifest").fetchall()
    assert manifest == [(source, DAY, result.file_path, result.checksum, 1, 1, 0, True, "loaded")]


def _bad_records(source: str) -> list[tuple[bytes, str]]:
    """(raw record, expected reason prefix) for every kind of contract violation."""
    c = CONTRACTS[source]
    ex = dict(c.example)
    csv_ = c.file_format == "csv"
    out: list[tuple[bytes, str]] = []

    def rec(**changes) -> bytes:
        r = dict(ex)
        for k, v in changes.items():
            if v is KeyError:
                r.pop(k, None)
            else:
                r[k] = v
        return record_bytes(source, r, c.field_names)

    typed = next(f for f in c.fields if f.type in ("integer", "numeric", "timestamp", "timestamp_micros", "date"))
    out.append((rec(**{typed.name: "not-a-value"}), f"wrong_type: {typed.name}"))
    required = next(f for f in c.fields if f.required and f.type == "string")
    out.append((rec(**{required.name: KeyError if not csv_ else ""}), f"missing_required: {required.name}"))
    enum = next((f for f in c.fields if f.enum), None)
    if enum:
        out.append((rec(**{enum.name: "definitely-not-allowed"}), f"enum_violation: {enum.name}"))
    bounded = next((f for f in c.fields if f.maximum is not None), None)
    if bounded:
        out.append((rec(**{bounded.name: int(bounded.maximum) * 10 + 1}), f"out_of_range: {bounded.name}"))
    text = next(f for f in c.fields if f.type == "string" and isinstance(ex.get(f.name), str) and ex[f.name]
                and not f.enum)
    utf8 = rec(**{text.name: "MARKER"}).replace(b"MARKER", b"caf\xe9 \xff")
    out.append((utf8, "invalid_utf8"))
    if csv_:
        out.append((rec(**{text.name: "MARKER"}).replace(b"MARKER", b"a\x00b"), "nul_byte"))
        out.append((b"only,three,fields", "malformed_csv"))
    else:
        out.append((rec(**{text.name: "a\x00b"}), "nul_byte"))  # json.dumps writes \u0000
        line = rec()
        out.append((line[: len(line) // 2], "malformed_json"))
        out.append((b"[1, 2, 3]", "not_an_object"))
    return out


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_bad_records_are_quarantined(conn: psycopg.Connection, tmp_path: Path, source: str):
    contract = CONTRACTS[source]
    bad = _bad_records(source)
    good = record_bytes(source, contract.example, contract.field_names)
    lines = [good] + [b for b, _ in bad] + [good]
    path = write_file(tmp_path, source, DAY, "part-0001", lines)
    result = load_file(conn, source, path, DAY, tmp_path)
    assert not result.careful, "validation let through a value PostgreSQL refused"
    assert result.rows_read == len(lines)
    assert result.rows_loaded == 2
    assert result.rows_quarantined == len(bad)
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    got = conn.execute(
        "select line_number, reason, raw_record, source, file_path, load_id from raw.quarantine order by line_number"
    ).fetchall()
    assert [g[0] for g in got] == list(range(2, 2 + len(bad)))
    for (raw, expected), (line_number, reason, raw_record, src, fp, lid) in zip(bad, got):
        assert reason.startswith(expected), (line_number, reason, expected)
        assert src == source and fp == result.file_path and lid == result.load_id
        assert raw_record  # kept, with invalid bytes / NUL written as escapes
        assert "\x00" not in raw_record
    loaded = [r[0] for r in conn.execute(f"select _line_number from raw.{source} order by 1")]
    assert loaded == [1, len(lines)]
    m = conn.execute("select rows_read, rows_loaded, rows_quarantined from ops.load_manifest").fetchone()
    assert m == (len(lines), 2, len(bad))


def test_injection_looking_strings_are_just_text(conn, tmp_path):
    source = "product_reviews"
    ex = dict(CONTRACTS[source].example)
    evil = "'); drop table raw.product_reviews; -- \\N \t tab \\. \"quoted\""
    ex["body"] = evil
    ex["title"] = "1; DELETE FROM ops.load_manifest"
    path = write_file(tmp_path, source, DAY, "evil", [ex])
    load_file(conn, source, path, DAY, tmp_path)
    assert conn.execute("select body, title from raw.product_reviews").fetchone() == (
        evil, "1; DELETE FROM ops.load_manifest")
    # an injection string in a typed field is a wrong type, nothing more
    ex["rating"] = "1; DELETE FROM ops.load_manifest"
    path = write_file(tmp_path, source, DAY, "evil2", [ex])
    r = load_file(conn, source, path, DAY, tmp_path)
    assert r.rows_quarantined == 1
    assert _count(conn, "select count(*) from ops.load_manifest") == 2


def test_csv_values_with_commas_quotes_and_newlines(conn, tmp_path):
    source = "survey_responses"
    ex = dict(CONTRACTS[source].example)
    rows = []
    for i, comment in enumerate(["plain", "with, comma", 'with "quotes"', "multi\nline, comment", "back\\slash\ttab"]):
        r = dict(ex, response_id=f"SR{i}", comment=comment)
        rows.append(r)
    path = write_file(tmp_path, source, DAY, "part", rows)
    result = load_file(conn, source, path, DAY, tmp_path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 5, 0)
    got = conn.execute("select response_id, comment, _line_number from raw.survey_responses order by 1").fetchall()
    assert [g[1] for g in got] == [r["comment"] for r in rows]
    assert [g[2] for g in got] == [1, 2, 3, 4, 5]  # record numbers, not physical lines


def test_json_numbers_and_booleans_as_strings(conn, tmp_path):
    source = "loyalty_events"
    ex = dict(CONTRACTS[source].example, points="-250")
    path = write_file(tmp_path, source, DAY, "p", [ex])
    assert load_file(conn, source, path, DAY, tmp_path).rows_loaded == 1
    assert conn.execute("select points from raw.loyalty_events").fetchone()[0] == -250


def test_blank_lines(conn, tmp_path):
    """A blank line between records is a (quarantined) record; trailing blank lines are not."""
    source = "loyalty_events"
    good = record_bytes(source, CONTRACTS[source].example)
    path = write_file(tmp_path, source, DAY, "b", [good, b"", b"  ", good, b"", b""])
    r = load_file(conn, source, path, DAY, tmp_path)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (4, 2, 2)
    reasons = conn.execute("select line_number, reason from raw.quarantine order by 1").fetchall()
    assert reasons == [(2, "blank_line"), (3, "blank_line")]


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_fast_paths_agree_with_the_converter(source):
    """The fast paths (typed Struct for JSONL, pass-through for CSV) accept the example and
    produce exactly the row the authoritative converter produces."""
    from ingestion import convert

    c = CONTRACTS[source]
    line = record_bytes(source, c.example, c.field_names)
    if c.file_format == "jsonl":
        msgspec = pytest.importorskip("msgspec")
        struct = convert.record_struct(c)
        fast = convert.compile_struct_converter(c, escape=False)(msgspec.json.decode(line, type=struct))
        slow = convert.compile_converter(c, "jsonl", escape=False)(convert.json_decode(line))
        # json fields pass through verbatim on the fast path (same jsonb, maybe other spacing)
        for f, a, b in zip(c.fields, fast.split("\t"), slow.split("\t")):
            assert (json.loads(a) == json.loads(b)) if f.type == "json" and a != "\\N" else a == b, f.name
    else:
        values = line.decode().split(",") if b'"' not in line else None
        if values is not None and len(values) == len(c.field_names):
            assert convert.compile_passthrough(c, c.field_names)(values)
            assert convert.compile_passthrough(c, c.field_names, binary=True)([v.encode() for v in values])


_ODD_VALUES = [
    "", " ", "\u3000", "\u00a0", "x", " x ", "0", "00", "05", "-1", "+1", "1.5", "1e3", "1_000", "٣", "²",
    "10", "11", "1899", "1900", "2026", "2027", "9999999999", "10000000000", "10000000001", "99999999999",
    "9223372036854775807", "9223372036854775808", "NaN", "inf", "true", "TRUE", "True", "tRuE", "yes", "Y", "0.0",
    "2026-11-01", "20261101", "2026-1101", "2026-02-28", "2026-02-29", "2024-02-29", "2026-02-30", "2026-04-31",
    "2026-13-01", "0000-01-01", "0001-01-01", "9999-12-31",
    "2026-11-01T10:00", "2026-11-01 10:00:00", "2026-11-01T10:00:00.123456", "2026-11-01T10:00:00.1234567",
    "2026-11-01T10:00:00Z", "2026-11-01T10:00:00z", "2026-11-01T10:00:00+09", "2026-11-01T10:00:00+0930",
    "2026-11-01T10:00:00+09:00", "2026-11-01T10:00:00-15:59", "2026-11-01T10:00:00+16:00",
    "2026-11-01T10:00:00+09:00:30", "2026-11-01T24:00:00", "2026-11-01T23:60:00", "2026-11-01T23:59:60",
    "2026-02-29T10:00:00+09:00", "2026-11-01T10:00:00 ", " 2026-11-01T10:00:00", "2026-11-01t10:00",
]


@pytest.mark.parametrize("source", [s for s in SOURCE_NAMES if CONTRACTS[s].file_format == "csv"])
def test_line_regex_accepts_only_what_passthrough_accepts(source):
    """The CSV line regex is a pure shortcut: every line it accepts, the authoritative converter
    and the per-value pass-through check accept too (so the row is the same); the example line
    is accepted."""
    from ingestion import convert

    c = CONTRACTS[source]
    header = list(c.field_names)
    match = convert.compile_line_match(c, header)
    ok = convert.compile_passthrough(c, header, binary=True)
    converter = convert.compile_converter(c, "csv", escape=False, header=header, null="")
    assert match is not None and ok is not None
    example = record_bytes(source, c.example, header)
    assert match(example)
    base = example.split(b",")
    accepted = 0
    for i in range(len(header)):
        for v in _ODD_VALUES:
            values = list(base)
            values[i] = v.encode()
            line = b",".join(values)
            if match(line):
                accepted += 1
                # pass-through knows an offset once the converter has checked it (a cache)
                converter(line.decode().split(","))
                assert ok(line.split(b",")), (header[i], v)
    assert accepted > len(header)  # it is not simply refusing everything
    assert not match(example + b",extra") and not match(b",".join(base[:-1]))
