"""Identity tables in schema `identity` (restricted: PII, never published) and the
resolver's settings. Everything here is idempotent."""
from __future__ import annotations

import os
from datetime import timedelta

import psycopg
from psycopg import sql

EDGES_RELATION = "intermediate.int_identifier_edges_collected"

# Over-merge guard default, in identifiers per customer. A person in this data has at
# most ~12 identifiers (account, 1-2 emails, phone, 1-4 cookies, 0-2 app installs,
# loyalty card + member id, social handle); a year of cookie churn (Safari ITP, cleared
# browsers) can double the cookie count. 50 leaves room for that and for small
# households sharing a device or an email, while stopping a shared identifier (a store
# card, a placeholder address, a kiosk login) before it fuses dozens of people.
DEFAULT_MAX_COMPONENT = 50
MAX_COMPONENT_ENV = "TOUCHPOINT_IDENTITY_MAX_COMPONENT"

# Identifier types of the published identity map. `loyalty_member_id` is an internal
# node (it links a POS card seen in the loyalty ledger to the CRM account holding the
# member id) and is never published.
PUBLIC_IDENTIFIER_TYPES = ("email", "phone", "account_id", "loyalty_card", "cookie_id",
                           "app_instance_id", "social_handle")
INTERNAL_IDENTIFIER_TYPES = ("loyalty_member_id",)

# Identifiers of a device, not of a person: a customer made only of these is anonymous,
# and loses its id to a known customer it merges with (survivorship, docs/identity.md).
ANONYMOUS_IDENTIFIER_TYPES = ("cookie_id", "app_instance_id")
CUSTOMER_ID_PREFIX = "C"
CUSTOMER_ID_DIGITS = 9

# Shared-device guard: a device identifier linked to more CRM accounts than this merges
# none of the later ones (docs/identity.md, "Shared devices").
MAX_ACCOUNTS_PER_DEVICE_ENV = "TOUCHPOINT_IDENTITY_MAX_ACCOUNTS_PER_DEVICE"
DEFAULT_MAX_ACCOUNTS_PER_DEVICE = 1


def max_accounts_per_device() -> int:
    raw = os.environ.get(MAX_ACCOUNTS_PER_DEVICE_ENV, "").strip()
    try:
        value = int(raw) if raw else DEFAULT_MAX_ACCOUNTS_PER_DEVICE
    except ValueError:
        raise ValueError(f"{MAX_ACCOUNTS_PER_DEVICE_ENV}={raw!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{MAX_ACCOUNTS_PER_DEVICE_ENV}={raw!r} must be 1 or more")
    return value


def max_component_size(explicit: int | None = None) -> int | None:
    """The guard's cap: the argument, else the environment, else the default.
    0 or a negative value disables the guard."""
    if explicit is None:
        raw = os.environ.get(MAX_COMPONENT_ENV, "").strip()
        if raw:
            try:
                explicit = int(raw)
            except ValueError:
                raise ValueError(f"{MAX_COMPONENT_ENV}={raw!r} is not an integer") from None
        else:
            explicit = DEFAULT_MAX_COMPONENT
    return explicit if explicit > 0 else None


LOOKBACK_ENV = "TOUCHPOINT_IDENTITY_LOOKBACK_HOURS"
DEFAULT_LOOKBACK_HOURS = 24


def lookback() -> timedelta:
    """How far below the watermark an incremental run looks for edges that committed late
    (a load that started before the last run's newest row but committed after it)."""
    raw = os.environ.get(LOOKBACK_ENV, "").strip()
    try:
        hours = float(raw) if raw else DEFAULT_LOOKBACK_HOURS
    except ValueError:
        raise ValueError(f"{LOOKBACK_ENV}={raw!r} is not a number of hours") from None
    if hours < 0:
        raise ValueError(f"{LOOKBACK_ENV}={raw!r} must be 0 or more hours")
    return timedelta(hours=hours)


def format_customer_id(seq: int) -> str:
    return f"{CUSTOMER_ID_PREFIX}{seq:0{CUSTOMER_ID_DIGITS}d}"


def parse_customer_id(customer_id: str) -> int:
    return int(customer_id[len(CUSTOMER_ID_PREFIX):])


