"""Write-audit-publish: publication, blocking and rollback of the marts.

Layout. dbt keeps the current state of every mart, incrementally, in the candidate
schema (`marts_candidate`), which persists between nights. The contract with the mart
models: each mart table has one unique index, its grain, and a column
`_changed_at timestamptz`, when dbt last (re)wrote the row. Columns whose name starts
with `_` are internal and never published.

Published row versions live in `marts_history.<mart>` (restricted, like staging): the
public columns plus `_valid_from_version` / `_valid_to_version`, the publication
version numbers a row version is visible from (inclusive) and until (exclusive; null =
still current). BI reads only the views in `marts`; the view of version N is

    select <public columns> from marts_history.<mart>
    where _valid_from_version <= N and (_valid_to_version is null or _valid_to_version > N)

Publishing version N, in one transaction under the publish advisory lock, per mart:
the candidate rows with `_changed_at` past the mart's last published watermark whose
public columns differ from the current history row close that row (valid_to = N) and
get a new one (valid_from = N); current keys gone from the candidate (an anti-join on
the key) are closed; every view is `create or replace`d at N; the decision is logged.
So a night writes what changed, never a copy of the mart. A mart table without
`_changed_at` is diffed in full (correct, but O(size)); one without a unique index is
replaced in full (every current row closed and reinserted).

Why views over a history store rather than renaming schemas: PostgreSQL views bind to
tables by OID, so a view a BI user built on `marts.customer_360` would silently follow
a renamed table to the *old* data. Views in `marts` are replaced in place
(`create or replace view` keeps their OID), so dependants follow the published
version, and every mart swaps in one commit: a query sees all of the previous version
or all of the new one. A blocked night touches no history row and no view.

Rollback repoints the views at an earlier kept version number. Retention keeps the
last `keep_versions()` publications: history rows closed at or before the oldest kept
version are deleted. When a mart's columns or grain change, its history restarts from
the candidate at that version (logged in `history_reset`); a rollback across it is
refused.

An operator can override a block (`touchpoint publish --force --reason`, force_publish):
the same publication, logged with `forced`, the reason and `decided_by`.
"""
from __future__ import annotations

import getpass
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date

import psycopg
from psycopg import sql

from touchpoint.bi import PUBLISHED_SCHEMA, grant_published
from touchpoint.config import settings

log = logging.getLogger(__name__)

HISTORY_SCHEMA = "marts_history"
VERSION_PREFIX = "marts_v"
LOCK_KEY = "touchpoint.publish"
CHANGED_AT = "_changed_at"
VALID_FROM = "_valid_from_version"
VALID_TO = "_valid_to_version"
# Free space left in each history page for the versions a night closes (HOT updates).
HISTORY_FILLFACTOR = 85
# dbt's work tables: left behind by a run that died mid-model; never marts.
DBT_WORK_SUFFIXES = ("__dbt_tmp", "__dbt_backup")
# Types without an equality operator: compared as text when diffing rows.
TEXT_COMPARED_TYPES = ("json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle")


class PublishError(RuntimeError):
    pass


@dataclass
class Decision:
    decision: str  # published | blocked | rolled_back
    run_id: str
    logical_date: date
    failed_checks: list[dict] = field(default_factory=list)
    mart_row_counts: dict[str, int] = field(default_factory=dict)
    version_schema: str | None = None  # the version label, e.g. marts_v000042
    version: int | None = None
    history_reset: list[str] = field(default_factory=list)
    rows_written: dict[str, int] = field(default_factory=dict)  # history rows inserted per mart
    forced: bool = False  # published by `touchpoint publish --force` over a block
    force_reason: str | None = None
    decided_by: str | None = None  # who decided: the operator, or the OS user Airflow runs as


@dataclass
class MartShape:
    """What publication needs to know about one candidate mart."""

    name: str
    public_columns: list[tuple[str, str]]  # (name, type) in table order
    key_columns: list[str]  # empty: no usable unique index
    has_changed_at: bool

    def columns_json(self) -> list[list[str]]:
        return [list(c) for c in self.public_columns]


def keep_versions() -> int:
    """How many published versions to keep (current + previous at least)."""
    return max(2, int(os.environ.get("TOUCHPOINT_KEEP_VERSIONS", "2")))


