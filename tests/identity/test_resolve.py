"""touchpoint.identity.resolve against a real PostgreSQL (fresh database per test)."""
from __future__ import annotations

import argparse
import random
from datetime import timedelta

import psycopg
import pytest

from touchpoint.identity import add_arguments, resolve
from touchpoint.identity.state import (DEFAULT_MAX_COMPONENT, LOOKBACK_ENV, MAX_COMPONENT_ENV, lookback,
                                       max_component_size)

from identity_helpers import T0, identity_map, merges


def person(i: int) -> list[tuple[str, str]]:
    return [("account_id", f"A{i:08d}"), ("email", f"p{i}@example.com"), ("phone", f"+8210{i:08d}")]


def crm(edges, night, people):
    edges.add_many(night, [("crm_customers", person(i)) for i in people])


def test_first_run_assigns_sequential_ids_and_records_state(edges, fresh_db_url):
    crm(edges, 0, range(1, 4))
    edges.add(0, "web_events", ("cookie_id", "anon.1"))
    stats = resolve(fresh_db_url)
    ids = identity_map(fresh_db_url)
    assert stats["customers_created"] == 4 and stats["customers_touched"] == 0
    assert sorted(set(ids.values())) == ["C000000001", "C000000002", "C000000003", "C000000004"]
    for i in range(1, 4):
        assert len({ids[k] for k in person(i)}) == 1
    with psycopg.connect(fresh_db_url) as conn:
        wm = conn.execute("select edges_watermark from identity.resolver_state").fetchone()[0]
        assert wm is not None
        row = conn.execute("select sources, first_seen_at <= last_seen_at from identity.identifier_map "
                           "where identifier_type = 'email' and identifier_value = 'p1@example.com'").fetchone()
        assert row == (["crm_customers"], True)
        runs = conn.execute("select mode, stats->>'edges_read' from identity.resolver_runs").fetchall()
        assert runs == [("incremental", str(stats["edges_read"]))]
    # nothing new: nothing read, nothing changed
    again = resolve(fresh_db_url)
    assert again["edges_read"] == 0 and identity_map(fresh_db_url) == ids


def test_incremental_run_recomputes_only_touched_components(edges, fresh_db_url):
    crm(edges, 0, range(1, 101))             # 100 customers, 3 identifiers each
    resolve(fresh_db_url)
    before = identity_map(fresh_db_url)
    # night 1: person 5 gets a new cookie, person 7 a new app install, one new anonymous cookie
    edges.add(1, "web_events", ("cookie_id", "c5"), ("account_id", "A00000005"))
    edges.add(1, "app_events", ("app_instance_id", "app7"), ("account_id", "A00000007"))
    edges.add(1, "web_events", ("cookie_id", "anon.9"))
    stats = resolve(fresh_db_url)
    assert stats["edges_read"] == 3
    assert stats["customers_touched"] == 2                # customers of persons 5 and 7 only
    assert stats["identifiers_loaded"] == 3 + 3 + 3        # their 6 identifiers + 3 new ones
    assert stats["components_recomputed"] == 3             # persons 5, 7 and the new cookie
    assert stats["customers_created"] == 1 and stats["customers_merged"] == 0
    after = identity_map(fresh_db_url)
    assert after[("cookie_id", "c5")] == before[("account_id", "A00000005")]
    assert after[("app_instance_id", "app7")] == before[("account_id", "A00000007")]
    assert {k: v for k, v in after.items() if k in before} == before
    with psycopg.connect(fresh_db_url) as conn:
        sources = conn.execute("select sources from identity.identifier_map where identifier_value = 'A00000005'")
        assert sources.fetchone()[0] == ["crm_customers", "web_events"]


