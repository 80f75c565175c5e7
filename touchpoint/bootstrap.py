"""Schemas and operational tables every command can rely on (idempotent)."""
from __future__ import annotations

import psycopg

from ingestion.ddl import ensure_ingestion_tables
from touchpoint.pseudonyms import ensure_key

# raw/staging/intermediate/identity hold PII: restricted. BI reads only `marts`.
SCHEMAS = ("raw", "ops", "staging", "intermediate", "identity", "marts")

PUBLICATION_LOG_DDL = """
create table if not exists ops.publication_log (
    publication_id bigserial primary key,
    run_id text not null,
    logical_date date not null,
    decision text not null check (decision in ('published', 'blocked', 'rolled_back')),
    failed_checks jsonb not null default '[]'::jsonb,
    mart_row_counts jsonb not null default '{}'::jsonb,
    version_schema text,
    decided_at timestamptz not null default now()
);
-- version: the publication version number (marts_history row versions); version_schema
-- keeps its label (marts_v000042). history_reset: marts whose history restarted at this
-- version (a column change), so no rollback can cross it.
alter table ops.publication_log add column if not exists version bigint;
alter table ops.publication_log add column if not exists history_reset text[] not null default '{}';
-- forced: an operator published over a block (`touchpoint publish --force`), force_reason
-- says why; decided_by: who decided (the operator, or the OS user Airflow runs as).
alter table ops.publication_log add column if not exists forced boolean not null default false;
alter table ops.publication_log add column if not exists force_reason text;
alter table ops.publication_log add column if not exists decided_by text
"""

# One row per mart publication knows about: how the candidate is diffed into
# marts_history.<mart> and what the published history covers (see touchpoint/publish.py).
MART_PUBLICATION_STATE_DDL = """
create table if not exists ops.mart_publication_state (
    mart text primary key,
    key_columns text[] not null,
    public_columns jsonb not null,
    changed_at_watermark timestamptz,
    current_row_count bigint not null,
    history_from_version bigint not null,
    last_published_version bigint not null,
    retired_at_version bigint,
    updated_at timestamptz not null default now()
)
"""

TASK_FAILURES_DDL = """
create table if not exists ops.task_failures (
    dag_id text not null,
    task_id text not null,
    run_id text not null,
    logical_date date,
    try_number integer,
    exception text,
    failed_at timestamptz not null default now()
)
"""

AUDIT_RESULTS_DDL = """
create table if not exists ops.audit_results (
    run_id text not null,
    logical_date date not null,
    check_type text not null,
    check_name text not null,
    object_name text,
    passed boolean not null,
    details jsonb,
    checked_at timestamptz not null default now()
);
-- status: passed | failed | warned (a warn-severity check that failed: does not block)
-- | not_run (the check could not run, e.g. its model failed; blocks, but is not a
-- failure of the data). reason: one sentence an operator understands.
alter table ops.audit_results add column if not exists status text;
alter table ops.audit_results add column if not exists reason text;
alter table ops.audit_results add column if not exists severity text
"""

# One row per (night, metric): tonight's value, the baseline it was compared with and
# the verdict (touchpoint/anomaly.py). Charted by `touchpoint report`.
METRIC_VALUES_DDL = """
create table if not exists ops.metric_values (
    run_id text not null,
    logical_date date not null,
    metric text not null,
    area text not null,
    description text,
    value double precision,
    baseline_center double precision,
    baseline_spread double precision,
    lower_bound double precision,
    upper_bound double precision,
    baseline_size integer not null default 0,
    baseline_source text not null check (baseline_source in ('published_nights', 'data_history', 'none')),
    score double precision,
    rule text not null,
    severity text not null,
    status text not null check (status in ('passed', 'failed', 'warned', 'not_run')),
    reason text,
    recorded_at timestamptz not null default now(),
    primary key (run_id, metric)
);
-- denominator: of a share (ratio metrics); level: the cumulative figure a delta metric
-- (growth since the last published night) was derived from.
alter table ops.metric_values add column if not exists denominator double precision;
alter table ops.metric_values add column if not exists level double precision;
create index if not exists metric_values_metric_date on ops.metric_values (metric, logical_date)
"""

# dbt source freshness results, one row per (run, source table): see touchpoint/sources_check.py.
SOURCE_FRESHNESS_DDL = """
create table if not exists ops.source_freshness (
    run_id text not null,
    logical_date date not null,
    source text not null,
    status text not null,
    max_loaded_at timestamptz,
    snapshotted_at timestamptz,
    age_seconds double precision,
    warn_after text,
    error_after text,
    checked_at timestamptz not null default now(),
    primary key (run_id, source)
)
"""


# Right to erasure (touchpoint/erase.py). One row per `touchpoint erase` request: what
# kind of identifier was given, how many customers and rows per table it removed, which
# landing files still hold the person. No PII: `subject_hmac` is a keyed hash (the
# erasure key) of the identifier given, so a repeated request can be recognised.
ERASURE_LOG_DDL = """
create table if not exists ops.erasure_log (
    erasure_id bigserial primary key,
    requested_at timestamptz not null default now(),
    requested_by text not null,
    identifier_kind text not null
        check (identifier_kind in ('email', 'phone', 'account_id', 'customer_id')),
    subject_hmac text not null,
    customers_affected integer not null,
    identifiers_suppressed integer not null,
    rows_deleted jsonb not null default '{}'::jsonb,
    rows_redacted jsonb not null default '{}'::jsonb,
    landing_files jsonb not null default '[]'::jsonb,
    dry_run boolean not null
)
"""

# Keyed hashes (identity.erasure_key) of every identifier of an erased person: the loader
# drops raw rows carrying one, so a re-delivered file or a full reload does not bring
# the person back (ingestion/suppression.py).
ERASURE_SUPPRESSION_DDL = """
create table if not exists ops.erasure_suppression (
    identifier_type text not null,
    identifier_hmac text not null,
    erasure_id bigint not null,
    suppressed_at timestamptz not null default now(),
    primary key (identifier_type, identifier_hmac)
)
"""


def ensure_warehouse(conn: psycopg.Connection) -> None:
    # Serialise concurrent bootstraps (parallel ingest tasks start together).
    conn.execute("select pg_advisory_xact_lock(hashtext('touchpoint.bootstrap'))")
    for schema in SCHEMAS:
        conn.execute(f"create schema if not exists {schema}")
    conn.execute(PUBLICATION_LOG_DDL)
    conn.execute(TASK_FAILURES_DDL)
    conn.execute(AUDIT_RESULTS_DDL)
    conn.execute(MART_PUBLICATION_STATE_DDL)
    conn.execute(METRIC_VALUES_DDL)
    conn.execute(SOURCE_FRESHNESS_DDL)
    conn.execute(ERASURE_LOG_DDL)
    conn.execute(ERASURE_SUPPRESSION_DDL)
    ensure_ingestion_tables(conn)
    ensure_key(conn)