def version_label(version: int) -> str:
    return f"{VERSION_PREFIX}{version:06d}"


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


def candidate_marts(conn: psycopg.Connection, schema: str) -> list[str]:
    """The marts of a candidate schema: its tables and views, minus dbt's work tables."""
    return [t for t in list_tables(conn, schema) if not t.startswith("_") and not t.endswith(DBT_WORK_SUFFIXES)]


def row_counts(conn: psycopg.Connection, schema: str) -> dict[str, int]:
    counts = {}
    for table in candidate_marts(conn, schema):
        query = sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[table] = conn.execute(query).fetchone()[0]
    return counts


def operator_name() -> str:
    """Who is deciding: TOUCHPOINT_OPERATOR, else the OS user (under Airflow, the worker's user)."""
    name = os.environ.get("TOUCHPOINT_OPERATOR", "").strip()
    if name:
        return name
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        name = "unknown"
    # Airflow exports AIRFLOW_CTX_DAG_ID into a running task's environment.
    return f"airflow ({name})" if os.environ.get("AIRFLOW_CTX_DAG_ID") else name


def log_decision(conn: psycopg.Connection, d: Decision) -> None:
    conn.execute(
        "insert into ops.publication_log (run_id, logical_date, decision, failed_checks, mart_row_counts,"
        " version_schema, version, history_reset, forced, force_reason, decided_by)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (d.run_id, d.logical_date, d.decision, json.dumps(d.failed_checks, ensure_ascii=False, default=str),
         json.dumps(d.mart_row_counts), d.version_schema, d.version, d.history_reset,
         d.forced, d.force_reason, d.decided_by or operator_name()),
    )


def current_version(conn: psycopg.Connection) -> str | None:
    """The version label `marts` serves now (last published or rolled-back-to)."""
    row = _current(conn)
    return row[0] if row else None


def _current(conn: psycopg.Connection) -> tuple[str, int | None] | None:
    return conn.execute(
        "select version_schema, version from ops.publication_log where decision in ('published', 'rolled_back') "
        "order by publication_id desc limit 1"
    ).fetchone()


def _next_version(conn: psycopg.Connection) -> int:
    conn.execute("create sequence if not exists ops.marts_version_seq")
    return conn.execute("select nextval('ops.marts_version_seq')").fetchone()[0]


# --- the candidate's shape -------------------------------------------------------------

def mart_shape(conn: psycopg.Connection, schema: str, table: str) -> MartShape:
    """Public columns, grain (the unique index) and whether `_changed_at` exists."""
    columns = conn.execute(
        "select attname, format_type(atttypid, atttypmod) from pg_attribute "
        "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
        (_qualified(schema, table),),
    ).fetchall()
    public = [(name, typ) for name, typ in columns if not name.startswith("_")]
    names = {name for name, _ in columns}
    if not public:
        raise PublishError(f"{schema}.{table} has no public columns (every column starts with '_')")
    # The grain: a unique, non-partial index on plain public columns. The contract is one
    # such index; if there are several, the primary key, else the narrowest, wins.
    indexes = conn.execute(
        "select array(select attname from unnest(ix.indkey) with ordinality as k(attnum, ord) "
        "  join pg_attribute on attrelid = ix.indrelid and pg_attribute.attnum = k.attnum order by ord), "
        " ix.indnkeyatts "
        "from pg_index ix join pg_class ic on ic.oid = ix.indexrelid "
        "where ix.indrelid = %s::regclass and ix.indisunique and ix.indpred is null and 0 <> all(ix.indkey) "
        "order by ix.indisprimary desc, ix.indnkeyatts, ic.relname",
        (_qualified(schema, table),),
    ).fetchall()
    key: list[str] = []
    for cols, nkeyatts in indexes:
        cols = list(cols)[:nkeyatts]
        if all(not c.startswith("_") for c in cols):
            key = cols
            break
    return MartShape(table, public, key, CHANGED_AT in names)


