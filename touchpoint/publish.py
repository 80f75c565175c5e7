"""Write-audit-publish: publication, blocking and rollback of the marts.

Layout: dbt builds the candidate marts as tables in the candidate schema. Publishing
renames that schema to an immutable version schema (`marts_v000042`) and, in the same
transaction, points one view per mart in `marts` at it. BI reads only `marts`.

Why views over versioned schemas rather than renaming `marts` itself: PostgreSQL
views bind to tables by OID, so a view that a BI user built on `marts.customer_360`
would silently follow a renamed schema to the *old* data. Views in `marts` are
replaced in place (`create or replace view` keeps their OID), so dependants follow the
published version, and the swap of every mart commits atomically: a query sees all of
the previous version or all of the new one. The previous version schema is kept for
`touchpoint rollback`. Incremental state lives in staging/intermediate/identity, which
publication never touches.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date

import psycopg
from psycopg import sql

from touchpoint.config import settings

log = logging.getLogger(__name__)

PUBLISHED_SCHEMA = "marts"
VERSION_PREFIX = "marts_v"
LOCK_KEY = "touchpoint.publish"


class PublishError(RuntimeError):
    pass


@dataclass
class Decision:
    decision: str  # published | blocked | rolled_back
    run_id: str
    logical_date: date
    failed_checks: list[dict] = field(default_factory=list)
    mart_row_counts: dict[str, int] = field(default_factory=dict)
    version_schema: str | None = None


def keep_versions() -> int:
    """How many published versions to keep (current + previous at least)."""
    return max(2, int(os.environ.get("TOUCHPOINT_KEEP_VERSIONS", "2")))


def _lock(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))


def schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone() is not None


def list_tables(conn: psycopg.Connection, schema: str) -> list[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = %s "
        "and table_type in ('BASE TABLE', 'VIEW') order by table_name",
        (schema,),
    ).fetchall()
    return [r[0] for r in rows]


def row_counts(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    counts = {}
    for table in list_tables(conn, schema):
        query = sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[table] = conn.execute(query).fetchone()[0]
    return counts


def log_decision(conn: psycopg.Connection, d: Decision) -> None:
    conn.execute(
        "insert into ops.publication_log (run_id, logical_date, decision, failed_checks, mart_row_counts, version_schema)"
        " values (%s, %s, %s, %s, %s, %s)",
        (d.run_id, d.logical_date, d.decision, json.dumps(d.failed_checks, ensure_ascii=False),
         json.dumps(d.mart_row_counts), d.version_schema),
    )


def current_version(conn: psycopg.Connection) -> str | None:
    """The version schema `marts` points at now (last published or rolled-back-to)."""
    row = conn.execute(
        "select version_schema from ops.publication_log where decision in ('published', 'rolled_back') "
        "order by publication_id desc limit 1"
    ).fetchone()
    return row[0] if row else None


def _next_version_name(conn: psycopg.Connection) -> str:
    conn.execute("create sequence if not exists ops.marts_version_seq")
    n = conn.execute("select nextval('ops.marts_version_seq')").fetchone()[0]
    return f"{VERSION_PREFIX}{n:06d}"


def _point_views_at(conn: psycopg.Connection, version: str) -> None:
    """Make `marts.<t>` select from `<version>.<t>` for every table of the version."""
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(PUBLISHED_SCHEMA)))
    new_tables = list_tables(conn, version)
    for table in new_tables:
        target = sql.SQL("select * from {}.{}").format(sql.Identifier(version), sql.Identifier(table))
        view = sql.Identifier(PUBLISHED_SCHEMA, table)
        try:
            with conn.transaction():  # savepoint: columns may have changed shape
                conn.execute(sql.SQL("create or replace view {} as ").format(view) + target)
        except psycopg.errors.InvalidTableDefinition:
            # Columns were renamed/removed/retyped: the view must be recreated. This fails
            # (and the whole publication rolls back) if a user object depends on it.
            conn.execute(sql.SQL("drop view {}").format(view))
            conn.execute(sql.SQL("create view {} as ").format(view) + target)
    for stale in set(list_tables(conn, PUBLISHED_SCHEMA)) - set(new_tables):
        conn.execute(sql.SQL("drop view {}").format(sql.Identifier(PUBLISHED_SCHEMA, stale)))
    _grant_bi(conn)


def _grant_bi(conn: psycopg.Connection) -> None:
    role = os.environ.get("TOUCHPOINT_BI_ROLE", "touchpoint_bi")
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    if exists:
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(role)))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
            sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(role)))


def _drop_old_versions(conn: psycopg.Connection, keep: int) -> list[str]:
    rows = conn.execute(
        "select nspname from pg_namespace where nspname ~ %s order by nspname desc",
        (f"^{VERSION_PREFIX}[0-9]+$",),
    ).fetchall()
    current = current_version(conn)
    dropped = []
    for (name,) in rows[keep:]:
        if name == current:
            continue
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))
        dropped.append(name)
    return dropped


def publish(conn: psycopg.Connection, run_id: str, logical_date: date, candidate_schema: str | None = None) -> Decision:
    """Publish the audited candidate schema atomically; log the decision."""
    candidate = candidate_schema or settings().candidate_schema
    with conn.transaction():
        _lock(conn)
        if not schema_exists(conn, candidate):
            raise PublishError(f"candidate schema {candidate!r} does not exist: nothing to publish")
        counts = row_counts(conn, candidate)
        if not counts:
            raise PublishError(f"candidate schema {candidate!r} has no marts: nothing to publish")
        version = _next_version_name(conn)
        conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(candidate), sql.Identifier(version)))
        _point_views_at(conn, version)
        decision = Decision("published", run_id, logical_date, [], counts, version)
        log_decision(conn, decision)
        dropped = _drop_old_versions(conn, keep_versions())
    log.info("published %s (%s); dropped old versions %s", version, counts, dropped)
    return decision


def block(conn: psycopg.Connection, run_id: str, logical_date: date, failed_checks: list[dict],
          candidate_schema: str | None = None) -> Decision:
    """Record a blocked publication. `marts` is left exactly as it was."""
    candidate = candidate_schema or settings().candidate_schema
    with conn.transaction():
        counts = row_counts(conn, candidate) if schema_exists(conn, candidate) else {}
        decision = Decision("blocked", run_id, logical_date, failed_checks, counts, None)
        log_decision(conn, decision)
    return decision


def rollback(conn: psycopg.Connection, run_id: str = "manual_rollback") -> Decision:
    """Point `marts` back at the version published before the current one."""
    with conn.transaction():
        _lock(conn)
        current = current_version(conn)
        if current is None:
            raise PublishError("nothing has been published yet: there is no version to roll back to")
        rows = conn.execute(
            "select version_schema, logical_date from ops.publication_log where decision = 'published' "
            "and version_schema < %s order by version_schema desc",
            (current,),
        ).fetchall()
        target = next(((v, d) for v, d in rows if schema_exists(conn, v)), None)
        if target is None:
            raise PublishError(f"no earlier published version is kept (current is {current}); cannot roll back")
        version, logical_date = target
        _point_views_at(conn, version)
        decision = Decision("rolled_back", run_id, logical_date, [], row_counts(conn, version), version)
        log_decision(conn, decision)
    log.info("rolled back marts from %s to %s", current, version)
    return decision


def reset_candidate(conn: psycopg.Connection, candidate_schema: str | None = None) -> None:
    """Drop a left-over candidate schema (e.g. from a blocked run) so a stale mart can never be published."""
    candidate = candidate_schema or settings().candidate_schema
    if candidate in (PUBLISHED_SCHEMA,) or candidate.startswith(VERSION_PREFIX):
        raise PublishError(f"refusing to use {candidate!r} as the candidate schema")
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(candidate)))