def test_merge_of_two_customers_keeps_the_older_id_and_writes_a_merge_row(edges, fresh_db_url):
    # night 0: a guest order (email + phone) of someone who is not in the CRM yet
    edges.add(0, "ecommerce_orders", ("email", "minji@example.com"), ("phone", "+821055551234"))
    resolve(fresh_db_url)
    # night 1: the CRM account with another email and the same person's app; not linked yet
    edges.add(1, "crm_customers", ("account_id", "A00000042"), ("email", "minji.work@example.com"))
    edges.add(1, "app_events", ("app_instance_id", "app42"), ("account_id", "A00000042"))
    resolve(fresh_db_url)
    ids = identity_map(fresh_db_url)
    older, younger = ids[("email", "minji@example.com")], ids[("account_id", "A00000042")]
    assert older < younger
    # night 2: a logged-in order with the first email links them
    edges.add(2, "ecommerce_orders", ("account_id", "A00000042"), ("email", "minji@example.com"))
    stats = resolve(fresh_db_url)
    assert stats["customers_merged"] == 1 and stats["customers_created"] == 0
    ids = identity_map(fresh_db_url)
    assert set(ids.values()) == {older}
    assert merges(fresh_db_url) == {
        younger: (older, "shared record: ecommerce_orders links account_id and email")}


def test_every_previous_customer_id_survives_or_has_a_merge_row(edges, fresh_db_url):
    rng = random.Random(7)
    identifiers = [("cookie_id", f"c{i}") for i in range(400)] + [("email", f"e{i}@x.kr") for i in range(200)]
    for night in range(4):
        records = []
        for _ in range(150):
            k = rng.choice((1, 1, 2, 2, 3))
            records.append((rng.choice(("web_events", "ecommerce_orders")), rng.sample(identifiers, k)))
        edges.add_many(night, records)
        before = identity_map(fresh_db_url)
        previous = set(before.values())
        merged_before = merges(fresh_db_url)
        stats = resolve(fresh_db_url, max_component_size=0)  # no guard: lots of merges
        current = identity_map(fresh_db_url)
        merged = merges(fresh_db_url)
        live = set(current.values())
        for customer_id in previous:
            assert customer_id in live or customer_id in merged, customer_id
        assert live.isdisjoint(merged)                    # an absorbed id is never in use
        anonymous = {c for c in previous if all(t == "cookie_id" for (t, _), cid in before.items() if cid == c)}
        for old, (new, reason) in merged.items():
            assert reason and old != new
            if old not in merged_before:  # tonight's: the older id survives unless it was anonymous
                assert new < old or (old in anonymous and new not in anonymous), (old, new)
        assert stats["customers_merged"] == len(previous - live)
    # full recomputation from every edge changes nothing
    snapshot = identity_map(fresh_db_url)
    full = resolve(fresh_db_url, full=True, max_component_size=0)
    assert full["mode"] == "full" and full["customers_merged"] == 0 and full["customers_created"] == 0
    assert identity_map(fresh_db_url) == snapshot


def test_seen_times_and_sources_follow_the_current_edges_as_a_full_run_does(edges, fresh_db_url):
    # GIVEN a record whose identifiers were resolved on night 0, then superseded on night 2
    # by a new version (the dbt model deletes the old version's edges and inserts the
    # new ones) with a later seen_at
    edges.add(0, "crm_customers", ("account_id", "A1"), ("phone", "+821011112222"))
    edges.add(0, "email_events", ("phone", "+821011112222"))
    resolve(fresh_db_url)
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute("delete from intermediate.int_identifier_edges_collected where record_id in ('R1', 'R2')")
    edges.add(2, "crm_customers", ("account_id", "A1"), ("phone", "+821011112222"))

    def seen():
        with psycopg.connect(fresh_db_url) as conn:
            return conn.execute("select identifier_type, first_seen_at, last_seen_at, sources "
                                "from identity.identifier_map order by 1").fetchall()

    # WHEN the incremental run reads the new version
    resolve(fresh_db_url)
    incremental = seen()
    # THEN the old version's seen times and the retracted source are gone, exactly as a
    # full run from the same edges computes them
    night2 = T0 + timedelta(days=2, hours=1)
    assert incremental == [("account_id", night2, night2, ["crm_customers"]),
                           ("phone", night2, night2, ["crm_customers"])]
    resolve(fresh_db_url, full=True)
    assert seen() == incremental


