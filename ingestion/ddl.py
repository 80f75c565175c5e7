"""DDL of the ingestion layer: raw tables (rendered from contracts), the load manifest and quarantine."""
from __future__ import annotations

import psycopg

from ingestion.registry import CONTRACTS

LOAD_MANIFEST_DDL = """
create table if not exists ops.load_manifest (
    load_id text primary key,
    source text not null,
    logical_date date not null,
    file_path text not null,
    checksum text not null,
    rows_read integer not null,
    rows_loaded integer not null,
    rows_quarantined integer not null,
    extra_fields jsonb,
    is_current boolean not null default true,
    loaded_at timestamptz not null default now()
)
"""

QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    source text not null,
    file_path text not null,
    line_number integer not null,
    raw_record text,
    reason text not null,
    load_id text not null,
    logical_date date not null,
    quarantined_at timestamptz not null default now()
)
"""


def ensure_ingestion_tables(conn: psycopg.Connection) -> None:
    conn.execute("create schema if not exists raw")
    conn.execute("create schema if not exists ops")
    conn.execute(LOAD_MANIFEST_DDL)
    conn.execute(QUARANTINE_DDL)
    for contract in CONTRACTS.values():
        conn.execute(contract.raw_table_ddl())
