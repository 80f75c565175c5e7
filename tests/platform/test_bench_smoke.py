"""The benchmarks run end to end on small inputs (smoke tests of the harnesses, not timing
tests: the figures are produced by `make bench` and recorded in docs/loading.md and
docs/performance.md)."""
from __future__ import annotations

import json
import re

import os

import psycopg
import pytest

from bench import bench_loader, bench_nightly
from touchpoint.db import with_database


def test_loader_benchmark_runs_and_counts_every_row(warehouse_url, capsys, tmp_path):
    assert bench_loader.main(["--rows", "300", "--repeat", "1", "--sources", "ad_spend", "social_mentions",
                              "--out", str(tmp_path / "loader.json")]) == 0
    out = capsys.readouterr().out
    for source in ("ad_spend", "social_mentions"):
        line = next(ln for ln in out.splitlines() if ln.startswith(source))
        assert re.search(r"\b300 rows\b", line), line  # psql and the loader loaded the same 300 rows
        assert float(re.search(r"ratio (\d+\.\d+)", line)[1]) > 0
    assert "worst ratio" in out
    assert not (tmp_path / "loader.json").exists()  # a partial run never overwrites the recorded results


@pytest.mark.skipif(os.environ.get("TOUCHPOINT_SLOW_TESTS") != "1",
                    reason="two real DAG nights: set TOUCHPOINT_SLOW_TESTS=1 (make test-slow)")
def test_nightly_benchmark_runs_two_real_nights_and_writes_sane_json(warehouse_url, capsys, tmp_path):
    # GIVEN the quick scenario (300 customers, 7 days of history)
    # WHEN the harness runs the real DAG for the backfill night and the normal night
    out = tmp_path / "nightly.json"
    assert bench_nightly.main(["--quick", "--out", str(out), "--work-dir", str(tmp_path)]) == 0

    # THEN both nights succeeded and every figure the docs table uses was measured
    result = json.loads(out.read_text())
    assert result["meta"]["commit"]
    (scenario,) = result["scenarios"]
    assert (scenario["customers"], scenario["history_days"], scenario["ok"]) == (300, 7, True)
    night1, night2 = scenario["nights"]
    for night in (night1, night2):
        assert night["state"] == "success"
        assert 0 < night["dag_seconds"] <= night["command_seconds"]
        assert {"ingest", "transform_inputs", "identity", "transform", "audit", "publish"} <= set(night["stages"])
        assert all(stage["tasks"] > 0 and stage["not_success"] == 0 for stage in night["stages"].values())
        assert night["stages"]["ingest"]["tasks"] == 12
        assert night["publication"]["decision"] == "published"
        assert 0 < len(night["top_models"]) <= 10
        seconds = [model["seconds"] for model in night["top_models"]]
        assert seconds == sorted(seconds, reverse=True)
        assert night["memory"]["samples"] > 0 and night["memory"]["peak_tree_rss_mb"] > 0
        assert night["db_size_mb"] > 0
    # night 2 is a normal night: a few percent of the backfill's rows (1 day of 8 here)
    assert 0 < night2["rows_loaded"] < night1["rows_loaded"] / 4
    assert "| 300 | 7 |" in capsys.readouterr().out  # the markdown table for the docs

    # AND the scenario's database and data folder are gone (no --keep)
    with psycopg.connect(with_database(warehouse_url, "postgres")) as conn:
        assert conn.execute("select count(*) from pg_database where datname = %s",
                            (scenario["database"],)).fetchone()[0] == 0
    assert not list(tmp_path.glob("tp_bench_nightly_*"))