def test_over_merge_guard_keeps_people_sharing_a_store_card_apart(edges, fresh_db_url):
    card = ("loyalty_card", "9410555555555555")  # a shared card that is NOT on the block list
    crm(edges, 0, range(1, 31))
    edges.add_many(0, [("crm_customers", [("account_id", f"A{i:08d}"), ("loyalty_member_id", f"M{i:08d}")])
                       for i in range(1, 31)])
    edges.add_many(0, [("loyalty_events", [card, ("loyalty_member_id", f"M{i:08d}")]) for i in range(1, 31)])
    stats = resolve(fresh_db_url, max_component_size=50)
    ids = identity_map(fresh_db_url)
    assert len({ids[("account_id", f"A{i:08d}")] for i in range(1, 31)}) == 30   # nobody merged
    assert all(len({ids[k] for k in person(i)}) == 1 for i in range(1, 31))     # people still whole
    assert stats["rejected_edges"] == 30 and stats["new_shared_identifiers"] == 1
    with psycopg.connect(fresh_db_url) as conn:
        rows = conn.execute(
            """select distinct shared_identifier_type, shared_identifier_value, shared_identifier_degree,
                      max_component_size, source from identity.oversized_components""").fetchall()
        assert rows == [("loyalty_card", card[1], 30, 50, "loyalty_events")]
        sizes = conn.execute("select min(merged_size), max(merged_size) from identity.oversized_components")
        assert sizes.fetchone() == (5, 5)   # the card alone + a person (account, email, phone, member)
    # Night 1: two more people use the card. Under the cap on its own, but the card is
    # remembered as shared: still nobody is merged.
    crm(edges, 1, range(31, 33))
    edges.add_many(1, [("crm_customers", [("account_id", f"A{i:08d}"), ("loyalty_member_id", f"M{i:08d}")])
                       for i in range(31, 33)])
    edges.add_many(1, [("loyalty_events", [card, ("loyalty_member_id", f"M{i:08d}")]) for i in range(31, 33)])
    stats = resolve(fresh_db_url, max_component_size=50)
    ids = identity_map(fresh_db_url)
    assert len({ids[("account_id", f"A{i:08d}")] for i in range(1, 33)}) == 32
    assert stats["rejected_edges"] == 2 and merges(fresh_db_url) == {}
    with psycopg.connect(fresh_db_url) as conn:
        assert conn.execute("select count(*) from identity.oversized_components where reason like "
                            "'%quarantined%'").fetchone()[0] == 2


def test_a_placeholder_email_linking_many_people_does_not_merge_them(edges, fresh_db_url):
    # test@test.com is normally removed by the block list in the edges model; if such a
    # value slipped through (a new placeholder), the guard still stops it.
    placeholder = ("email", "nobody@placeholder.kr")
    edges.add_many(0, [("ecommerce_orders", [placeholder, ("phone", f"+8210{i:08d}"), ("account_id", f"A{i:08d}")])
                       for i in range(60)])
    stats = resolve(fresh_db_url)
    ids = identity_map(fresh_db_url)
    assert len({ids[("account_id", f"A{i:08d}")] for i in range(60)}) == 60
    assert stats["new_shared_identifiers"] == 1 and stats["rejected_edges"] == 120


def test_edges_that_commit_after_a_run_below_its_watermark_are_applied_next_run(edges, fresh_db_url, monkeypatch):
    """Edges carry the load's start time: a load that started before the previous run's
    newest row but committed after that run lands below the watermark."""
    monkeypatch.delenv(LOOKBACK_ENV, raising=False)
    crm(edges, 0, range(1, 4))                  # loaded at T0 + 1h: the watermark
    resolve(fresh_db_url)
    before = identity_map(fresh_db_url)
    late = -1 / 12                               # loaded at T0 - 1h, committed after the run
    edges.add(late, "web_events", ("cookie_id", "c1"), ("account_id", "A00000001"))
    edges.add(late, "ecommerce_orders", ("email", "p2@example.com"), ("phone", "+821000000003"))
    edges.add(late, "web_events", ("cookie_id", "anon.late"))
    edges.add(-2, "web_events", ("cookie_id", "too.late"))   # beyond the 24 h lookback
    stats = resolve(fresh_db_url)
    assert stats["late_edges_read"] == 3 and stats["edges_read"] == 3
    after = identity_map(fresh_db_url)
    assert after[("cookie_id", "c1")] == before[("account_id", "A00000001")]
    assert ("cookie_id", "anon.late") in after
    # persons 2 and 3 turned out to be one: the older id survives, the younger has a merge row
    assert after[("email", "p2@example.com")] == after[("phone", "+821000000003")] == before[("account_id", "A00000002")]
    assert merges(fresh_db_url)[before[("account_id", "A00000003")]][0] == before[("account_id", "A00000002")]
    # applied once: the load is remembered, and the next run finds nothing missing
    with psycopg.connect(fresh_db_url) as conn:
        seen = [r[0] for r in conn.execute("select loaded_at from identity.resolver_loads order by 1")]
    assert T0 - timedelta(hours=1) in seen and T0 + timedelta(hours=1) in seen
    again = resolve(fresh_db_url)
    assert again["edges_read"] == 0 and identity_map(fresh_db_url) == after
    # beyond the lookback only a full run picks it up
    assert ("cookie_id", "too.late") not in after
    resolve(fresh_db_url, full=True)
    assert ("cookie_id", "too.late") in identity_map(fresh_db_url)


