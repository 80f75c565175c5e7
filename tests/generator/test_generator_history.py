"""--history-days H: the simulation starts H days before --start and everything it would
have delivered before --start arrives in the --start folder, one initial backfill."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import ingest
from ingestion.registry import SOURCE_NAMES
from touchpoint.generator import generate
from touchpoint.generator.people import canonical_email, canonical_handle, canonical_phone

START = dt.date(2026, 11, 2)   # a Monday: no e-mail campaign on the first delivery day itself
HISTORY = 28
CUSTOMERS = 1000
SEED = 11

# The event time of each source's records (for versioned records: when the entity was created).
EVENT_TIME = {
    "ecommerce_orders": "created_at", "email_events": "occurred_at", "product_reviews": "created_at",
    "social_mentions": "posted_at", "support_tickets": "created_at", "survey_responses": "responded_at",
    "loyalty_events": "occurred_at", "store_transactions": "transaction_local_time", "crm_customers": "updated_at",
    "ad_spend": "spend_date", "web_events": "event_date", "app_events": "event_date",
}


# When a record (a version) came to be: what decides its delivery.
VERSION_TIME = dict(EVENT_TIME, ecommerce_orders="updated_at", support_tickets="updated_at",
                    social_mentions="collected_at")


def _event_date(source: str, rec: dict, fields: dict = EVENT_TIME) -> dt.date:
    v = str(rec[fields[source]])
    return dt.date.fromisoformat(v[:10]) if "-" in v[:10] else dt.datetime.strptime(v, "%Y%m%d").date()


def _digest(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def _read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def history_run(tmp_path_factory):
    """1000 people, 28 days of history, 2 delivery days."""
    out = tmp_path_factory.mktemp("gen_history")
    return out, generate(CUSTOMERS, 2, START, SEED, out, history_days=HISTORY)


@pytest.fixture(scope="module")
def flat_run(tmp_path_factory):
    """The same without history: the first day starts from nothing."""
    out = tmp_path_factory.mktemp("gen_flat")
    return out, generate(CUSTOMERS, 2, START, SEED, out)


def _folder(records, out, source, day: dt.date):
    return [rec for rel, _, rec, _ in records(out, source) if rel.split("/")[1] == day.isoformat()]


def test_no_delivery_before_start(history_run):
    # GIVEN a run with 28 days of history and 2 delivery days
    out, stats = history_run
    # THEN every source has exactly the two delivery folders, none before --start
    days = [START.isoformat(), (START + dt.timedelta(days=1)).isoformat()]
    for source in SOURCE_NAMES:
        assert sorted(p.name for p in (out / "landing" / source).iterdir()) == days, source
    assert stats["days"] == 2 and stats["history_days"] == HISTORY and stats["start"] == START.isoformat()


def test_start_folder_carries_the_history(history_run, records):
    out, _ = history_run
    first_day = START - dt.timedelta(days=HISTORY)
    for source in ("ecommerce_orders", "email_events", "web_events", "app_events", "store_transactions",
                   "support_tickets", "loyalty_events", "product_reviews", "ad_spend"):
        dates = [_event_date(source, rec) for rec in _folder(records, out, source, START)]
        # THEN the --start folder holds records from before --start, but none before the history window
        assert any(d < START for d in dates), source
        assert min(dates) >= first_day, source
    # the e-mail backfill spans the whole window: campaigns go out three times a week
    campaigns = {rec["campaign_id"] for rec in _folder(records, out, "email_events", START)}
    assert len(campaigns) >= 3 * (HISTORY // 7)
    # the CRM export carries the old accounts (updated long ago) and those created in the window
    crm = _folder(records, out, "crm_customers", START)
    signups = [dt.date.fromisoformat(rec["signup_at"][:10]) for rec in crm]
    assert any(d < first_day for d in signups)
    assert sum(first_day <= d < START for d in signups) > 10


def _lines(out: Path, source: str, day: dt.date) -> list[bytes]:
    path = next((out / "landing" / source / day.isoformat()).iterdir())
    lines = path.read_bytes().split(b"\n")[:-1]
    return lines[1:] if path.suffix == ".csv" else lines


def test_later_folders_are_ordinary_deliveries(history_run, records):
    # After the backfill, an event from before --start arrives only as a late arrival (1-3 days
    # after its day) or as an exact re-send of a line of an earlier delivery, as on any other day.
    out, stats = history_run
    second = START + dt.timedelta(days=1)
    resent = 0
    for source in SOURCE_NAMES:
        if source in ("crm_customers", "ad_spend"):
            continue  # the CRM carries historical signups; ad platforms restate the previous days
        backfill = set(_lines(out, source, START))
        rows = _folder(records, out, source, second)
        lines = _lines(out, source, second)
        assert len(rows) == len(lines)
        cutoff = START - dt.timedelta(days=2)  # a late arrival is at most 3 days late
        old = [line for line, rec in zip(lines, rows) if _event_date(source, rec, VERSION_TIME) < cutoff]
        assert all(line in backfill for line in old), source
        resent += len(old)
    assert resent > 0
    assert sum(s["late"] for s in stats["sources"].values()) > 0


def test_first_delivery_is_much_fuller_than_without_history(history_run, flat_run, records):
    out_h, _ = history_run
    out_0, _ = flat_run
    n = {source: (len(_folder(records, out_0, source, START)), len(_folder(records, out_h, source, START)))
         for source in ("ecommerce_orders", "email_events", "product_reviews", "social_mentions",
                        "survey_responses", "store_transactions")}
    # WITHOUT history the first day is nearly empty; WITH 28 days it has weeks of activity
    assert n["ecommerce_orders"][1] >= 50 and n["ecommerce_orders"][1] >= 10 * max(1, n["ecommerce_orders"][0])
    assert n["email_events"][1] >= 1000 and n["email_events"][1] >= 10 * max(1, n["email_events"][0])
    assert n["product_reviews"][1] >= 3 and n["product_reviews"][1] > n["product_reviews"][0]
    assert n["survey_responses"][1] >= 10 and n["store_transactions"][1] >= 30
    customer_mentions = [r for r in _folder(records, out_h, "social_mentions", START) if not r["is_brand_post"]]
    assert len(customer_mentions) >= 3


def test_every_record_matches_contract(history_run, records, validate):
    out, stats = history_run
    for source in SOURCE_NAMES:
        rows = records(out, source)
        assert len(rows) == stats["sources"][source]["rows"]
        assert [(rel, n) for rel, n, rec, err in rows if err or validate(source, rec)] == [], source


def test_journey_stages_cover_the_history(history_run):
    out, _ = history_run
    rows = _read(out / "truth" / "journey_stages.csv")
    assert list(rows[0]) == ["person_id", "date", "stage"]
    dates = sorted({r["date"] for r in rows})
    expected = [(START + dt.timedelta(days=d)).isoformat() for d in range(-HISTORY, 2)]
    assert dates == expected


def test_feedback_labels_cover_backfilled_records(history_run, records):
    out, _ = history_run
    labels = _read(out / "truth" / "feedback_labels.csv")
    assert list(labels[0]) == ["source", "record_id", "sentiment", "category"]
    key = {"survey_responses": "response_id", "product_reviews": "review_id", "support_tickets": "ticket_id",
           "social_mentions": "mention_id"}
    backfilled = Counter()
    for source, field in key.items():
        recs = [rec for _, _, rec, _ in records(out, source)
                if source != "social_mentions" or not rec["is_brand_post"]]
        assert {r["record_id"] for r in labels if r["source"] == source} == {str(rec[field]) for rec in recs}
        backfilled[source] = sum(_event_date(source, rec) < START for rec in recs)
    assert all(backfilled[s] > 0 for s in key), backfilled


def test_identities_link_through_the_backfilled_crm(history_run, records):
    # Accounts created during the history window log in, order and review: the CRM rows that
    # tie them to their email, phone and loyalty card must have been delivered too.
    out, _ = history_run
    crm = [rec for _, _, rec, _ in records(out, "crm_customers")]
    accounts = {rec["account_id"] for rec in crm}
    members = {rec["loyalty_member_id"] for rec in crm if rec["loyalty_member_id"]}
    used = set()
    for source, field in (("web_events", "user_id"), ("app_events", "user_id"), ("ecommerce_orders", "customer_id"),
                          ("survey_responses", "account_id"), ("product_reviews", "account_id")):
        used |= {rec[field] for _, _, rec, _ in records(out, source) if rec[field]}
    assert used and used <= accounts
    enrolled = {rec["member_id"] for _, _, rec, _ in records(out, "loyalty_events")}
    assert enrolled and enrolled <= members
    # and every identifier in the landing files is in the truth, with its canonical form
    truth = {(r["identifier_type"], r["identifier_value"]) for r in _read(out / "truth" / "identifiers.csv")}
    seen = {("account_id", a) for a in used | accounts}
    seen |= {("email", canonical_email(rec["email"])) for _, _, rec, _ in records(out, "email_events")}
    seen |= {("phone", canonical_phone(rec["phone"])) for rec in crm if rec["phone"]}
    seen |= {("social_handle", canonical_handle(rec["platform"], rec["handle"]))
             for _, _, rec, _ in records(out, "social_mentions") if not rec["is_brand_post"]}
    assert seen - truth == set()


def test_history_is_deterministic(tmp_path):
    # GIVEN two runs with history and broken rows, one sequential and one with forked renderers
    generate(300, 2, START, 5, tmp_path / "a", bad_rate=0.02, workers=1, history_days=10)
    generate(300, 2, START, 5, tmp_path / "b", bad_rate=0.02, workers=2, history_days=10)
    # THEN they are byte-identical, and differ from a run without history
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a == b
    assert len(a) == 12 * 2 + 4
    generate(300, 2, START, 5, tmp_path / "c", bad_rate=0.02, history_days=0)
    assert _digest(tmp_path / "c") != a


def test_history_is_the_longer_simulation_redelivered(tmp_path):
    # GIVEN 3 delivery days with 6 days of history, and a run of all 9 days from 6 days earlier
    generate(200, 3, START, 9, tmp_path / "h", history_days=6)
    generate(200, 9, START - dt.timedelta(days=6), 9, tmp_path / "long")
    # THEN the simulation is the same: same truth, the same landing lines, only delivered differently
    for name in ("identifiers.csv", "journey_stages.csv", "feedback_labels.csv"):
        assert (tmp_path / "h" / "truth" / name).read_bytes() == (tmp_path / "long" / "truth" / name).read_bytes()
    for source in SOURCE_NAMES:
        def lines(out):
            return Counter(line for path in sorted((out / "landing" / source).glob("*/*"))
                           for line in path.read_bytes().split(b"\n")[(1 if path.suffix == ".csv" else 0):-1])
        assert lines(tmp_path / "h") == lines(tmp_path / "long"), source


def test_backfill_written_in_parts_has_the_same_bytes(tmp_path, monkeypatch):
    # A long backfill is written out as it grows; with a tiny threshold every delivery is
    # written in many parts, and the files (broken rows and their line numbers included) do not change.
    from touchpoint.generator import writer

    generate(300, 2, START, 4, tmp_path / "whole", bad_rate=0.03, workers=1, history_days=14)
    monkeypatch.setattr(writer, "SPILL_LINES", 7)
    generate(300, 2, START, 4, tmp_path / "parts", bad_rate=0.03, workers=1, history_days=14)
    assert _digest(tmp_path / "parts") == _digest(tmp_path / "whole")


def test_history_days_zero_is_the_default(tmp_path):
    generate(200, 2, START, 3, tmp_path / "a", bad_rate=0.02)
    generate(200, 2, START, 3, tmp_path / "b", bad_rate=0.02, history_days=0)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_cli_accepts_history_days(tmp_path, capsys):
    from touchpoint.generator.__main__ import main

    code = main(["--customers", "50", "--days", "1", "--start", "2026-11-02", "--seed", "3",
                 "--history-days", "3", "--out", str(tmp_path)])
    assert code == 0
    assert "history: 3 days (2026-10-30 .. 2026-11-01)" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "landing" / "web_events").iterdir()] == ["2026-11-02"]


@pytest.mark.parametrize("value", ["-1", "abc"])
def test_cli_rejects_bad_history_days(tmp_path, capsys, value):
    from touchpoint.cli import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["generate", "--history-days", value, "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--history-days" in err and ("0 or more" in err if value == "-1" else "whole number" in err)
    with pytest.raises(ValueError, match="history_days"):
        generate(10, 1, START, 1, tmp_path, history_days=-1)
    assert not (tmp_path / "landing").exists()


def test_backfill_loads_and_quarantines_exactly_the_bad_rows(fresh_db_url, tmp_path):
    # GIVEN a run with history and broken rows, loaded delivery by delivery
    generate(150, 2, START, 11, tmp_path, bad_rate=0.05, history_days=7)
    results = []
    for day in (START, START + dt.timedelta(days=1)):
        results += ingest(day, None, tmp_path / "landing", fresh_db_url)
    # THEN every file reconciles and the quarantine is exactly the truth's bad rows
    assert len(results) == 24 and all(r.rows_read == r.rows_loaded + r.rows_quarantined for r in results)
    truth = {(r["source"], r["file"], int(r["line_number"])) for r in _read(tmp_path / "truth" / "bad_rows.csv")}
    assert any(f.split("/")[1] == START.isoformat() for _, f, _ in truth)
    with psycopg.connect(fresh_db_url) as conn:
        got = set(conn.execute("select source, file_path, line_number from raw.quarantine"))
        old = conn.execute("select count(*) from raw.ecommerce_orders"
                           " where _logical_date = %s and created_at < %s::timestamptz",
                           (START, f"{START}T00:00:00+09:00")).fetchone()[0]
    assert got == truth
    assert old > 0, "backfilled orders keep their own (older) timestamps"
