"""Per-delivery profiles: what each loaded file held, by event day, for the publication gate.

Written in the loading transaction (so a profile exists exactly when its rows are in raw)
from the rows just copied, found through the BRIN index on raw._loaded_at: the cost
follows the file, not the history. One row per (load, event business date) with the row
count, the non-null count of the contract's watched identifier fields, the sum of its
money fields and the event-time range. The anomaly checks (touchpoint/anomaly.py) read
these instead of raw: a backfill's first delivery, split by event day, is the baseline
of the nights that follow it.
"""
from __future__ import annotations

from datetime import date, datetime

import psycopg
from psycopg import sql

from ingestion.contract import Contract

BUSINESS_TZ = "Asia/Seoul"

DELIVERY_PROFILES_DDL = """
create table if not exists ops.delivery_profiles (
    load_id text not null,
    source text not null,
    logical_date date not null,
    event_date date,
    row_count bigint not null,
    non_null_counts jsonb not null default '{}'::jsonb,
    amount_sums jsonb not null default '{}'::jsonb,
    min_event_at timestamptz,
    max_event_at timestamptz
)
"""

DELIVERY_PROFILES_INDEXES = (
    "create index if not exists delivery_profiles_load on ops.delivery_profiles (load_id)",
    "create index if not exists delivery_profiles_source_event on ops.delivery_profiles (source, event_date)",
    "create index if not exists delivery_profiles_source_delivery on ops.delivery_profiles (source, logical_date)",
)


def _event_expressions(contract: Contract) -> tuple[sql.Composable, sql.Composable]:
    """(business date, event timestamp) expressions of the contract's event time field."""
    if not contract.event_time_field:
        return sql.SQL("null::date"), sql.SQL("null::timestamptz")
    field = sql.Identifier(contract.event_time_field)
    if contract.get(contract.event_time_field).type == "date":
        # A calendar day of the business: its start in Seoul stands for the event time.
        at = sql.SQL("({}::timestamp at time zone {})").format(field, sql.Literal(BUSINESS_TZ))
        return field, at
    return sql.SQL("({} at time zone {})::date").format(field, sql.Literal(BUSINESS_TZ)), field


def profile_load(cur: psycopg.Cursor, contract: Contract, load_id: str, logical_date: date,
                 loaded_at: datetime) -> None:
    """Record the profile of one load (call inside the transaction that loaded it)."""
    event_date, event_at = _event_expressions(contract)
    non_null = sql.SQL(", ").join(
        sql.SQL("{}, count({})").format(sql.Literal(name), sql.Identifier(name)) for name in contract.profiled_fields)
    sums = sql.SQL(", ").join(
        sql.SQL("{}, sum({})").format(sql.Literal(name), sql.Identifier(name)) for name in contract.amount_fields)
    cur.execute(
        sql.SQL(
            "insert into ops.delivery_profiles (load_id, source, logical_date, event_date, row_count,"
            " non_null_counts, amount_sums, min_event_at, max_event_at)"
            " select %(load_id)s, %(source)s, %(logical_date)s, {event_date}, count(*),"
            " jsonb_build_object({non_null}), jsonb_build_object({sums}), min({event_at}), max({event_at})"
            " from {table} where _loaded_at = %(loaded_at)s and _load_id = %(load_id)s"
            " group by {event_date}"
        ).format(event_date=event_date, event_at=event_at, non_null=non_null, sums=sums,
                 table=sql.Identifier("raw", contract.source)),
        {"load_id": load_id, "source": contract.source, "logical_date": logical_date, "loaded_at": loaded_at},
    )


def forget_load(cur: psycopg.Cursor, load_id: str) -> None:
    """Drop the profile of a load whose rows were replaced."""
    cur.execute("delete from ops.delivery_profiles where load_id = %s", (load_id,))