def _qualified(schema: str, table: str) -> str:
    """`"schema"."table"` as text, for a ::regclass cast."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))


def _state(conn: psycopg.Connection) -> dict[str, dict]:
    rows = conn.execute(
        "select mart, key_columns, public_columns, changed_at_watermark, current_row_count, "
        "history_from_version, last_published_version, retired_at_version from ops.mart_publication_state"
    ).fetchall()
    keys = ("mart", "key_columns", "public_columns", "changed_at_watermark", "current_row_count",
            "history_from_version", "last_published_version", "retired_at_version")
    return {r[0]: dict(zip(keys, r)) for r in rows}


def _save_state(conn: psycopg.Connection, shape: MartShape, watermark, count: int, history_from: int,
                version: int) -> None:
    conn.execute(
        "insert into ops.mart_publication_state as s (mart, key_columns, public_columns, changed_at_watermark,"
        " current_row_count, history_from_version, last_published_version, retired_at_version)"
        " values (%s, %s, %s, %s, %s, %s, %s, null)"
        " on conflict (mart) do update set key_columns = excluded.key_columns,"
        " public_columns = excluded.public_columns, changed_at_watermark = excluded.changed_at_watermark,"
        " current_row_count = excluded.current_row_count, history_from_version = excluded.history_from_version,"
        " last_published_version = excluded.last_published_version, retired_at_version = null, updated_at = now()",
        (shape.name, shape.key_columns, json.dumps(shape.columns_json()), watermark, count, history_from, version),
    )


# --- SQL building blocks -----------------------------------------------------------------

def _ids(names) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _prefixed(alias: str, names) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(alias, n) for n in names)


def _key_match(left: str, right: str, key: list[str]) -> sql.Composable:
    return sql.SQL(" and ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, k), sql.Identifier(right, k)) for k in key)


def _comparable(alias: str, shape: MartShape) -> sql.Composable:
    parts = []
    for name, typ in shape.public_columns:
        col = sql.Identifier(alias, name)
        base = typ.split("(")[0].rstrip("[]").strip()
        parts.append(sql.SQL("{}::text").format(col) if base in TEXT_COMPARED_TYPES else col)
    return sql.SQL("row({})").format(sql.SQL(", ").join(parts))


def _history(table: str) -> sql.Identifier:
    return sql.Identifier(HISTORY_SCHEMA, table)


def _visible_at(version: int) -> sql.Composable:
    return sql.SQL("{vf} <= {n} and ({vt} is null or {vt} > {n})").format(
        vf=sql.Identifier(VALID_FROM), vt=sql.Identifier(VALID_TO), n=sql.Literal(version))


def _point_view(conn: psycopg.Connection, mart: str, columns: list[str], version: int,
                history_table: str | None = None) -> None:
    """`marts.<mart>` = the history of `mart` as of `version` (keeps the view's OID)."""
    source = _history(history_table or mart)
    target = sql.SQL("select {} from {} where ").format(_ids(columns), source) + _visible_at(version)
    view = sql.Identifier(PUBLISHED_SCHEMA, mart)
    try:
        with conn.transaction():  # savepoint: columns may have changed shape
            conn.execute(sql.SQL("create or replace view {} as ").format(view) + target)
    except psycopg.errors.InvalidTableDefinition:
        # Columns were renamed/removed/retyped: the view must be recreated. This fails
        # (and the whole publication rolls back) if a user object depends on it.
        conn.execute(sql.SQL("drop view {}").format(view))
        conn.execute(sql.SQL("create view {} as ").format(view) + target)


def _drop_view(conn: psycopg.Connection, mart: str) -> None:
    conn.execute(sql.SQL("drop view if exists {}").format(sql.Identifier(PUBLISHED_SCHEMA, mart)))


# --- publishing one mart -----------------------------------------------------------------

def _rebuild_history(conn: psycopg.Connection, candidate: str, shape: MartShape, version: int) -> tuple[object, int]:
    """(Re)start a mart's history from the candidate at `version`; returns (watermark, rows).

    The new table is filled beside the old one, the view is pointed at it, then the old
    table is dropped and the new one takes its name (the view follows by OID).
    """
    public = [name for name, _ in shape.public_columns]
    staging_name = f"{shape.name}__rebuild"
    new = _history(staging_name)
    conn.execute(sql.SQL("drop table if exists {}").format(new))
    conn.execute(sql.SQL(
        "create table {new} as select {cols}, {n}::bigint as {vf}, null::bigint as {vt} from {cand} with no data"
    ).format(new=new, cols=_ids(public), n=sql.Literal(version), vf=sql.Identifier(VALID_FROM),
             vt=sql.Identifier(VALID_TO), cand=sql.Identifier(candidate, shape.name)))
    conn.execute(sql.SQL("alter table {} alter column {} set not null").format(new, sql.Identifier(VALID_FROM)))
    conn.execute(sql.SQL("alter table {} set (fillfactor = {})").format(new, sql.Literal(HISTORY_FILLFACTOR)))
    watermark = None
    if shape.has_changed_at:
        watermark = conn.execute(sql.SQL("select max({}) from {}").format(
            sql.Identifier(CHANGED_AT), sql.Identifier(candidate, shape.name))).fetchone()[0]
    cur = conn.execute(sql.SQL("insert into {new} select {cols}, {n}, null from {cand}").format(
        new=new, cols=_ids(public), n=sql.Literal(version), cand=sql.Identifier(candidate, shape.name)))
    rows = cur.rowcount
    _index_history(conn, staging_name, shape)
    _point_view(conn, shape.name, public, version, staging_name)
    conn.execute(sql.SQL("drop table if exists {}").format(_history(shape.name)))
    conn.execute(sql.SQL("alter table {} rename to {}").format(new, sql.Identifier(shape.name)))
    for suffix in ("key_version",):
        old_name, new_name = f"{staging_name}__{suffix}", f"{shape.name}__{suffix}"
        conn.execute(sql.SQL("alter index if exists {} rename to {}").format(
            sql.Identifier(HISTORY_SCHEMA, old_name), sql.Identifier(new_name)))
    conn.execute(sql.SQL("analyze {}").format(_history(shape.name)))
    return watermark, rows


def _index_history(conn: psycopg.Connection, table: str, shape: MartShape) -> None:
    """One index, (grain, valid_from): it finds a key's current row and keeps versions unique.

    Nothing indexes `_valid_to_version` (and the table keeps free space per page), so
    closing a row version is a HOT update: the page is rewritten, no index is touched.
    """
    if shape.key_columns:
        conn.execute(sql.SQL("create unique index {} on {} ({}, {})").format(
            sql.Identifier(f"{table}__key_version"), _history(table), _ids(shape.key_columns),
            sql.Identifier(VALID_FROM)))


def _publish_changes(conn: psycopg.Connection, candidate: str, shape: MartShape, state: dict,
                     version: int) -> tuple[object, int, int]:
    """Write what changed since the last publication; returns (watermark, rows written, current count)."""
    public = [name for name, _ in shape.public_columns]
    cand = sql.Identifier(candidate, shape.name)
    history = _history(shape.name)
    vt = sql.Identifier(VALID_TO)
    n = sql.Literal(version)
    old_watermark = state["changed_at_watermark"]
    watermark = old_watermark

    if not shape.key_columns:
        # No grain to diff on: close every current row and publish the candidate whole.
        closed = conn.execute(sql.SQL("update {} set {} = {} where {} is null").format(history, vt, n, vt)).rowcount
        written = conn.execute(sql.SQL("insert into {} ({}, {}) select {}, {} from {}").format(
            history, _ids(public), sql.Identifier(VALID_FROM), _ids(public), n, cand)).rowcount
        return None, written, state["current_row_count"] - closed + written

    # 1. The rows dbt wrote since the last publication (all rows without _changed_at),
    #    bounded above by a watermark read first so the set is stable in this transaction.
    changed_filter = sql.SQL("true")
    if shape.has_changed_at:
        ca = sql.Identifier(CHANGED_AT)
        since = sql.SQL("{} > {}").format(ca, sql.Literal(old_watermark)) if old_watermark else sql.SQL("true")
        watermark = conn.execute(sql.SQL("select max({}) from {} where ").format(ca, cand) + since).fetchone()[0]
        if watermark is None:
            watermark = old_watermark
            changed_filter = sql.SQL("false")
        else:
            changed_filter = since + sql.SQL(" and {} <= {}").format(ca, sql.Literal(watermark))

    # 2. Of those, the ones whose public columns differ from the current history row
    #    (a row dbt rewrote unchanged, e.g. in a lookback window, is not re-versioned).
    conn.execute("drop table if exists pg_temp.tp_publish_diff")
    conn.execute(sql.SQL(
        "create temp table tp_publish_diff on commit drop as "
        "select {cand_cols}, ({hist_key} is null) as is_new from {cand} as cand "
        "left join {history} as hist on {match} and hist.{vt} is null "
        "where ({filter}) and ({hist_key} is null or {cand_row} is distinct from {hist_row})"
    ).format(cand_cols=_prefixed("cand", public), hist_key=sql.Identifier("hist", shape.key_columns[0]),
             cand=cand, history=history, match=_key_match("hist", "cand", shape.key_columns), vt=vt,
             filter=changed_filter, cand_row=_comparable("cand", shape), hist_row=_comparable("hist", shape)))
    conn.execute("analyze pg_temp.tp_publish_diff")  # so the planner joins it by index
    closed = conn.execute(sql.SQL(
        "update {history} as hist set {vt} = {n} from tp_publish_diff as diff "
        "where {match} and hist.{vt} is null and not diff.is_new"
    ).format(history=history, vt=vt, n=n, match=_key_match("hist", "diff", shape.key_columns))).rowcount
    written = conn.execute(sql.SQL("insert into {} ({}, {}) select {}, {} from tp_publish_diff").format(
        history, _ids(public), sql.Identifier(VALID_FROM), _ids(public), n)).rowcount

    # 3. Keys gone from the candidate. The current count is known exactly, so
    #    count(candidate) = previous - deleted + new keys tells whether any key went; only
    #    then is there an anti-join on the key (both sides indexed).
    new_keys = conn.execute("select count(*) from tp_publish_diff where is_new").fetchone()[0]
    candidate_count = conn.execute(sql.SQL("select count(*) from {}").format(cand)).fetchone()[0]
    deleted = 0
    if candidate_count != state["current_row_count"] + new_keys:
        deleted = conn.execute(sql.SQL(
            "update {history} as hist set {vt} = {n} where hist.{vt} is null "
            "and hist.{vf} < {n} and not exists (select from {cand} as cand where {match})"
        ).format(history=history, vt=vt, vf=sql.Identifier(VALID_FROM), n=n, cand=cand,
                 match=_key_match("cand", "hist", shape.key_columns))).rowcount
    count = state["current_row_count"] - closed - deleted + written
    if count != candidate_count:
        raise PublishError(f"{shape.name}: the published history would hold {count} rows but the candidate "
                           f"has {candidate_count}; is its unique index its grain?")
    return watermark, written, count


def _retire(conn: psycopg.Connection, mart: str, version: int) -> None:
    """A mart gone from the candidate: its rows end at `version` and its view goes."""
    history = _history(mart)
    if conn.execute("select to_regclass(%s)", (_qualified(HISTORY_SCHEMA, mart),)).fetchone()[0]:
        conn.execute(sql.SQL("update {} set {} = {} where {} is null").format(
            history, sql.Identifier(VALID_TO), sql.Literal(version), sql.Identifier(VALID_TO)))
    _drop_view(conn, mart)
    conn.execute("update ops.mart_publication_state set retired_at_version = %s, current_row_count = 0, "
                 "updated_at = now() where mart = %s", (version, mart))


def _apply_retention(conn: psycopg.Connection, keep: int) -> int | None:
    """Delete history no kept version can see; returns the oldest kept version."""
    rows = conn.execute(
        "select version from ops.publication_log where decision = 'published' and version is not null "
        "order by version desc limit %s", (keep,)).fetchall()
    if not rows:
        return None
    oldest = min(r[0] for r in rows)
    current = _current(conn)
    if current and current[1] is not None:
        oldest = min(oldest, current[1])
    for mart, info in _state(conn).items():
        if info["retired_at_version"] is not None and info["retired_at_version"] <= oldest:
            conn.execute(sql.SQL("drop table if exists {}").format(_history(mart)))
            conn.execute("delete from ops.mart_publication_state where mart = %s", (mart,))
            continue
        conn.execute(sql.SQL("delete from {} where {} <= {}").format(
            _history(mart), sql.Identifier(VALID_TO), sql.Literal(oldest)))
    # Version schemas of the rename-based layout (before marts_history) are not served any more.
    for (name,) in conn.execute("select nspname from pg_namespace where nspname ~ %s",
                                (f"^{VERSION_PREFIX}[0-9]+$",)).fetchall():
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))
    return oldest


