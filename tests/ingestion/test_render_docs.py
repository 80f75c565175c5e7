"""docs/sources.md is rendered from the contracts and must be kept up to date."""
from __future__ import annotations

from ingestion.registry import SOURCE_NAMES
from ingestion.render_docs import OUTPUT, render


def test_sources_md_is_up_to_date():
    assert OUTPUT.exists(), "run `python -m ingestion.render_docs`"
    assert OUTPUT.read_text(encoding="utf-8") == render(), "docs/sources.md is stale: run `python -m ingestion.render_docs`"


def test_every_source_and_lineage_column_is_documented():
    text = render()
    for name in SOURCE_NAMES:
        assert f"## {name}\n" in text
    assert "`_record_hash`" in text and "`_extra`" in text

