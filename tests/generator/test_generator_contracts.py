"""Every record written (without --bad-rate) satisfies its source contract."""
from __future__ import annotations

import pytest

from ingestion.registry import CONTRACTS, SOURCE_NAMES


@pytest.mark.parametrize("source", SOURCE_NAMES)
def test_every_record_matches_contract(small_run, records, validate, source):
    out, stats = small_run
    rows = records(out, source)
    assert len(rows) == stats["sources"][source]["rows"]
    problems = [(rel, n, err or validate(source, rec)) for rel, n, rec, err in rows
                if err or validate(source, rec)]
    assert problems == []


@pytest.mark.parametrize("source", [s for s in SOURCE_NAMES if CONTRACTS[s].file_format == "jsonl"])
def test_jsonl_keys_follow_contract_order(small_run, records, source):
    out, _ = small_run
    for _, _, rec, _ in records(out, source)[:200]:
        assert list(rec) == CONTRACTS[source].field_names


def test_money_is_realistic_krw(small_run, records):
    out, _ = small_run
    prices = [li["price"] for _, _, rec, _ in records(out, "ecommerce_orders") for li in rec["line_items"]]
    prices += [li["unit_price_krw"] for _, _, rec, _ in records(out, "store_transactions") for li in rec["line_items"]]
    assert prices
    assert all(9_900 <= p <= 390_000 and p % 100 == 0 for p in prices)
    for _, _, o, _ in records(out, "ecommerce_orders"):
        assert o["total_price"] == o["subtotal_price"] - o["total_discounts"] + o["shipping_price"]


def test_injection_text_is_kept_as_valid_text(week_run, validate, records):
    # GIVEN a run large enough to carry injection-looking strings in valid free-text fields
    from touchpoint.generator import vocab as V

    out, _ = week_run
    found = 0
    for source in ("crm_customers", "support_tickets", "survey_responses", "product_reviews", "social_mentions"):
        for _, _, rec, err in records(out, source):
            text = " ".join(str(v) for v in rec.values())
            if any(s in text for s in V.INJECTIONS):
                found += 1
                assert not err and validate(source, rec) == []
    assert found > 0