def publish(conn: psycopg.Connection, run_id: str, logical_date: date, candidate_schema: str | None = None,
            *, force_reason: str | None = None, decided_by: str | None = None) -> Decision:
    """Publish the audited candidate atomically as a new version; log the decision.

    `force_reason` marks the publication as an operator's override of a block (see
    force_publish, which checks that there is one to override).
    """
    candidate = candidate_schema or settings().candidate_schema
    guard_candidate(candidate)
    with conn.transaction():
        _lock(conn)
        if not schema_exists(conn, candidate):
            raise PublishError(f"candidate schema {candidate!r} does not exist: nothing to publish")
        marts = candidate_marts(conn, candidate)
        if not marts:
            raise PublishError(f"candidate schema {candidate!r} has no marts: nothing to publish")
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(HISTORY_SCHEMA)))
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(PUBLISHED_SCHEMA)))
        version = _next_version(conn)
        state = _state(conn)
        counts, written, reset = {}, {}, []
        for mart in marts:
            shape = mart_shape(conn, candidate, mart)
            known = state.get(mart)
            same_shape = (known is not None and known["retired_at_version"] is None
                          and known["public_columns"] == shape.columns_json()
                          and list(known["key_columns"]) == shape.key_columns)
            if same_shape:
                watermark, written[mart], counts[mart] = _publish_changes(conn, candidate, shape, known, version)
                history_from = known["history_from_version"]
                _point_view(conn, mart, [c for c, _ in shape.public_columns], version)
            else:
                watermark, written[mart] = _rebuild_history(conn, candidate, shape, version)
                counts[mart] = written[mart]
                history_from = version
                if known is not None:
                    reset.append(mart)
            _save_state(conn, shape, watermark, counts[mart], history_from, version)
        for mart, info in state.items():
            if mart not in marts and info["retired_at_version"] is None:
                _retire(conn, mart, version)
        for stale in set(list_tables(conn, PUBLISHED_SCHEMA)) - set(marts):
            _drop_view(conn, stale)
        grant_published(conn)
        decision = Decision("published", run_id, logical_date, [], counts, version_label(version), version,
                            sorted(reset), written, forced=force_reason is not None,
                            force_reason=force_reason, decided_by=decided_by)
        log_decision(conn, decision)
        oldest = _apply_retention(conn, keep_versions())
    log.info("published %s (rows %s, history rows written %s, history reset %s); oldest kept version %s",
             decision.version_schema, counts, written, reset, oldest)
    return decision