def test_lookback_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(LOOKBACK_ENV, raising=False)
    assert lookback() == timedelta(hours=24)
    monkeypatch.setenv(LOOKBACK_ENV, "1.5")
    assert lookback() == timedelta(hours=1.5)
    monkeypatch.setenv(LOOKBACK_ENV, "0")
    assert not lookback()
    for bad in ("-1", "a day"):
        monkeypatch.setenv(LOOKBACK_ENV, bad)
        with pytest.raises(ValueError, match=LOOKBACK_ENV):
            lookback()


def test_max_component_size_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(MAX_COMPONENT_ENV, raising=False)
    assert max_component_size() == DEFAULT_MAX_COMPONENT
    monkeypatch.setenv(MAX_COMPONENT_ENV, "12")
    assert max_component_size() == 12
    assert max_component_size(7) == 7
    monkeypatch.setenv(MAX_COMPONENT_ENV, "0")
    assert max_component_size() is None
    monkeypatch.setenv(MAX_COMPONENT_ENV, "lots")
    with pytest.raises(ValueError, match=MAX_COMPONENT_ENV):
        max_component_size()


def test_missing_edges_model_is_a_clear_error(fresh_db_url):
    with pytest.raises(RuntimeError, match="int_identifier_edges_collected"):
        resolve(fresh_db_url)


def test_cli_arguments():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["resolve", "--full", "--max-component-size", "20"])
    assert args.action == "resolve" and args.full and args.max_component_size == 20
    args = parser.parse_args(["resolve"])
    assert not args.full and args.max_component_size is None


def test_a_known_customer_keeps_its_id_when_an_older_anonymous_cookie_links_to_it(edges, fresh_db_url):
    # night 0: an anonymous visitor (cookie only) gets an id first
    edges.add(0, "web_events", ("cookie_id", "c-anon"))
    resolve(fresh_db_url)
    # night 1: a CRM account (with its app) that BI and the CRM already use
    edges.add(1, "crm_customers", ("account_id", "A00000077"), ("email", "jiwoo@example.com"))
    edges.add(1, "app_events", ("app_instance_id", "app77"), ("account_id", "A00000077"))
    resolve(fresh_db_url)
    ids = identity_map(fresh_db_url)
    anonymous, known = ids[("cookie_id", "c-anon")], ids[("account_id", "A00000077")]
    assert anonymous < known  # the cookie's id is the older one
    # night 2: the visitor logs in: the cookie links to the account
    edges.add(2, "web_events", ("cookie_id", "c-anon"), ("account_id", "A00000077"))
    stats = resolve(fresh_db_url)
    assert stats["customers_merged"] == 1
    ids = identity_map(fresh_db_url)
    assert set(ids.values()) == {known}  # before: every identifier moved to the cookie's id
    assert merges(fresh_db_url) == {anonymous: (known, "shared record: web_events links account_id and cookie_id")}


def test_among_known_customers_the_oldest_id_still_wins_over_an_anonymous_one(edges, fresh_db_url):
    edges.add(0, "web_events", ("cookie_id", "c1"))
    edges.add(1, "ecommerce_orders", ("email", "guest@example.com"), ("phone", "+821011112222"))
    edges.add(2, "crm_customers", ("account_id", "A00000088"), ("email", "other@example.com"))
    for night in range(3):
        resolve(fresh_db_url)
    ids = identity_map(fresh_db_url)
    cookie, guest, account = ids[("cookie_id", "c1")], ids[("email", "guest@example.com")], ids[("account_id", "A00000088")]
    assert cookie < guest < account
    # one record links all three: the oldest known id (the guest's) survives, not the cookie's
    edges.add(3, "ecommerce_orders", ("cookie_id", "c1"), ("email", "guest@example.com"), ("account_id", "A00000088"))
    resolve(fresh_db_url)
    assert set(identity_map(fresh_db_url).values()) == {guest}
    assert {old: new for old, (new, _) in merges(fresh_db_url).items()} == {cookie: guest, account: guest}


