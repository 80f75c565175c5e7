"""--bad-rate adds broken rows, each one physical record, all listed in truth/bad_rows.csv."""
from __future__ import annotations

import csv

from ingestion.registry import SOURCE_NAMES


def _bad_rows(out):
    with open(out / "truth" / "bad_rows.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_no_bad_rows_by_default(small_run):
    out, stats = small_run
    assert _bad_rows(out) == []
    assert stats["bad_rows_total"] == 0


def test_bad_rows_reconcile(bad_run, records, validate):
    out, stats = bad_run
    listed = _bad_rows(out)
    assert len(listed) == stats["bad_rows_total"] > 0
    assert {r["fault"] for r in listed} >= {"malformed", "wrong_type", "missing_required", "invalid_utf8",
                                            "absurd_value", "injection_in_typed_field"}
    by_source = {s: sum(1 for r in listed if r["source"] == s) for s in SOURCE_NAMES}
    assert by_source == stats["bad_rows"]
    expected = {(r["file"], int(r["line_number"])) for r in listed}
    seen_bad = set()
    total = 0
    for source in SOURCE_NAMES:
        for rel, n, rec, err in records(out, source):
            total += 1
            broken = bool(err) or bool(validate(source, rec))
            if broken:
                seen_bad.add((rel, n))
            else:
                assert (rel, n) not in expected, f"{rel}:{n} listed as bad but valid"
    # every listed row is broken, and nothing else is
    assert seen_bad == expected
    # roughly the requested rate
    assert 0.02 < len(listed) / total < 0.09