def force_publish(conn: psycopg.Connection, reason: str, operator: str, run_id: str | None = None,
                  logical_date: date | None = None, candidate_schema: str | None = None) -> Decision:
    """Publish the current candidate over a blocked night: an operator's deliberate override.

    The run is `run_id`, else the latest run decided for `logical_date`, else the latest
    run decided at all. Refused unless the run's latest decision is `blocked` and no later
    run has been decided since (its candidate would no longer be the blocked night's).
    Publication is the normal one (same diff, same lock, same transaction); the log row
    says forced, why and who.
    """
    reason = (reason or "").strip()
    if not reason:
        raise PublishError("an override needs a reason: touchpoint publish --force --reason \"...\"")
    candidate = candidate_schema or settings().candidate_schema
    guard_candidate(candidate)
    with conn.transaction():
        _lock(conn)
        target = _run_to_override(conn, run_id, logical_date)
        publication_id, run, day, decision = target
        if decision != "blocked":
            raise PublishError(f"run {run} (data date {day}) was not blocked: its latest decision is "
                               f"{decision!r}, so there is nothing to override")
        later = conn.execute(
            "select run_id, logical_date, decision from ops.publication_log where publication_id > %s "
            "and run_id <> %s and decision in ('published', 'blocked') order by publication_id desc limit 1",
            (publication_id, run)).fetchone()
        if later is not None:
            raise PublishError(f"a later run has been decided since run {run} was blocked: {later[0]} "
                               f"(data date {later[1]}) was {later[2]}; the candidate is no longer that night's")
        if not schema_exists(conn, candidate):
            raise PublishError(f"candidate schema {candidate!r} does not exist: there is nothing to publish "
                               "(run the night again)")
        published = publish(conn, run, day, candidate, force_reason=reason, decided_by=operator)
    log.warning("%s overrode the block of run %s (data date %s): published %s; reason: %s",
                operator, run, day, published.version_schema, reason)
    return published


