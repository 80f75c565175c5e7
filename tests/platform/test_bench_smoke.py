"""The loader benchmark runs end to end on a few rows (a smoke test of the harness, not a
timing test: the figures are produced by `make bench` and recorded in docs/loading.md)."""
from __future__ import annotations

import re

from bench import bench_loader


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