def _shared_tablet_story(edges) -> None:
    edges.add(0, "crm_customers", ("account_id", "A00000101"), ("email", "mother@example.com"))
    edges.add(0, "crm_customers", ("account_id", "A00000102"), ("email", "son@example.com"))
    # Monday: the family tablet's browser logs in as the mother, Tuesday as the son
    edges.add(1, "web_events", ("cookie_id", "tablet"), ("account_id", "A00000101"))
    edges.add(2, "web_events", ("cookie_id", "tablet"), ("account_id", "A00000102"))
    # Wednesday: the son checks out on it with his email
    edges.add(3, "web_events", ("cookie_id", "tablet"), ("account_id", "A00000102"), ("email", "son@example.com"))


def test_a_cookie_shared_by_two_accounts_does_not_merge_them(edges, fresh_db_url, monkeypatch):
    monkeypatch.delenv("TOUCHPOINT_IDENTITY_MAX_ACCOUNTS_PER_DEVICE", raising=False)
    _shared_tablet_story(edges)
    stats = [resolve(fresh_db_url) for _ in range(1)]  # nights 0-3 in one run: the same answer as night by night
    ids = identity_map(fresh_db_url)
    mother, son = ids[("account_id", "A00000101")], ids[("account_id", "A00000102")]
    assert mother != son  # before: one customer
    assert ids[("cookie_id", "tablet")] == mother  # attached to the account it was first seen with
    assert ids[("email", "son@example.com")] == son
    assert merges(fresh_db_url) == {}
    assert stats[0]["shared_devices"] == 1 and stats[0]["shared_device_records_held"] == 2
    with psycopg.connect(fresh_db_url) as conn:
        row = conn.execute("select attached_account_id, account_ids, account_count from identity.shared_identifiers "
                           "where identifier_type = 'cookie_id' and identifier_value = 'tablet'").fetchone()
    assert row == ("A00000101", ["A00000101", "A00000102"], 2)


def test_the_shared_cookie_story_night_by_night_and_in_full_agree(edges, fresh_db_url):
    edges.add(0, "crm_customers", ("account_id", "A00000101"), ("email", "mother@example.com"))
    edges.add(0, "crm_customers", ("account_id", "A00000102"), ("email", "son@example.com"))
    resolve(fresh_db_url)
    edges.add(1, "web_events", ("cookie_id", "tablet"), ("account_id", "A00000101"))
    resolve(fresh_db_url)
    edges.add(2, "web_events", ("cookie_id", "tablet"), ("account_id", "A00000102"))
    assert resolve(fresh_db_url)["shared_device_records_held"] == 1
    edges.add(3, "web_events", ("cookie_id", "tablet"), ("account_id", "A00000102"), ("email", "son@example.com"))
    resolve(fresh_db_url)
    nightly = identity_map(fresh_db_url)
    assert nightly[("account_id", "A00000101")] != nightly[("account_id", "A00000102")]
    assert nightly[("cookie_id", "tablet")] == nightly[("account_id", "A00000101")]
    full = resolve(fresh_db_url, full=True)
    assert full["customers_merged"] == 0 and identity_map(fresh_db_url) == nightly


def test_the_accounts_per_device_limit_is_a_setting(edges, fresh_db_url, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_IDENTITY_MAX_ACCOUNTS_PER_DEVICE", "2")
    _shared_tablet_story(edges)
    resolve(fresh_db_url)
    ids = identity_map(fresh_db_url)
    assert ids[("account_id", "A00000101")] == ids[("account_id", "A00000102")]  # two accounts allowed
    monkeypatch.setenv("TOUCHPOINT_IDENTITY_MAX_ACCOUNTS_PER_DEVICE", "0")
    with pytest.raises(ValueError, match="must be 1 or more"):
        resolve(fresh_db_url)
