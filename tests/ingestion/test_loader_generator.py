"""End to end with the generator: every deliberately broken row (truth/bad_rows.csv) is
quarantined at its line, nothing else is, and every file reconciles."""
from __future__ import annotations

import csv
from datetime import date

import psycopg
import pytest

from ingestion.loader import ingest

generator = pytest.importorskip("touchpoint.generator")


def test_generator_bad_rows_are_exactly_the_quarantine(db_url, tmp_path):
    start = date(2026, 11, 1)
    generator.generate(customers=150, days=2, start=start, seed=11, out=tmp_path, bad_rate=0.05)
    results = []
    for day in (start, date(2026, 11, 2)):
        results += ingest(day, None, tmp_path / "landing", db_url)
    assert results and all(r.rows_read == r.rows_loaded + r.rows_quarantined for r in results)
    with open(tmp_path / "truth" / "bad_rows.csv", newline="") as fh:
        truth = {(r["source"], r["file"], int(r["line_number"])): r["fault"] for r in csv.DictReader(fh)}
    assert truth, "the generator wrote no bad rows"
    with psycopg.connect(db_url) as conn:
        got = {(s, f, n): reason for s, f, n, reason in
               conn.execute("select source, file_path, line_number, reason from raw.quarantine")}
        manifest = conn.execute("select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from ops.load_manifest"
                                " where is_current").fetchone()
    assert set(got) == set(truth)
    expected = {"absurd_value": "out_of_range", "wrong_type": "wrong_type", "injection_in_typed_field": "wrong_type",
                "missing_required": "missing_required", "invalid_utf8": "invalid_utf8"}
    for key, fault in truth.items():
        if fault == "malformed":
            assert got[key].startswith(("malformed_json", "malformed_csv")), (key, got[key])
        else:
            assert got[key].startswith(expected[fault]), (key, fault, got[key])
    assert manifest == (sum(r.rows_read for r in results), sum(r.rows_loaded for r in results), len(truth))
