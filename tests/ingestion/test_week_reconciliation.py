"""Issue 3's acceptance scenario, scaled down: a generated week with --bad-rate 0.01 loads
every source on every date, every file reconciles against an independent count of its
physical records, and a second pass changes nothing."""
from __future__ import annotations

import csv
import gzip
from datetime import date, timedelta
from pathlib import Path

import psycopg

from ingestion.loader import ingest
from ingestion.registry import CONTRACTS, SOURCE_NAMES
from touchpoint.generator import generate

START = date(2026, 11, 1)
DAYS = 7


def physical_records(path: Path) -> int:
    """Records as a reader of the format sees them: JSONL lines (trailing blank lines are
    not records), CSV data rows after the header."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if ".csv" in path.suffixes:
        text = data.decode("utf-8", errors="replace")
        rows = list(csv.reader(text.splitlines(keepends=True)))
        return max(len(rows) - 1, 0)
    lines = data.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return len(lines)


def test_generated_week_reconciles_and_reloads_as_a_noop(db_url, tmp_path):
    # GIVEN a generated week with 1% broken rows
    generate(customers=200, days=DAYS, start=START, seed=7, out=tmp_path, bad_rate=0.01)
    landing = tmp_path / "landing"
    dates = [START + timedelta(days=i) for i in range(DAYS)]

    # WHEN each date is ingested
    first = [r for day in dates for r in ingest(day, None, landing, db_url)]

    # THEN every source loaded a file on every date, and each file reconciles
    assert {(r.source, r.logical_date) for r in first} == {(s, d) for s in SOURCE_NAMES for d in dates}
    for result in first:
        assert result.status == "loaded"
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
        assert result.rows_read == physical_records(landing / result.file_path), result.file_path
    with open(tmp_path / "truth" / "bad_rows.csv", newline="") as fh:
        bad_rows = sum(1 for _ in csv.DictReader(fh))
    assert bad_rows > 0
    with psycopg.connect(db_url) as conn:
        for source in CONTRACTS:
            in_raw = conn.execute(f"select count(*) from raw.{source}").fetchone()[0]
            assert in_raw == sum(r.rows_loaded for r in first if r.source == source), source
        quarantined = conn.execute("select count(*) from raw.quarantine").fetchone()[0]
        assert quarantined == sum(r.rows_quarantined for r in first) == bad_rows
        before = conn.execute("select count(*), sum(rows_read) from ops.load_manifest").fetchone()

    # WHEN the week is ingested again THEN nothing changes
    second = [r for day in dates for r in ingest(day, None, landing, db_url)]
    assert {r.status for r in second} == {"skipped"}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select count(*), sum(rows_read) from ops.load_manifest").fetchone() == before
        assert conn.execute("select count(*) from raw.quarantine").fetchone()[0] == bad_rows
