"""The event-grain intermediate models (sessions, mapped records, touches) built night by
night incrementally equal a full refresh of the same warehouse, on a real PostgreSQL.

GIVEN a small generated dataset (300 customers, a week of history delivered on the first
night, then three more nights with late and re-sent records), loaded night by night
as the DAG does (ingest -> staging + identity edges -> identity resolver -> the
intermediate models, incrementally, with the default 6-hour lookback although the nights
run seconds apart: a model re-reads only loads it holds no row of),
WHEN the warehouse is copied (`create database ... template ...`) and the copy rebuilds
the models with --full-refresh,
THEN every model holds the same rows in both (ordered md5 checksums over every column
but _changed_at), although a later night merged customers and some sessions have events
in two nights' loads, and a night rewrote only part of each model.
"""
from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest

from ingestion.loader import ingest
from touchpoint.db import admin_database_url, owned_by, with_database
from touchpoint.dbt import run_dbt
from touchpoint.generator import generate
from touchpoint.identity.resolve import resolve

CUSTOMERS = 300
NIGHTS = 4
HISTORY_DAYS = 7
START = dt.date(2026, 11, 1)
SEED = 7

# model -> its grain (unique key)
MODELS = {
    "int_web_app_events_sessionized": "session_key",
    "int_crm_accounts_mapped_to_customers": "account_id",
    "int_email_events_mapped_to_customers": "email_event_id",
    "int_loyalty_events_mapped_to_customers": "loyalty_event_id",
    "int_orders_mapped_to_customers": "order_id",
    "int_product_reviews_mapped_to_customers": "review_id",
    "int_receipts_mapped_to_customers": "receipt_id",
    "int_sessions_mapped_to_customers": "session_key",
    "int_social_mentions_mapped_to_customers": "mention_id",
    "int_support_tickets_mapped_to_customers": "ticket_id",
    "int_survey_responses_mapped_to_customers": "response_id",
    "int_customer_touches_unioned": "touch_id",
}
MAPPED = [name for name in MODELS if name.endswith("_mapped_to_customers")]
# the models with rows at this size on every night (reviews, for one, are rare)
LARGE_MODELS = ["int_web_app_events_sessionized", "int_email_events_mapped_to_customers",
                "int_customer_touches_unioned"]


