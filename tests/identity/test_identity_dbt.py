"""The identity layer end to end on a real PostgreSQL: generated landing files ->
loader -> dbt staging + int_identifier_edges_collected -> resolver -> identity marts,
scored against the generator's truth; and the block list on crafted records."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import ingest
from ingestion.registry import CONTRACTS
from touchpoint.dbt import run_dbt
from touchpoint.generator import generate
from touchpoint.identity import resolve
from touchpoint.identity.accuracy import score_warehouse
from touchpoint.pseudonyms import pseudonym, warehouse_pads

START = dt.date(2026, 11, 1)
DAYS = 7
EDGES_SELECT = ["--select", "+int_identifier_edges_collected", "--indirect-selection", "cautious"]
MARTS_SELECT = ["--select", "customer_identity_map", "customer_id_merges"]


def dbt_build(select: list[str], url: str, tmp: Path) -> None:
    # own target/log paths: other dbt invocations may share the project directory
    run_dbt(["build", *select, "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
             "--no-partial-parse", "--quiet"], url=url)


def customer_ids(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("select distinct customer_id from identity.identifier_map")}


@pytest.fixture(scope="module")
def resolved(module_db_url, tmp_path_factory):
    """2000 people x 7 days (seed 7), loaded and resolved in two batches of nights."""
    tmp = tmp_path_factory.mktemp("identity_accuracy")
    generate(2000, DAYS, START, 7, tmp / "gen", 0.0)
    nights = []
    for batch in (range(0, 4), range(4, DAYS)):
        for d in batch:
            ingest(START + dt.timedelta(days=d), landing_dir=tmp / "gen" / "landing", url=module_db_url)
        dbt_build(EDGES_SELECT, module_db_url, tmp)
        stats = resolve(module_db_url)
        nights.append({"stats": stats, "customer_ids": customer_ids(module_db_url)})
    dbt_build(MARTS_SELECT, module_db_url, tmp)
    return {"url": module_db_url, "truth": tmp / "gen" / "truth" / "identifiers.csv", "nights": nights}


def test_identity_accuracy_against_generator_truth(resolved):
    figures = score_warehouse(resolved["url"], resolved["truth"])
    print("\nidentity accuracy (2000 people x 7 days, seed 7, resolved in 2 incremental runs):")
    print(json.dumps({k: v for k, v in figures.items() if not k.endswith("examples")}, indent=2))
    assert figures["precision"] >= 0.995, figures["false_merge_examples"]
    assert figures["recall"] >= 0.98
    assert figures["coverage"] >= 0.99, figures["unmapped_examples"]
    assert figures["mapped_public_identifiers_not_in_truth"] == 0, figures["not_in_truth_examples"]


def test_second_night_keeps_or_merges_every_customer_id(resolved):
    first, second = resolved["nights"]
    assert second["stats"]["mode"] == "incremental" and second["stats"]["watermark_from"] is not None
    assert second["stats"]["customers_touched"] < len(first["customer_ids"])  # only touched ones reloaded
    with psycopg.connect(resolved["url"]) as conn:
        merged = {r[0] for r in conn.execute("select old_customer_id from identity.customer_id_merges")}
    for customer_id in first["customer_ids"]:
        assert customer_id in second["customer_ids"] or customer_id in merged


def test_incremental_result_equals_a_full_resolution(resolved):
    """The two incremental runs partition identifiers exactly as one run over all edges."""
    from touchpoint.identity.graph import resolve_components

    with psycopg.connect(resolved["url"]) as conn:
        mapped = conn.execute("select identifier_type, identifier_value, customer_id "
                              "from identity.identifier_map").fetchall()
        edges = conn.execute("select identifier_a_type, identifier_a_value, identifier_b_type, identifier_b_value "
                             "from intermediate.int_identifier_edges_collected "
                             "where identifier_b_type is not null").fetchall()
    index = {(t, v): i for i, (t, v, _) in enumerate(mapped)}
    res = resolve_components(len(index), [0] * len(index), [index[(a, b)] for a, b, _, _ in edges],
                             [index[(c, d)] for _, _, c, d in edges], [0] * len(edges), max_size=50)
    full = {frozenset(nodes) for nodes in res.components.values()}
    by_customer: dict[str, set[int]] = {}
    for (t, v, c) in mapped:
        by_customer.setdefault(c, set()).add(index[(t, v)])
    assert {frozenset(s) for s in by_customer.values()} == full


def test_identity_marts_hash_identifiers_and_match_the_map(resolved):
    with psycopg.connect(resolved["url"]) as conn:
        schema = conn.execute("select table_schema from information_schema.tables "
                              "where table_name = 'customer_identity_map'").fetchone()[0]
        public = conn.execute("select identifier_type, identifier_value, customer_id from identity.identifier_map "
                              "where identifier_type <> 'loyalty_member_id'").fetchall()
        mart = conn.execute(f"select identifier_type, identifier_hmac, customer_id "
                            f"from {schema}.customer_identity_map").fetchall()
        mart_columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = 'customer_identity_map' order by ordinal_position", (schema,))]
        merges_rows = conn.execute(f"select count(*) from {schema}.customer_id_merges").fetchone()[0]
        merges_source = conn.execute("select count(*) from identity.customer_id_merges").fetchone()[0]
        key_pads = warehouse_pads(conn)
    # columns starting with '_' (the _changed_at lineage) are internal: publication leaves them out
    assert [c for c in mart_columns if not c.startswith("_")] == [
        "identifier_type", "identifier_hmac", "customer_id", "first_seen_at", "last_seen_at", "sources"]
    expected = {(t, pseudonym(v, key_pads), c) for t, v, c in public}
    assert set(mart) == expected and len(mart) == len(public)
    assert merges_rows == merges_source


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _write_csv(path: Path, source: str, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = CONTRACTS[source].field_names
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for row in rows:
            writer.writerow(["" if row.get(f) is None else row[f] for f in fields])


def test_block_listed_values_link_nobody_and_are_not_mapped(fresh_db_url, tmp_path):
    day = START.isoformat()
    landing = tmp_path / "landing"
    crm = CONTRACTS["crm_customers"].example
    accounts = [
        dict(crm, account_id="A00000001", email="test@test.com", phone="010-2000-0001", loyalty_member_id="M00000001",
             social_handle=None),
        dict(crm, account_id="A00000002", email=" TEST@test.com", phone="010-2000-0002", loyalty_member_id="M00000002",
             social_handle=None),
        dict(crm, account_id="A00000003", email="noemail@naver.com", phone="010-0000-0000", loyalty_member_id=None,
             social_handle=None),
        dict(crm, account_id="A00000000", email="x@example.com", phone=None, loyalty_member_id=None,
             social_handle=None),
    ]
    _write_csv(landing / "crm_customers" / day / "crm_customers_20261101.csv", "crm_customers", accounts)
    ledger = CONTRACTS["loyalty_events"].example
    _write_jsonl(landing / "loyalty_events" / day / "loyalty_events_20261101.jsonl", [
        dict(ledger, event_id="L1", member_id="M00000001", card_number="9410000000000001"),  # shared store card
        dict(ledger, event_id="L2", member_id="M00000002", card_number="9410-0000-0000-0001"),
        dict(ledger, event_id="L3", member_id="M00000001", card_number="9410-1234-1234-1234"),
    ])
    order = CONTRACTS["ecommerce_orders"].example
    _write_jsonl(landing / "ecommerce_orders" / day / "ecommerce_orders_20261101.jsonl", [
        dict(order, order_id="O1", customer_id=None, email="test@test.com", phone="010-2000-0003"),
    ])
    ingest(START, sources=["crm_customers", "loyalty_events", "ecommerce_orders"], landing_dir=landing,
           url=fresh_db_url)
    dbt_build(EDGES_SELECT, fresh_db_url, tmp_path)
    resolve(fresh_db_url)

    blocked = {("email", "test@test.com"), ("email", "noemail@naver.com"), ("phone", "+821000000000"),
               ("loyalty_card", "9410000000000001"), ("account_id", "A00000000")}
    with psycopg.connect(fresh_db_url) as conn:
        endpoints = set(conn.execute(
            """select identifier_a_type, identifier_a_value from intermediate.int_identifier_edges_collected
               union select identifier_b_type, identifier_b_value from intermediate.int_identifier_edges_collected
               where identifier_b_type is not null"""))
        ids = {(t, v): c for t, v, c in conn.execute(
            "select identifier_type, identifier_value, customer_id from identity.identifier_map")}
    assert endpoints.isdisjoint(blocked) and set(ids).isdisjoint(blocked)
    # the two accounts that share the placeholder email and the store card stay apart
    assert ids[("account_id", "A00000001")] != ids[("account_id", "A00000002")]
    assert ids[("loyalty_card", "9410123412341234")] == ids[("account_id", "A00000001")]
    # what is left of a record with blocked values still gets a customer of its own
    assert ids[("email", "x@example.com")] not in {ids[("account_id", f"A0000000{i}")] for i in (1, 2, 3)}
    assert ids[("phone", "+821020000003")] not in {ids[("account_id", f"A0000000{i}")] for i in (1, 2, 3)}


def test_identity_marts_pass_their_great_expectations_suites(resolved):
    from touchpoint.audit import load_suites, run_gx

    marts = {"customer_identity_map", "customer_id_merges"}
    suites = {table: spec for table, spec in load_suites().items() if table in marts}
    with psycopg.connect(resolved["url"]) as conn:
        schema = conn.execute("select table_schema from information_schema.tables "
                              "where table_name = 'customer_identity_map'").fetchone()[0]
    results = run_gx(resolved["url"], schema, suites, marts)
    assert set(suites) == marts and len(results) >= 10
    assert [r for r in results if not r["passed"]] == []