DDL = [
    "create schema if not exists identity",
    # C000000001, C000000002, ...: an id is never reused; the smallest is the oldest.
    "create sequence if not exists identity.customer_id_seq as bigint minvalue 1",
    """
    create table if not exists identity.identifier_map (
        identifier_type text not null,
        identifier_value text not null,
        customer_id text not null,
        first_seen_at timestamptz not null,
        last_seen_at timestamptz not null,
        sources text[] not null,
        primary key (identifier_type, identifier_value)
    )
    """,
    "create index if not exists identifier_map_customer_id_idx on identity.identifier_map (customer_id)",
    # When the row was inserted or last moved to another customer (not on a mere new
    # sighting): the mapped dbt models re-map the records of identifiers changed since
    # their last run. Added in place so existing warehouses upgrade; older rows count as
    # changed when first seen.
    "alter table identity.identifier_map add column if not exists updated_at timestamptz",
    "create index if not exists identifier_map_updated_at_idx on identity.identifier_map (updated_at)",
    "update identity.identifier_map set updated_at = first_seen_at where updated_at is null",
    """
    create table if not exists identity.customer_id_merges (
        old_customer_id text primary key,
        new_customer_id text not null,
        merged_at timestamptz not null,
        reason text not null,
        resolver_run_id bigint
    )
    """,
    """
    create table if not exists identity.resolver_state (
        state_key text primary key,
        edges_watermark timestamptz,
        updated_at timestamptz not null default now()
    )
    """,
    """
    create table if not exists identity.resolver_runs (
        resolver_run_id bigserial primary key,
        mode text not null check (mode in ('incremental', 'full')),
        started_at timestamptz not null,
        finished_at timestamptz,
        watermark_from timestamptz,
        watermark_to timestamptz,
        max_component_size integer,
        stats jsonb not null default '{}'::jsonb
    )
    """,
    """
    create table if not exists identity.oversized_components (
        resolver_run_id bigint not null,
        detected_at timestamptz not null,
        identifier_a_type text not null,
        identifier_a_value text not null,
        identifier_b_type text not null,
        identifier_b_value text not null,
        source text not null,
        shared_identifier_type text not null,
        shared_identifier_value text not null,
        shared_identifier_degree integer not null,
        component_a_size integer not null,
        component_b_size integer not null,
        merged_size integer not null,
        max_component_size integer,
        reason text not null
    )
    """,
    """
    create index if not exists oversized_components_shared_idx
        on identity.oversized_components (shared_identifier_type, shared_identifier_value)
    """,
    """
    create table if not exists identity.shared_identifiers (
        identifier_type text not null,
        identifier_value text not null,
        attached_account_id text not null,
        account_ids text[] not null,
        account_count integer not null,
        first_seen_at timestamptz not null,
        last_seen_at timestamptz not null,
        detected_at timestamptz not null,
        updated_at timestamptz not null,
        resolver_run_id bigint not null,
        primary key (identifier_type, identifier_value)
    )
    """,
    """
    create table if not exists identity.resolver_loads (
        loaded_at timestamptz primary key,
        resolver_run_id bigint not null
    )
    """,
]

COMMENTS = {
    "table identity.identifier_map": "RESTRICTED (PII). One row per identifier (type, normalised value) "
    "with the customer it belongs to. Written only by touchpoint.identity.resolve.",
    "table identity.customer_id_merges": "One row per customer id absorbed by another (known beats anonymous, "
    "then the oldest) when two customers turned out to be one person.",
    "table identity.resolver_state": "Watermark of the identity resolver over "
    "intermediate.int_identifier_edges_collected._loaded_at.",
    "table identity.resolver_runs": "One row per identity resolver run with its counts.",
    "table identity.resolver_loads": "The edges' _loaded_at values (one per load) the resolver has read within "
    "the lookback below its watermark: a value in that range not listed here is a load that committed late.",
    "table identity.oversized_components": "RESTRICTED (PII). Edges the over-merge guard did not apply, "
    "with the shared identifier blamed and the component sizes.",
    "table identity.shared_identifiers": "RESTRICTED (PII). Devices (cookie, app instance) linked to more CRM "
    "accounts than TOUCHPOINT_IDENTITY_MAX_ACCOUNTS_PER_DEVICE: the account each stays attached to, and all "
    "accounts seen; records linking the device to another account merge nobody through it.",
}


def ensure_identity_tables(conn: psycopg.Connection) -> None:
    """Create the identity tables if missing (safe to call concurrently)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('touchpoint.identity.ddl'))")
        for statement in DDL:
            conn.execute(statement)
        for target, text in COMMENTS.items():
            conn.execute(sql.SQL("comment on {} is {}").format(sql.SQL(target), sql.Literal(text)))


def read_watermark(conn: psycopg.Connection):
    row = conn.execute(
        "select edges_watermark from identity.resolver_state where state_key = 'edges'"
    ).fetchone()
    return row[0] if row else None


def write_watermark(conn: psycopg.Connection, watermark) -> None:
    conn.execute(
        """
        insert into identity.resolver_state (state_key, edges_watermark, updated_at)
        values ('edges', %s, now())
        on conflict (state_key) do update
            set edges_watermark = excluded.edges_watermark, updated_at = excluded.updated_at
        """,
        (watermark,),
    )


# Shape of the dbt model intermediate.int_identifier_edges_collected (the resolver's
# input), for the tests and the benchmark that fill it directly instead of via dbt.
EDGES_STANDIN_DDL = """
create schema if not exists intermediate;
create table if not exists intermediate.int_identifier_edges_collected (
    identifier_a_type text not null,
    identifier_a_value text not null,
    identifier_b_type text,
    identifier_b_value text,
    source text not null,
    record_id text not null,
    seen_at timestamptz not null,
    _load_id text,
    _loaded_at timestamptz not null
)
"""
