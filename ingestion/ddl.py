"""DDL of the ingestion layer: raw tables (rendered from contracts), the load manifest and quarantine.

Everything here is idempotent (``create ... if not exists`` / ``add column if not exists``) so
that databases bootstrapped by an earlier version pick up new columns.  See docs/loading.md.
"""
from __future__ import annotations

import psycopg

from ingestion.profile import DELIVERY_PROFILES_DDL, DELIVERY_PROFILES_INDEXES
from ingestion.registry import CONTRACTS

# One row per load attempt of one landing file.  `is_current` marks the version of a file whose
# rows are in raw (at most one per (source, file_path), enforced by a partial unique index).
# status: 'loaded' (current or not yet replaced), 'superseded' (a changed file replaced it; its
# raw/quarantine rows were deleted in the replacing transaction), 'failed' (the file was rejected
# as a whole, e.g. a CSV header lacks a required column; nothing from it was loaded).
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

LOAD_MANIFEST_COLUMNS = (
    ("status", "text not null default 'loaded'"),
    ("error", "text"),
    ("replaces_load_id", "text"),
    ("superseded_by", "text"),
    ("file_bytes", "bigint"),
    ("duration_ms", "integer"),
    # Right to erasure: rows of the file the loader dropped because they carry an erased
    # person's identifier (read = loaded + quarantined + suppressed), and rows removed
    # from raw by `touchpoint erase` after loading (raw holds loaded - erased).
    ("rows_suppressed", "integer not null default 0"),
    ("rows_erased", "integer not null default 0"),
    # The text encoding as delivered: "utf-8", "utf-8 (BOM removed)", "utf-16-le (BOM; decoded
    # to UTF-8)" (ingestion/decoding.py); null for failed attempts.
    ("encoding", "text"),
)

LOAD_MANIFEST_INDEXES = (
    "create unique index if not exists load_manifest_current_file"
    " on ops.load_manifest (source, file_path) where is_current",
    "create index if not exists load_manifest_source_date on ops.load_manifest (source, logical_date)",
)

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

QUARANTINE_INDEXES = (
    "create index if not exists quarantine_load_id on raw.quarantine (load_id)",
)


def _missing_columns(conn: psycopg.Connection, schema: str, table: str, names: list[str]) -> list[str]:
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (schema, table)).fetchall()
    have = {r[0] for r in rows}
    return [n for n in names if n not in have]


def ensure_ingestion_tables(conn: psycopg.Connection) -> None:
    """Create what is missing.  Statements that would take a strong lock on an existing table
    (ALTER TABLE, CREATE INDEX) run only when the catalog says they are needed, so parallel
    ingest tasks bootstrapping while others load never wait on each other."""
    conn.execute("create schema if not exists raw")
    conn.execute("create schema if not exists ops")
    conn.execute(LOAD_MANIFEST_DDL)
    wanted = dict(LOAD_MANIFEST_COLUMNS)
    for name in _missing_columns(conn, "ops", "load_manifest", list(wanted)):
        conn.execute(f"alter table ops.load_manifest add column if not exists {name} {wanted[name]}")
    conn.execute(QUARANTINE_DDL)
    conn.execute(DELIVERY_PROFILES_DDL)
    for ddl in LOAD_MANIFEST_INDEXES + QUARANTINE_INDEXES + DELIVERY_PROFILES_INDEXES:
        index = ddl.split(" if not exists ")[1].split()[0]
        schema = ddl.split(" on ")[1].split(".")[0]
        if conn.execute("select to_regclass(%s)", (f"{schema}.{index}",)).fetchone()[0] is None:
            conn.execute(ddl)
    # Raw tables carry no index: COPY speed matters more than the rare replace-on-change,
    # which deletes by _load_id with a sequential scan (see docs/loading.md).
    for contract in CONTRACTS.values():
        conn.execute(contract.raw_table_ddl())
    # _loaded_at defaults to now() (the loading transaction's start): the loader then leaves
    # it out of COPY, which saves PostgreSQL parsing one timestamptz per row.
    without_default = conn.execute(
        "select c.relname from pg_attribute a join pg_class c on c.oid = a.attrelid"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'raw' and a.attname = '_loaded_at' and not a.atthasdef and c.relname = any(%s)",
        (list(CONTRACTS),)).fetchall()
    for (table,) in without_default:
        conn.execute(f"alter table raw.{table} alter column _loaded_at set default now()")
    # One BRIN index per raw table on _loaded_at (issue 8): raw is append-only in load order,
    # so a block range summary is tiny and nearly free to maintain under COPY, and it lets
    # the incremental staging models read only the night's rows (_loaded_at > watermark)
    # instead of scanning the whole history.
    for source in CONTRACTS:
        conn.execute(f"create index if not exists {source}_loaded_at_brin"
                     f" on raw.{source} using brin (_loaded_at)")