def query(url: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def checksums(url: str) -> dict[str, tuple[int, str]]:
    """model -> (rows, md5 over the rows ordered by the grain, _changed_at left out)."""
    result = {}
    for model, key in MODELS.items():
        result[model] = query(url, f"""
            select count(*), md5(coalesce(string_agg(
                md5((to_jsonb(model) - '_changed_at')::text), ',' order by model.{key}), ''))
            from intermediate.{model} as model
        """)[0]
    return result


def link_two_customers(url: str) -> None:
    """A new CRM account with the email of one customer and the phone of another, both
    with email events from earlier nights: tonight's resolver merges them, and the
    absorbed customer's old email events must be re-mapped without being reloaded."""
    rows = query(url, """
        with email_customers as (
            select map.customer_id, min(map.identifier_value) as email
            from identity.identifier_map as map
            inner join intermediate.int_email_events_mapped_to_customers as email_events
                on map.identifier_type = 'email' and map.identifier_value = email_events.email_normalized
            group by map.customer_id
        ),
        phones as (
            select customer_id, min(identifier_value) as phone
            from identity.identifier_map
            where identifier_type = 'phone'
            group by customer_id
        )
        select first.email, phones.phone
        from email_customers as first
        inner join email_customers as second on second.customer_id > first.customer_id
        inner join phones on phones.customer_id = second.customer_id
        order by first.customer_id, second.customer_id
        limit 1
    """)
    assert rows, "no two customers with email events and a phone to link"
    email, phone = rows[0]
    with psycopg.connect(url) as conn:
        conn.execute("""
            insert into raw.crm_customers (
                account_id, email, phone, name, signup_channel, signup_at, updated_at,
                _load_id, _file_path, _line_number, _logical_date, _record_hash)
            values ('A99999999', %s, %s, 'Test Link', 'web', now(), now(),
                    'test:link_two_customers', 'test', 1, current_date, md5('test:link_two_customers'))
        """, (email, phone))


@pytest.fixture(scope="module")
def warehouses(module_db_url: str, warehouse_url: str, tmp_path_factory):
    """(incremental url, full-refresh url, first resolver run id) after the nights."""
    work = tmp_path_factory.mktemp("intermediate_incremental")
    generate(CUSTOMERS, NIGHTS, START, SEED, work / "generated", 0.0, history_days=HISTORY_DAYS)
    dbt_paths = ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    first_run_id = None
    for night in range(NIGHTS):
        ingest(START + dt.timedelta(days=night), landing_dir=work / "generated" / "landing", url=module_db_url)
        if night == NIGHTS - 1:
            link_two_customers(module_db_url)
        # seeds too: the edges model reads the identifier blocklist seed
        run_dbt(["build", "--select", "staging", "+int_identifier_edges_collected", "--resource-type", "seed",
                 "--resource-type", "model", "--quiet", *dbt_paths], url=module_db_url)
        stats = resolve(module_db_url)
        first_run_id = first_run_id or stats["resolver_run_id"]
        run_dbt(["run", "--select", *MODELS, "--quiet", *dbt_paths], url=module_db_url)

    copy = f"tp_full_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_database_url(warehouse_url), autocommit=True) as conn:
        source = query(module_db_url, "select current_database()")[0][0]
        conn.execute(f'create database "{copy}" template "{source}"{owned_by(warehouse_url)}')
    copy_url = with_database(warehouse_url, copy)
    try:
        run_dbt(["run", "--select", *MODELS, "--full-refresh", "--quiet", *dbt_paths], url=copy_url)
        yield module_db_url, copy_url, first_run_id
    finally:
        with psycopg.connect(admin_database_url(warehouse_url), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{copy}" with (force)')


def test_the_nights_merged_customers_and_split_sessions(warehouses):
    url, _, first_run_id = warehouses
    later_merges = query(url, "select count(*) from identity.customer_id_merges where resolver_run_id > %s",
                         (first_run_id,))[0][0]
    assert later_merges > 0, "no customer was merged after the first night: the re-map path is not exercised"
    sessions_in_two_loads = query(url, """
        select count(*)
        from (
            select session_id
            from staging.stg_web_events__events
            where session_id is not null
            group by session_id
            having count(distinct _loaded_at) > 1
        ) as sessions
    """)[0][0]
    assert sessions_in_two_loads > 0, "no session has events in two loads"
    # the absorbed customer's email events: rewritten on the last night, loaded before it
    remapped_only = query(url, """
        select count(*)
        from intermediate.int_email_events_mapped_to_customers
        where _changed_at = (select max(_changed_at) from intermediate.int_email_events_mapped_to_customers)
            and _loaded_at < (select max(_loaded_at) from raw.crm_customers where _load_id <> 'test:link_two_customers')
    """)[0][0]
    assert remapped_only > 0, "no old record was re-mapped for an identity change alone"


def test_incremental_nights_equal_a_full_refresh(warehouses):
    url, copy_url, _ = warehouses
    incremental, full = checksums(url), checksums(copy_url)
    assert all(full[model][0] > 0 for model in LARGE_MODELS), full
    differing = {model: (incremental[model], full[model]) for model in MODELS if incremental[model] != full[model]}
    assert not differing


def test_no_record_keeps_an_absorbed_customer_id(warehouses):
    url, _, _ = warehouses
    for model in MAPPED:
        stale = query(url, f"""
            select count(*)
            from intermediate.{model} as model
            inner join identity.customer_id_merges as merges
                on model.customer_id = merges.old_customer_id
        """)[0][0]
        assert stale == 0, model


def test_the_last_night_rewrote_only_part_of_each_large_model(warehouses):
    url, _, _ = warehouses
    for model in LARGE_MODELS:
        rewritten, total = query(url, f"""
            select count(*) filter (where _changed_at = (select max(_changed_at) from intermediate.{model})),
                   count(*)
            from intermediate.{model}
        """)[0]
        assert 0 < rewritten < total / 2, (model, rewritten, total)
