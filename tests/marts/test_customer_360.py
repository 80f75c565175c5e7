"""marts.customer_360 end to end on a real PostgreSQL: a small generated dataset is
loaded into raw, identity is resolved by the real resolver, `dbt build --select
+customer_360` builds and tests staging, intermediate and the mart, then the mart is
checked against staging (grain, reconciliation, coverage, no raw PII) and against its
Great Expectations suite.

One fresh database per module (the set-up is the expensive part); dbt writes to a
private --target-path/--log-path so the test never clashes with another dbt run.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import psycopg
import pytest

from ingestion.loader import ingest
from touchpoint import audit
from touchpoint.config import settings
from touchpoint.dbt import run_dbt
from touchpoint.generator import generate
from touchpoint.identity.resolve import resolve
from touchpoint.pseudonyms import pseudonym, warehouse_pads

CUSTOMERS = 1000
DAYS = 30
START = dt.date(2026, 11, 1)
SEED = 7

PLACEHOLDER_COLUMNS = {"journey_stage", "rfm_segment", "predicted_clv_krw"}

# A column that depends on a kind of activity must be filled when the customer had it.
FILLED_WHEN = {
    "first_order_date": "order_count > 0",
    "last_order_date": "order_count > 0",
    "email_open_rate": "email_delivered_count > 0",
    "email_click_rate": "email_delivered_count > 0",
    "csat_rate": "csat_response_count > 0",
    "average_review_rating": "review_count > 0",
    "nps_group": "latest_nps_score is not null",
    "last_seen_at": "channel_count > 0",
    "acquisition_channel": "channel_count > 0",
    "channels_used": "channel_count > 0",
    "preferred_channel": "channel_count > 0",
    "consent_updated_at": "has_email_consent or has_sms_consent or has_push_consent",
    "loyalty_points_balance": "loyalty_tier is not null",
}


@pytest.fixture(scope="module")
def mart(module_db_url: str, tmp_path_factory) -> tuple[str, str]:
    """(database url, candidate schema) with customer_360 built from generated data."""
    work = tmp_path_factory.mktemp("customer_360")
    generate(CUSTOMERS, DAYS, START, SEED, work / "generated", 0.0)
    for offset in range(DAYS):
        ingest(START + dt.timedelta(days=offset), landing_dir=work / "generated" / "landing", url=module_db_url)
    dbt_paths = ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    # identity resolution reads the edges model; it runs between the two dbt groups, as
    # in the nightly DAG. All staging views first: `+customer_360` picks up staging
    # relationship tests whose other side (e.g. order lines) is not upstream of the mart.
    run_dbt(["build", "--select", "staging", "+int_identifier_edges_collected", "--resource-type", "seed",
             "--resource-type", "model", "--quiet", *dbt_paths], url=module_db_url)
    resolve(module_db_url)
    run_dbt(["build", "--select", "+customer_360", "--quiet", *dbt_paths], url=module_db_url)
    return module_db_url, settings().candidate_schema


def query(url: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def mart_columns(url: str, schema: str) -> list[str]:
    rows = query(url, "select column_name from information_schema.columns "
                      "where table_schema = %s and table_name = 'customer_360' order by ordinal_position", (schema,))
    return [name for (name,) in rows]


def test_one_row_per_resolved_customer(mart):
    url, schema = mart
    rows, customers, resolved = query(url, f"""
        select
            count(*),
            count(distinct customer_id),
            (select count(distinct customer_id) from identity.identifier_map)
        from {schema}.customer_360
    """)[0]
    assert rows == customers == resolved > 0


def test_columns_filled_for_customers_with_activity(mart):
    url, schema = mart
    columns = mart_columns(url, schema)
    assert PLACEHOLDER_COLUMNS <= set(columns)
    # every real column is filled for some customer; placeholders for nobody
    counts = query(url, "select " + ", ".join(f'count("{c}")' for c in columns) + f" from {schema}.customer_360")[0]
    filled = dict(zip(columns, counts))
    assert [c for c in columns if c not in PLACEHOLDER_COLUMNS and filled[c] == 0] == []
    assert {c: filled[c] for c in PLACEHOLDER_COLUMNS} == {c: 0 for c in PLACEHOLDER_COLUMNS}
    # activity-dependent columns are filled whenever the activity exists
    for column, condition in FILLED_WHEN.items():
        (missing,) = query(url, f'select count(*) from {schema}.customer_360 where ({condition}) and "{column}" is null')[0]
        assert missing == 0, f"{column} is null for {missing} customers with {condition}"
    # the most active customer has every golden-record and activity column filled
    (most_active,) = query(url, f"""
        select customer_id from {schema}.customer_360
        where is_identified and order_count > 0 and email_delivered_count > 0
        order by channel_count desc, order_count desc, customer_id
        limit 1
    """)[0]
    row = dict(zip(columns, query(url, f"select * from {schema}.customer_360 where customer_id = %s",
                                      (most_active,))[0]))
    always = ["is_identified", "identifier_count", "email_hmac", "first_seen_at", "last_seen_at",
              "acquisition_channel", "channel_count", "channels_used", "preferred_channel",
              "order_count", "net_revenue_krw", "average_order_value_krw", "first_order_date", "last_order_date",
              "email_sent_count", "email_open_rate", "email_click_rate", "_changed_at"]
    assert {c: row[c] for c in always if row[c] is None} == {}


def test_revenue_and_orders_reconcile_with_staging(mart):
    url, schema = mart
    # independent of the mapping models: a record belongs to some customer when any of
    # its identifiers is in the identity map
    mart_totals, staging_totals = query(url, f"""
        with mapped_orders as (
            select orders.*
            from staging.stg_ecommerce_orders__orders as orders
            where exists (
                select 1 from identity.identifier_map as map
                where (map.identifier_type, map.identifier_value) in (
                    ('account_id', orders.account_id), ('email', orders.email_normalized),
                    ('phone', orders.phone_e164))
            )
        ),
        mapped_receipts as (
            select receipts.*
            from staging.stg_store_transactions__receipts as receipts
            inner join identity.identifier_map as map
                on map.identifier_type = 'loyalty_card'
                and map.identifier_value = receipts.loyalty_card_number
        )
        select
            sum(online_net_revenue_krw), sum(offline_net_revenue_krw), sum(net_revenue_krw),
            sum(online_order_count), sum(offline_order_count)
        from {schema}.customer_360
        union all
        select
            (select sum(net_revenue_krw) from mapped_orders),
            (select sum(total_krw) from mapped_receipts),
            (select sum(net_revenue_krw) from mapped_orders) + (select sum(total_krw) from mapped_receipts),
            (select count(*) from mapped_orders),
            (select count(*) from mapped_receipts where not is_return)
    """)
    assert mart_totals == staging_totals
    assert mart_totals[2] > 0 and mart_totals[4] > 0  # the dataset has online and store sales


def test_no_raw_pii_in_the_mart(mart):
    url, schema = mart
    text_columns = [name for (name,) in query(url, """
        select column_name from information_schema.columns
        where table_schema = %s and table_name = 'customer_360' and data_type in ('text', 'character varying')
    """, (schema,))]
    pii = """
        select email_normalized as value from staging.stg_crm_customers__accounts
        union select phone_e164 from staging.stg_crm_customers__accounts
        union select substr(phone_e164, 2) from staging.stg_crm_customers__accounts
        union select name from staging.stg_crm_customers__accounts
        union select email_normalized from staging.stg_ecommerce_orders__orders
        union select phone_e164 from staging.stg_ecommerce_orders__orders
        union select email_normalized from staging.stg_email_events__events
        union select email_normalized from staging.stg_support_tickets__tickets
        union select phone_e164 from staging.stg_support_tickets__tickets
    """
    for column in text_columns:
        (leaks,) = query(url, f"""
            select count(*) from {schema}.customer_360 as mart
            inner join ({pii}) as pii on mart."{column}" = pii.value
        """)[0]
        assert leaks == 0, f"raw PII in customer_360.{column}"
    # the pseudonym is the keyed HMAC of a real email of the customer (not its plain
    # SHA-256), and a masked phone keeps only its last two digits
    with psycopg.connect(url) as conn:
        key_pads = warehouse_pads(conn)
    emails = {pseudonym(value, key_pads): customer for value, customer in query(
        url, "select identifier_value, customer_id from identity.identifier_map where identifier_type = 'email'")}
    published = query(url, f"select email_hmac, customer_id from {schema}.customer_360 where email_hmac is not null")
    assert published and all(emails.get(value) == customer for value, customer in published)
    plain = {hashlib.sha256(value.encode()).hexdigest() for (value,) in query(
        url, "select identifier_value from identity.identifier_map where identifier_type = 'email'")}
    assert not plain & {value for value, _ in published}
    assert query(url, f"select count(*) from {schema}.customer_360 where phone_masked !~ '\\*\\*[0-9]{{2}}$'")[0][0] == 0
    assert query(url, f"select count(*) from {schema}.customer_360 where phone_masked !~ '\\*'")[0][0] == 0


def test_windows_default_to_the_latest_touch_date(mart):
    # no data_date var: the 30-day window ends at the latest touch date in the data
    url, schema = mart
    latest_touch = query(url, "select max(touch_date) from intermediate.int_customer_touches_unioned")[0][0]
    assert latest_touch == START + dt.timedelta(days=DAYS - 1)
    differing = query(url, f"""
        with expected as (
            select customer_id, count(*) as sessions
            from intermediate.int_sessions_mapped_to_customers
            where platform = 'web' and customer_id is not null
                and session_date > %(latest)s::date - 30 and session_date <= %(latest)s::date
            group by customer_id
        )
        select count(*)
        from {schema}.customer_360 as mart
        left join expected on expected.customer_id = mart.customer_id
        where mart.web_session_count_last_30_days <> coalesce(expected.sessions, 0)
    """, {"latest": latest_touch})[0][0]
    assert differing == 0


def test_great_expectations_suite_passes(mart):
    url, schema = mart
    suite = audit.load_suites()["customer_360"]
    results = audit.run_gx(url, schema, {"customer_360": suite}, {"customer_360"})
    assert len(results) == len(suite["expectations"])
    assert [r for r in results if not r["passed"]] == []


def _old_style_candidates(phone: str) -> list[str]:
    """Every KR mobile number a '+82 10-****-1234' mask allows: the attack of issue 10."""
    return [f"{phone[:5]}{hidden:04d}{phone[-4:]}" for hidden in range(10_000)]


def test_phone_numbers_cannot_be_rebuilt_from_the_published_marts(mart):
    # GIVEN what a reader of marts sees: phone masks and the identity map's pseudonyms
    url, schema = mart
    # customer_identity_map publishes, for each phone, the macro `pseudonym` of it (its
    # equality with this SQL is tests/identity/test_identity_dbt.py's): the same formula here
    published = {value for (value,) in query(url, """
        select encode(sha256(key.outer_pad || sha256(key.inner_pad || convert_to(map.identifier_value, 'UTF8'))), 'hex')
        from identity.identifier_map as map
        cross join identity.pseudonym_key as key
        where map.identifier_type = 'phone'
    """)}
    masks = [mask for (mask,) in query(url, f"select phone_masked from {schema}.customer_360 "
                                            "where phone_masked like '+82 10-%'")]
    phones = [value for (value,) in query(url, "select identifier_value from identity.identifier_map "
                                               "where identifier_type = 'phone' and identifier_value like '+8210%' "
                                               "and length(identifier_value) = 13 order by 1 limit 150")]
    assert published and masks and phones
    # WHEN the attacker tries every fill-in of four hidden digits (even granted the old
    # mask's last four, which the mart no longer shows) as a plain SHA-256
    recovered = [phone for phone in phones if any(
        hashlib.sha256(candidate.encode()).hexdigest() in published for candidate in _old_style_candidates(phone))]
    # THEN nothing matches: the published values are keyed (HMAC), not plain hashes
    assert recovered == []
    # AND the mask itself leaves six of the eight subscriber digits hidden (10^6 numbers)
    assert all(mask.count("*") >= 6 and mask[-2:].isdigit() and not mask[-3].isdigit() for mask in masks)
    # AND the pseudonyms are what the key gives, so the pipeline (which holds it) can join them
    with psycopg.connect(url) as conn:
        key_pads = warehouse_pads(conn)
    assert {pseudonym(phone, key_pads) for phone in phones} <= published
