"""Staging layer on a real PostgreSQL: a handful of raw rows per source (contract examples
plus re-sends, new versions and identifier variants), `dbt build --select staging` with the
seeds, then dedup / latest-version / normalisation results read back from the views.

dbt writes to a private --target-path/--log-path so the test never clashes with another
dbt run in the same project directory.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest
import xxhash
from psycopg.types.json import Jsonb

from ingestion.registry import CONTRACTS
from touchpoint.config import settings
from touchpoint.dbt import dbt_env, dbt_executable, run_dbt

LOAD_1 = {"_load_id": "load-1", "_logical_date": "2026-11-02", "_loaded_at": "2026-11-02T02:00:00+00:00"}
LOAD_2 = {"_load_id": "load-2", "_logical_date": "2026-11-03", "_loaded_at": "2026-11-03T02:00:00+00:00"}


def _db_value(field, value, naive_timezone: str):
    if value is None or (value == "" and field.type != "string"):
        return None
    if field.type == "timestamp_micros":
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=int(value))
    if field.type == "timestamp":
        parsed = dt.datetime.fromisoformat(str(value))
        if parsed.tzinfo is None:  # the loader reads naive values in the source's timezone
            parsed = parsed.replace(tzinfo=dt.timezone(dt.timedelta(hours=9)))
            assert naive_timezone == "Asia/Seoul"
        return parsed
    if field.type == "json":
        return Jsonb(value)
    if field.type in ("integer", "numeric", "boolean", "date"):
        return str(value)
    return value


def insert_raw(conn: psycopg.Connection, source: str, records: list[dict], load: dict) -> None:
    """Rows as the loader writes them: typed contract fields plus lineage columns."""
    contract = CONTRACTS[source]
    lineage = ["_load_id", "_file_path", "_line_number", "_logical_date", "_record_hash", "_extra", "_loaded_at"]
    columns = contract.field_names + lineage
    sql = (f"insert into raw.{source} ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
           f"values ({', '.join(['%s'] * len(columns))})")
    for line_number, record in enumerate(records, start=1):
        values = [_db_value(contract.get(f), record.get(f), contract.naive_timezone) for f in contract.field_names]
        record_hash = xxhash.xxh3_128_hexdigest(json.dumps(record, sort_keys=True, ensure_ascii=False).encode())
        values += [load["_load_id"], f"{source}/{load['_logical_date']}/part.{contract.file_format}", line_number,
                   load["_logical_date"], record_hash, None, load["_loaded_at"]]
        conn.execute(sql, values)


def example(source: str, **changes) -> dict:
    record = copy.deepcopy(CONTRACTS[source].example)
    record.update(changes)
    return record


def raw_rows() -> dict[str, list[tuple[dict, list[dict]]]]:
    """source -> [(load, records)]. Every source gets its contract example, re-sent as is in load 2."""
    rows: dict[str, list[tuple[dict, list[dict]]]] = {
        source: [(LOAD_1, [example(source)]), (LOAD_2, [example(source)])] for source in CONTRACTS
    }
    # crm: a newer version of A00001234 arrives in load 1 (before the re-send of the old one),
    # plus accounts exercising the identifier normalisation.
    rows["crm_customers"][0][1].append(example(
        "crm_customers", phone="+82-(0)10-2222-3333", consent_email="false",
        updated_at="2026-11-02T08:00:00+09:00", email="MINJI.KIM@EXAMPLE.COM"))
    rows["crm_customers"][1][1].extend([
        example("crm_customers", account_id=" a00000002", email="noemail@naver.com", phone="02-123-4567",
                social_handle="Instagram:@Jisoo_P", loyalty_member_id=" m00000002"),
        example("crm_customers", account_id="A00000003", email="not an email", phone="call me",
                social_handle=None, loyalty_member_id=None, consent_sms=None),
    ])
    # orders: version 2 of the example order (partially refunded), loaded in load 1; plus a
    # cancelled guest order in load 2.
    rows["ecommerce_orders"][0][1].append(example(
        "ecommerce_orders", updated_at="2026-11-03T10:00:00+09:00", financial_status="partially_refunded",
        refunds=[{"id": "RF1", "created_at": "2026-11-03T10:00:00+09:00", "amount": 50000, "note": "size"}]))
    rows["ecommerce_orders"][1][1].append(example(
        "ecommerce_orders", order_id="O000012346", order_number=12346, customer_id=None, email=" Guest@Example.kr",
        phone="82-10-9876-5432", created_at="2026-11-02T00:30:00+09:00", updated_at="2026-11-02T09:00:00+09:00",
        financial_status="voided", cancelled_at="2026-11-02T09:00:00+09:00", cancel_reason="customer",
        line_items=[{"id": "LI1", "sku": "p0001", "title": "Tee", "quantity": 2, "price": 19000},
                    {"id": "LI2", "sku": "P0002", "title": "Cap", "quantity": 1, "price": 25000}],
        discount_codes=[], landing_site="/?utm_source=Google&utm_medium=cpc"))
    # tickets: the example (solved) is version 2; version 1 (new) comes in load 2 after it.
    rows["support_tickets"][1][1].append(example(
        "support_tickets", status="new", updated_at="2026-11-01T10:12:00+09:00", first_reply_at=None,
        solved_at=None, satisfaction_rating="unoffered", requester_phone="010 5555 6666"))
    # social: a later collection of the example mention with more likes.
    rows["social_mentions"][1][1].append(example(
        "social_mentions", collected_at="2026-11-03T01:00:00+09:00", likes=99, handle="@Minji_K"))
    # ad spend: load 2 restates 2026-11-01 and adds 2026-11-02.
    rows["ad_spend"][1] = (LOAD_2, [example("ad_spend", spend_krw="1300000"),
                                    example("ad_spend", spend_date="2026-11-02", spend_krw="900000")])
    # web: a second event in the same session, after login, past Seoul midnight.
    rows["web_events"][1][1].append(example(
        "web_events", event_name="login", user_id="a00001234", event_timestamp=1793548800000000,  # 2026-11-01 16:00 UTC
        event_params=[{"key": "ga_session_id", "value": {"int_value": 1793491200}}]))
    # store: a loyalty card typed with separators.
    rows["store_transactions"][1][1].append(example(
        "store_transactions", receipt_id="R-S012-20261101-0043", loyalty_card_number="9410-0000-0000-0001",
        transaction_local_time="2026-11-01 23:50:00"))
    return rows


def dbt_show_json(url: str, target_path: Path, sql: str) -> list[dict]:
    """Rows of `dbt show --inline` (for macros the identity layer calls)."""
    cfg = settings()
    proc = subprocess.run(
        [dbt_executable(), "show", "--inline", sql, "--limit", "100", "--output", "json", "--log-format", "json",
         "--target-path", str(target_path), "--log-path", str(target_path / "logs"),
         "--project-dir", str(cfg.dbt_project_dir), "--profiles-dir", str(cfg.dbt_project_dir)],
        env={**os.environ, **dbt_env(url)}, cwd=cfg.dbt_project_dir,
        capture_output=True, text=True, check=True,
    )
    for line in proc.stdout.splitlines():
        event = json.loads(line)
        preview = event.get("data", {}).get("preview")
        if preview is not None:
            return json.loads(preview)
    raise AssertionError(f"no preview in dbt show output:\n{proc.stdout[-2000:]}")


@pytest.fixture(scope="module")
def staged(module_db_url: str, tmp_path_factory) -> tuple[str, Path]:
    target = tmp_path_factory.mktemp("dbt_target")
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        for source, loads in raw_rows().items():
            for load, records in loads:
                insert_raw(conn, source, records, load)
    common = ["--target-path", str(target), "--log-path", str(target / "logs")]
    run_dbt(["seed", *common], url=module_db_url)
    run_dbt(["build", "--select", "staging", *common], url=module_db_url)
    return module_db_url, target


def fetch(url: str, sql: str, *params) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(sql, params)
        return [dict(zip([c.name for c in cur.description], row)) for row in cur.fetchall()]


def test_every_source_has_a_deduplicated_staging_model(staged):
    url, _ = staged
    counts = {row["name"]: row["n"] for row in fetch(url, """
        select 'accounts' as name, count(*) as n from staging.stg_crm_customers__accounts
        union all select 'orders', count(*) from staging.stg_ecommerce_orders__orders
        union all select 'order_lines', count(*) from staging.stg_ecommerce_orders__order_lines
        union all select 'web', count(*) from staging.stg_web_events__events
        union all select 'app', count(*) from staging.stg_app_events__events
        union all select 'email', count(*) from staging.stg_email_events__events
        union all select 'mentions', count(*) from staging.stg_social_mentions__mentions
        union all select 'receipts', count(*) from staging.stg_store_transactions__receipts
        union all select 'receipt_lines', count(*) from staging.stg_store_transactions__receipt_lines
        union all select 'tickets', count(*) from staging.stg_support_tickets__tickets
        union all select 'surveys', count(*) from staging.stg_survey_responses__responses
        union all select 'reviews', count(*) from staging.stg_product_reviews__reviews
        union all select 'loyalty', count(*) from staging.stg_loyalty_events__events
        union all select 'ad_spend', count(*) from staging.stg_ad_spend__daily_campaigns
    """)}
    assert counts == {"accounts": 3, "orders": 2, "order_lines": 3, "web": 2, "app": 1, "email": 1, "mentions": 1,
                      "receipts": 2, "receipt_lines": 2, "tickets": 1, "surveys": 1, "reviews": 1, "loyalty": 1,
                      "ad_spend": 2}


def test_crm_latest_version_and_identifier_normalisation(staged):
    url, _ = staged
    accounts = {row["account_id"]: row for row in fetch(url, "select * from staging.stg_crm_customers__accounts")}
    latest = accounts["A00001234"]
    # version of 2026-11-02 wins over the re-sent older version loaded later
    assert latest["updated_at"] == dt.datetime(2026, 11, 1, 23, 0, tzinfo=dt.timezone.utc)
    assert latest["phone_e164"] == "+821022223333"
    assert latest["email_normalized"] == "minji.kim@example.com"
    assert latest["has_email_consent"] is False and latest["_load_id"] == "load-1"
    assert latest["signup_date"] == dt.date(2026, 10, 3)
    second = accounts["A00000002"]
    assert second["phone_e164"] == "+8221234567"
    assert second["email_normalized"] == "noemail@naver.com"  # block-listed, but kept in staging
    assert second["social_handle_normalized"] == "instagram:@jisoo_p"
    assert second["loyalty_member_id"] == "M00000002"
    garbage = accounts["A00000003"]
    assert garbage["email_normalized"] is None and garbage["phone_e164"] is None
    assert garbage["has_sms_consent"] is False and garbage["is_loyalty_member"] is False


def test_orders_latest_version_money_and_utm(staged):
    url, _ = staged
    orders = {row["order_id"]: row for row in fetch(url, "select * from staging.stg_ecommerce_orders__orders")}
    order = orders["O000012345"]
    assert order["financial_status"] == "partially_refunded" and order["_load_id"] == "load-1"
    assert order["total_price_krw"] == 170100 and order["refunded_krw"] == 50000
    assert order["net_revenue_krw"] == 120100 and order["is_cancelled"] is False
    assert order["account_id"] == "A00001234" and order["email_normalized"] == "minji.kim@example.com"
    assert order["phone_e164"] == "+821012345678"
    assert (order["utm_source"], order["utm_medium"], order["utm_campaign"]) == ("kakao", "message", "winter_sale")
    assert order["order_date"] == dt.date(2026, 11, 1) and order["discount_codes"] == "WINTER10"
    guest = orders["O000012346"]
    assert guest["account_id"] is None and guest["is_guest_checkout"] is True
    assert guest["email_normalized"] == "guest@example.kr" and guest["phone_e164"] == "+821098765432"
    assert guest["is_cancelled"] is True and guest["net_revenue_krw"] == 0
    assert guest["order_date"] == dt.date(2026, 11, 2)  # 00:30 Seoul = 15:30 UTC the day before
    assert (guest["utm_source"], guest["utm_medium"], guest["utm_campaign"]) == ("google", "cpc", None)
    assert guest["item_quantity"] == 3 and guest["line_item_count"] == 2
    lines = fetch(url, "select * from staging.stg_ecommerce_orders__order_lines "
                       "where order_id = 'O000012346' order by line_number")
    assert [(line["product_id"], line["quantity"], line["line_price_krw"]) for line in lines] == [
        ("P0001", 2, 38000), ("P0002", 1, 25000)]


def test_tickets_mentions_and_ad_spend_keep_the_latest(staged):
    url, _ = staged
    (ticket,) = fetch(url, "select * from staging.stg_support_tickets__tickets")
    assert ticket["status"] == "solved" and ticket["is_solved"] is True and ticket["_load_id"] == "load-2"
    assert ticket["tags"] == ["delivery", "delay"] and ticket["first_reply_minutes"] == 3
    assert ticket["email_normalized"] == "minji.kim@example.com" and ticket["phone_e164"] is None
    (mention,) = fetch(url, "select * from staging.stg_social_mentions__mentions")
    assert mention["like_count"] == 99 and mention["social_handle_normalized"] == "instagram:@minji_k"
    spend = {row["spend_date"]: row["spend_krw"] for row in fetch(url, "select * from staging.stg_ad_spend__daily_campaigns")}
    assert spend == {dt.date(2026, 11, 1): 1300000, dt.date(2026, 11, 2): 900000}


def test_events_sessions_cards_and_business_dates(staged):
    url, _ = staged
    web = {row["event_name"]: row for row in fetch(url, "select * from staging.stg_web_events__events")}
    assert web["page_view"]["session_id"] == "1839201.1761990000.1793491200"
    assert web["page_view"]["utm_source"] == "naver" and web["page_view"]["device_category"] == "mobile"
    assert web["page_view"]["event_at"] == dt.datetime(2026, 11, 1, 0, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert web["login"]["account_id"] == "A00001234" and web["login"]["session_id"] == web["page_view"]["session_id"]
    assert web["login"]["event_date"] == dt.date(2026, 11, 2)  # 16:00 UTC is 01:00 the next day in Seoul
    (app,) = fetch(url, "select * from staging.stg_app_events__events")
    assert app["screen_name"] == "home" and app["session_id"] == "f1c2e3d4a5b6c7d8e9f0a1b2c3d4e5f6.1793491200"
    receipts = {row["receipt_id"]: row for row in fetch(url, "select * from staging.stg_store_transactions__receipts")}
    late = receipts["R-S012-20261101-0043"]
    assert late["loyalty_card_number"] == "9410000000000001"
    assert late["transacted_at"] == dt.datetime(2026, 11, 1, 14, 50, tzinfo=dt.timezone.utc)
    assert late["transaction_date"] == dt.date(2026, 11, 1)


def test_blocklist_macro_flags_placeholders(staged):
    url, target = staged
    rows = dbt_show_json(url, target, """
        select
            account_id,
            {{ is_blocked_identifier('email', 'email_normalized') }} as is_email_blocked,
            {{ is_blocked_identifier('phone', 'phone_e164') }} as is_phone_blocked
        from {{ ref('stg_crm_customers__accounts') }}
        union all
        select
            receipt_id,
            null,
            {{ is_blocked_identifier('loyalty_card', 'loyalty_card_number') }}
        from {{ ref('stg_store_transactions__receipts') }}
        order by 1
    """)
    flags = {row["account_id"]: (row["is_email_blocked"], row["is_phone_blocked"]) for row in rows}
    assert flags["A00000002"][0] is True     # noemail@... (email_local_part rule)
    assert flags["A00001234"] == (False, False)
    assert flags["R-S012-20261101-0043"][1] is True   # the shared store card
    assert flags["R-S012-20261101-0042"][1] is False
