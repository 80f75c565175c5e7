"""Rates and faults look like real data: e-mail funnel, duplicates, late arrivals, daily files."""
from __future__ import annotations

import datetime as dt
from collections import Counter

from ingestion.registry import SOURCE_NAMES


def test_every_source_has_a_file_each_day(week_run):
    out, stats = week_run
    start = dt.date.fromisoformat(stats["start"])
    days = [(start + dt.timedelta(d)).isoformat() for d in range(stats["days"])]
    for source in SOURCE_NAMES:
        folders = sorted(p.name for p in (out / "landing" / source).iterdir())
        assert folders == days, source
        for day in days:
            assert len(list((out / "landing" / source / day).iterdir())) == 1


def test_email_funnel_rates(week_run, records):
    out, _ = week_run
    c = Counter(rec["event_type"] for _, _, rec, _ in records(out, "email_events"))
    delivered = c["delivered"]
    assert delivered > 1000
    assert 0.15 <= c["open"] / delivered <= 0.25
    assert 0.01 <= c["click"] / delivered <= 0.04
    assert 0.005 <= c["bounce"] / c["sent"] <= 0.03


def test_web_conversion(week_run, records):
    out, _ = week_run
    c = Counter(rec["event_name"] for _, _, rec, _ in records(out, "web_events"))
    assert 0.01 <= c["purchase"] / c["session_start"] <= 0.04
    assert c["login"] > 0 and c["sign_up"] > 0


def test_duplicates_exist(week_run):
    out, stats = week_run
    assert all(stats["sources"][s]["duplicates"] >= 0 for s in SOURCE_NAMES)
    for source in ("web_events", "email_events"):
        lines = Counter()
        for path in sorted((out / "landing" / source).glob("*/*")):
            lines.update(path.read_bytes().splitlines()[1 if path.suffix == ".csv" else 0:])
        dups = sum(n - 1 for n in lines.values() if n > 1)
        assert dups == stats["sources"][source]["duplicates"] > 0
        assert dups / sum(lines.values()) < 0.02


def test_late_arrivals_exist(week_run, records):
    out, _ = week_run
    late_web = [rel for rel, _, rec, _ in records(out, "web_events")
                if rec["event_date"] < rel.split("/")[1].replace("-", "")]
    late_email = [rel for rel, _, rec, _ in records(out, "email_events") if rec["occurred_at"][:10] < rel.split("/")[1]]
    assert late_web and late_email
    # no event is delivered before it happened, and nothing is more than 3 days late (except the CRM backfill)
    for rel, _, rec, _ in records(out, "web_events"):
        delivery = dt.date.fromisoformat(rel.split("/")[1])
        event = dt.datetime.strptime(rec["event_date"], "%Y%m%d").date()
        assert 0 <= (delivery - event).days <= 3


def test_versions_of_orders_and_tickets(week_run, records):
    out, _ = week_run
    orders = Counter(rec["order_id"] for _, _, rec, _ in records(out, "ecommerce_orders"))
    tickets = Counter(rec["ticket_id"] for _, _, rec, _ in records(out, "support_tickets"))
    assert max(orders.values()) >= 2 and max(tickets.values()) >= 3
    statuses = {rec["financial_status"] for _, _, rec, _ in records(out, "ecommerce_orders")}
    assert "paid" in statuses and len(statuses) >= 2   # refunds are ~10%: not guaranteed in a small week


def test_support_tickets_peak_in_business_hours(week_run, records):
    out, _ = week_run
    created = {rec["ticket_id"]: rec["created_at"] for _, _, rec, _ in records(out, "support_tickets")}
    business = sum(1 for t in created.values()
                   if 9 <= int(t[11:13]) < 18 and dt.date.fromisoformat(t[:10]).weekday() < 5)
    assert business / len(created) > 0.4