def _run_to_override(conn: psycopg.Connection, run_id: str | None,
                     logical_date: date | None) -> tuple[int, str, date, str]:
    """(publication_id, run_id, logical_date, decision) of the run's latest decision."""
    where, params, what = "decision in ('published', 'blocked')", [], "any run"
    if run_id:
        where, what = where + " and run_id = %s", f"run {run_id}"
        params.append(run_id)
    if logical_date:
        where, what = where + " and logical_date = %s", f"{what} with data date {logical_date}"
        params.append(logical_date)
    row = conn.execute(
        f"select publication_id, run_id, logical_date, decision from ops.publication_log where {where} "
        "order by publication_id desc limit 1", params).fetchone()
    if row is None:
        raise PublishError(f"no publication decision is recorded for {what}: nothing to override")
    return row


def block(conn: psycopg.Connection, run_id: str, logical_date: date, failed_checks: list[dict],
          candidate_schema: str | None = None) -> Decision:
    """Record a blocked publication. `marts` and `marts_history` are left exactly as they were.

    The candidate keeps the night's changes; the watermarks do not move, so the next
    publication that passes its audit publishes them together with its own.
    """
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
        current = _current(conn)
        if current is None:
            raise PublishError("nothing has been published yet: there is no version to roll back to")
        current_label, current_number = current
        if current_number is None:
            raise PublishError(f"{current_label} was published before marts_history existed; cannot roll back")
        row = conn.execute(
            "select version, version_schema, logical_date, mart_row_counts from ops.publication_log "
            "where decision = 'published' and version < %s order by version desc limit 1",
            (current_number,),
        ).fetchone()
        kept = {r[0] for r in conn.execute(
            "select version from ops.publication_log where decision = 'published' and version is not null "
            "order by version desc limit %s", (keep_versions(),)).fetchall()}
        if row is None or row[0] not in kept:
            raise PublishError(f"no earlier published version is kept (current is {current_label}); cannot roll back")
        version, label, logical_date, counts = row
        state = _state(conn)
        for mart in counts:
            info = state.get(mart)
            if info is None or info["history_from_version"] > version:
                since = version_label(info["history_from_version"]) if info else "a later version"
                raise PublishError(
                    f"cannot roll back to {label}: mart {mart!r} changed its columns or grain at {since}, "
                    "and its history before that is gone")
        for mart in counts:
            columns = [c for c, _ in state[mart]["public_columns"]]
            _point_view(conn, mart, columns, version)
        for stale in set(list_tables(conn, PUBLISHED_SCHEMA)) - set(counts):
            _drop_view(conn, stale)
        grant_published(conn)
        decision = Decision("rolled_back", run_id, logical_date, [], counts, label, version)
        log_decision(conn, decision)
    log.info("rolled back marts from %s to %s", current_label, label)
    return decision


def guard_candidate(candidate: str) -> None:
    if (candidate in (PUBLISHED_SCHEMA, HISTORY_SCHEMA, "ops") or candidate.startswith(VERSION_PREFIX)):
        raise PublishError(f"refusing to use {candidate!r} as the candidate schema")


def reset_candidate(conn: psycopg.Connection, candidate_schema: str | None = None) -> None:
    """Drop the candidate schema so dbt rebuilds every mart (a --full-refresh run).

    A normal night keeps the candidate: its incremental marts are the state dbt builds on.
    The published marts do not depend on it (they read marts_history).
    """
    candidate = candidate_schema or settings().candidate_schema
    guard_candidate(candidate)
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(candidate)))
