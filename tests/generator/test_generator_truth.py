"""Ground truth: canonical identifiers covering every identifier in the landing files,
daily journey stages, feedback labels pointing at real records."""
from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict

from touchpoint.generator.people import canonical_email, canonical_handle, canonical_phone

ID_TYPES = {"email", "phone", "account_id", "loyalty_card", "cookie_id", "app_instance_id", "social_handle"}
STAGES = {"awareness", "consideration", "purchase", "retention", "advocacy", "at_risk", "churned"}


def _read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _identifiers_in_landing(out, records):
    """(type, canonical value) of every identifier that appears in a landing file."""
    found = set()

    def add(t, v, canon=lambda x: x):
        if v not in (None, ""):
            found.add((t, canon(v)))

    fields = {
        "crm_customers": [("account_id", "account_id"), ("email", "email"), ("phone", "phone")],
        "web_events": [("cookie_id", "user_pseudo_id"), ("account_id", "user_id")],
        "app_events": [("app_instance_id", "app_instance_id"), ("account_id", "user_id")],
        "email_events": [("email", "email")],
        "store_transactions": [("loyalty_card", "loyalty_card_number")],
        "ecommerce_orders": [("account_id", "customer_id"), ("email", "email"), ("phone", "phone")],
        "support_tickets": [("email", "requester_email"), ("phone", "requester_phone")],
        "survey_responses": [("account_id", "account_id"), ("email", "email")],
        "product_reviews": [("account_id", "account_id"), ("email", "reviewer_email")],
        "loyalty_events": [("loyalty_card", "card_number")],
    }
    canon = {"email": canonical_email, "phone": canonical_phone}
    for source, pairs in fields.items():
        for _, _, rec, _ in records(out, source):
            for t, f in pairs:
                add(t, rec[f], canon.get(t, lambda x: x))
            if source == "crm_customers" and rec["social_handle"]:
                found.add(("social_handle", rec["social_handle"].lower()))
    for _, _, rec, _ in records(out, "social_mentions"):
        if not rec["is_brand_post"]:
            found.add(("social_handle", canonical_handle(rec["platform"], rec["handle"])))
    return found


def test_identifiers_canonical_and_unique(week_run):
    out, _ = week_run
    rows = _read(out / "truth" / "identifiers.csv")
    assert rows and list(rows[0]) == ["identifier_type", "identifier_value", "person_id"]
    keys = Counter((r["identifier_type"], r["identifier_value"]) for r in rows)
    assert max(keys.values()) == 1, "each (type, value) belongs to exactly one person"
    for r in rows:
        t, v = r["identifier_type"], r["identifier_value"]
        assert t in ID_TYPES
        assert re.fullmatch(r"P\d{7}", r["person_id"])
        if t == "email":
            assert v == v.strip().lower() and "@" in v
        elif t == "phone":
            assert re.fullmatch(r"\+8210\d{8}", v)
        elif t == "account_id":
            assert re.fullmatch(r"A\d{8}", v)
        elif t == "loyalty_card":
            assert re.fullmatch(r"\d{16}", v)
        elif t == "social_handle":
            assert re.fullmatch(r"(instagram|facebook|x|youtube|naver_blog):@[a-z0-9_.]+", v)
    # fragmentation: some people own several cookies; some people are only cookies
    per_person = defaultdict(set)
    cookies = Counter()
    for r in rows:
        per_person[r["person_id"]].add(r["identifier_type"])
        if r["identifier_type"] == "cookie_id":
            cookies[r["person_id"]] += 1
    assert max(cookies.values()) >= 2
    assert any(types == {"cookie_id"} for types in per_person.values())


def test_every_landing_identifier_is_in_truth(week_run, records):
    out, _ = week_run
    truth = {(r["identifier_type"], r["identifier_value"]) for r in _read(out / "truth" / "identifiers.csv")}
    landing = _identifiers_in_landing(out, records)
    assert landing - truth == set()
    assert {t for t, _ in landing} == ID_TYPES
    # raw forms really are fragmented: mixed-case/padded emails and several phone formats
    raw_emails = [rec["email"] for _, _, rec, _ in records(out, "email_events")]
    assert any(e != e.strip().lower() for e in raw_emails)
    raw_phones = {rec["phone"][:3] for _, _, rec, _ in records(out, "crm_customers") if rec["phone"]}
    assert {"010", "+82"} <= raw_phones


def test_journey_stages(week_run):
    out, stats = week_run
    rows = _read(out / "truth" / "journey_stages.csv")
    assert rows and list(rows[0]) == ["person_id", "date", "stage"]
    assert {r["stage"] for r in rows} == STAGES
    dates = sorted({r["date"] for r in rows})
    assert dates[0] == stats["start"] and len(dates) == stats["days"]
    per_person = defaultdict(list)
    for r in rows:
        per_person[r["person_id"]].append(r["date"])
    for days in per_person.values():
        assert days == sorted(set(days)), "one row per person per day"
        assert days[-1] == dates[-1], "once aware, a person has a row every day"
        assert days == dates[dates.index(days[0]):]


def test_feedback_labels_point_at_records(week_run, records):
    out, _ = week_run
    labels = _read(out / "truth" / "feedback_labels.csv")
    assert labels and list(labels[0]) == ["source", "record_id", "sentiment", "category"]
    assert {r["sentiment"] for r in labels} == {"positive", "neutral", "negative"}
    assert {r["category"] for r in labels} <= {"delivery", "product_quality", "price", "service", "app_bug",
                                               "store_experience", "other"}
    key = {"survey_responses": "response_id", "product_reviews": "review_id", "support_tickets": "ticket_id",
           "social_mentions": "mention_id"}
    for source, field in key.items():
        ids = {str(rec[field]) for _, _, rec, _ in records(out, source)}
        if source == "social_mentions":
            ids = {str(rec[field]) for _, _, rec, _ in records(out, source) if not rec["is_brand_post"]}
        labelled = {r["record_id"] for r in labels if r["source"] == source}
        assert labelled == ids, source
    # review ratings follow the sentiment label
    sentiment = {r["record_id"]: r["sentiment"] for r in labels if r["source"] == "product_reviews"}
    for _, _, rec, _ in records(out, "product_reviews"):
        s = sentiment[rec["review_id"]]
        assert (rec["rating"] >= 4) if s == "positive" else (rec["rating"] == 3 if s == "neutral" else rec["rating"] <= 2)
