"""Write-audit-publish: publication, blocking and rollback of the marts.

Layout. dbt keeps the current state of every mart, incrementally, in the candidate
schema (`marts_candidate`), which persists between nights. The contract with the mart
models: each mart table has one unique index, its grain, and a column
`_changed_at timestamptz`, when dbt last (re)wrote the row. Columns whose name starts
with `_` are internal and never published.

Published row versions live in `marts_history.<mart>` (restricted, like staging): the
public columns plus `_valid_from_version` / `_valid_to_version`, the publication
version numbers a row version is visible from (inclusive) and until (exclusive; null =
still current). The served version is one row, `marts_history.served_version`. BI
reads only the views in `marts`, each

    select <public columns> from marts_history.<mart> as history
    where history._valid_from_version <= (served version)
      and (history._valid_to_version is null or history._valid_to_version > (served version))

Publishing version N, per mart, under the publish advisory lock: the candidate rows
with `_changed_at` past the mart's last published watermark whose public columns
differ from the current history row close that row (valid_to = N) and get a new one
(valid_from = N); current keys gone from the candidate (an anti-join on the key) are
closed. Those writes commit first and are invisible (the views show the served
version). Then the swap, one short transaction: the served version becomes N and the
decision is logged. Moving the served version is an ordinary row update: no view is
locked, so no BI reader ever waits for a publication or a rollback, and a BI
transaction cannot deadlock with one. Only DDL (a new mart, a rebuilt history, a
retired mart) locks its view, each with a short `lock_timeout` in name order; a
timeout rolls the swap back and retries it (see `_swap`). So a night writes what
changed, never a copy of the mart. A mart table without `_changed_at` is diffed in full
(correct, but O(size)); one without a unique index is replaced in full (every current
row closed and reinserted).

Why views over a history store rather than renaming schemas: PostgreSQL views bind to
tables by OID, so a view a BI user built on `marts.customer_360` would silently follow
a renamed table to the *old* data. Views in `marts` stay (a changed view is `create or
replace`d, which keeps its OID), so dependants follow the published version, and every
mart swaps in one commit: a query sees all of the previous version or all of the new
one (its statement snapshot reads one served version). A blocked night touches no
history row and no view.

Rollback serves an earlier kept version: by default the newest kept
version of an earlier data date that nobody has rolled back from, or the one named
(`--to`). Retention keeps, for the `TOUCHPOINT_KEEP_VERSIONS` (default 7) most recent
data dates, the newest version of each (a same-date rerun replaces its own night's
version), plus the served one; history rows no kept version sees are deleted. When a
mart's columns or grain change, its history restarts from the candidate at that
version (logged in `history_reset`); a rollback across it is refused.

An operator can override a block (`touchpoint publish --force --reason`, force_publish):
the same publication, logged with `forced`, the reason and `decided_by`.
"""
from __future__ import annotations

import getpass
import json
import logging
import os
import time
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
    """For how many data dates a version is kept (its newest publication); at least 2."""
    value = os.environ.get("TOUCHPOINT_KEEP_VERSIONS", "7")
    try:
        return max(2, int(value))
    except ValueError:
        raise PublishError(f"TOUCHPOINT_KEEP_VERSIONS must be a whole number, not {value!r}") from None


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


SERVED_TABLE = "served_version"
SERVED_DDL = f"""
create table if not exists {HISTORY_SCHEMA}.{SERVED_TABLE} (
    served_id smallint primary key default 1 check (served_id = 1),
    version bigint not null,
    updated_at timestamptz not null default now()
)
"""


def _visible_served() -> sql.Composable:
    """Visible in the served version, read from marts_history.served_version by every view."""
    served = sql.SQL("(select served.version from {} as served)").format(_history(SERVED_TABLE))
    return sql.SQL("history.{vf} <= {served} and (history.{vt} is null or history.{vt} > {served})").format(
        vf=sql.Identifier(VALID_FROM), vt=sql.Identifier(VALID_TO), served=served)


def _serve(conn: psycopg.Connection, version: int) -> None:
    """What every view shows changes here: one row, no lock on any view."""
    conn.execute(SERVED_DDL)
    conn.execute(sql.SQL(
        "insert into {} (version) values ({}) on conflict (served_id) do update "
        "set version = excluded.version, updated_at = now()").format(_history(SERVED_TABLE), sql.Literal(version)))


def _view_is_current(conn: psycopg.Connection, mart: str, columns: list[str], history_table: str) -> bool:
    """The view already reads `history_table` through served_version, with exactly `columns`."""
    view = _qualified(PUBLISHED_SCHEMA, mart)
    if conn.execute("select to_regclass(%s)", (view,)).fetchone()[0] is None:
        return False
    view_columns = [r[0] for r in conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped "
        "order by attnum", (view,)).fetchall()]
    if view_columns != columns:
        return False
    reads = {r[0] for r in conn.execute(
        "select depend.refobjid::regclass::text from pg_rewrite as rule "
        "join pg_depend as depend on depend.classid = 'pg_rewrite'::regclass and depend.objid = rule.oid "
        "where rule.ev_class = %s::regclass and depend.refclassid = 'pg_class'::regclass", (view,)).fetchall()}
    wanted = {conn.execute("select %s::regclass::text", (_qualified(HISTORY_SCHEMA, t),)).fetchone()[0]
              for t in (history_table, SERVED_TABLE)}
    return wanted <= reads


def _point_view(conn: psycopg.Connection, mart: str, columns: list[str], history_table: str | None = None) -> None:
    """`marts.<mart>` = the history of `mart` as of the served version (keeps the view's OID).

    Only a new mart, a new history table or changed columns need DDL (and so the view's
    lock); a night that only moves the served version leaves the view alone.
    """
    table = history_table or mart
    if _view_is_current(conn, mart, columns, table):
        return
    target = sql.SQL("select {} from {} as history where ").format(
        _prefixed("history", columns), _history(table)) + _visible_served()
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

def _fill_rebuild(conn: psycopg.Connection, candidate: str, shape: MartShape, version: int) -> tuple[object, int]:
    """(Re)start a mart's history from the candidate at `version`; returns (watermark, rows).

    The new history is filled beside the old one, in `<mart>__rebuild`, which no reader
    sees; the swap (`_swap_rebuilt`) points the view at it and gives it the mart's name.
    """
    public = [name for name, _ in shape.public_columns]
    new = _history(_rebuild_name(shape.name))
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
    _index_history(conn, _rebuild_name(shape.name), shape)
    conn.execute(sql.SQL("analyze {}").format(new))
    return watermark, rows


def _rebuild_name(mart: str) -> str:
    return f"{mart}__rebuild"


def _swap_rebuilt(conn: psycopg.Connection, mart: str, columns: list[str]) -> None:
    """Serve a rebuilt history: the view reads `<mart>__rebuild`, which then takes the mart's name."""
    staging_name = _rebuild_name(mart)
    _point_view(conn, mart, columns, staging_name)
    conn.execute(sql.SQL("drop table if exists {}").format(_history(mart)))
    conn.execute(sql.SQL("alter table {} rename to {}").format(_history(staging_name), sql.Identifier(mart)))
    conn.execute(sql.SQL("alter index if exists {} rename to {}").format(
        sql.Identifier(HISTORY_SCHEMA, f"{staging_name}__key_version"), sql.Identifier(f"{mart}__key_version")))


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


# --- versions kept, served and rolled back from --------------------------------------------

def kept_versions(conn: psycopg.Connection, keep: int | None = None) -> list[int]:
    """The versions rollback can reach, newest first.

    Per data date only the newest publication counts (a same-date rerun replaces its own
    version), for the `keep` most recent data dates; the served version is kept whatever
    its date. The set only ever loses members (dates and versions only grow), so a
    version retention has pruned never comes back.
    """
    keep = keep_versions() if keep is None else keep
    rows = conn.execute(
        "with newest_per_date as ("
        "  select distinct on (logical_date) logical_date, version from ops.publication_log"
        "  where decision = 'published' and version is not null"
        "  order by logical_date, version desc"
        ") select version from (select version from newest_per_date order by logical_date desc limit %s) as recent",
        (keep,)).fetchall()
    kept = {r[0] for r in rows}
    current = _current(conn)
    if current and current[1] is not None:
        kept.add(current[1])
    return sorted(kept, reverse=True)


def rolled_back_from(conn: psycopg.Connection) -> set[int]:
    """Versions that were served when someone rolled back: never chosen again by rollback."""
    rows = conn.execute(
        "select previous_served from (select decision, lag(version) over (order by publication_id) as previous_served"
        " from ops.publication_log where decision in ('published', 'rolled_back') and version is not null) as served"
        " where decision = 'rolled_back' and previous_served is not null").fetchall()
    return {r[0] for r in rows}


@dataclass
class KeptVersion:
    version: int
    label: str
    logical_date: date
    run_id: str
    published_at: object
    forced: bool
    is_served: bool
    was_rolled_back_from: bool


def list_versions(conn: psycopg.Connection) -> list[KeptVersion]:
    """The kept versions, newest first, with what `touchpoint versions` shows."""
    kept = kept_versions(conn)
    if not kept:
        return []
    current = _current(conn)
    served = current[1] if current else None
    bad = rolled_back_from(conn)
    rows = conn.execute(
        "select version, version_schema, logical_date, run_id, decided_at, forced from ops.publication_log "
        "where decision = 'published' and version = any(%s) order by version desc", (kept,)).fetchall()
    return [KeptVersion(v, label, day, run, at, forced, v == served, v in bad) for v, label, day, run, at, forced in rows]


def _apply_retention(conn: psycopg.Connection) -> list[int]:
    """Delete history rows no kept version can see; returns the kept versions.

    A row version [valid_from, valid_to) is visible in version v when valid_from <= v <
    valid_to: it goes when no kept version falls in its interval. Retired marts whose
    retirement every kept version already sees lose their history table.
    """
    kept = kept_versions(conn)
    if not kept:
        return []
    oldest = min(kept)
    vf, vt = sql.Identifier(VALID_FROM), sql.Identifier(VALID_TO)
    for mart, info in _state(conn).items():
        if info["retired_at_version"] is not None and info["retired_at_version"] <= oldest:
            conn.execute(sql.SQL("drop table if exists {}").format(_history(mart)))
            conn.execute("delete from ops.mart_publication_state where mart = %s", (mart,))
            continue
        conn.execute(sql.SQL(
            "delete from {history} where {vt} is not null "
            "and not exists (select from unnest({kept}::bigint[]) as kept(version) "
            "where kept.version >= {vf} and kept.version < {vt})"
        ).format(history=_history(mart), vt=vt, vf=vf, kept=sql.Literal(kept)))
    # Version schemas of the rename-based layout (before marts_history) are not served any more.
    for (name,) in conn.execute("select nspname from pg_namespace where nspname ~ %s",
                                (f"^{VERSION_PREFIX}[0-9]+$",)).fetchall():
        conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(name)))
    return kept


# --- the swap: what BI sees changes here, and only here -------------------------------------

def lock_timeout_ms(conn: psycopg.Connection) -> int:
    """How long the swap waits for one view's lock: TOUCHPOINT_SWAP_LOCK_TIMEOUT_MS (default 500),
    capped below half the server's deadlock_timeout so that the swap, not a BI session,
    is the one that gives way when the two wait for each other."""
    wanted = int(os.environ.get("TOUCHPOINT_SWAP_LOCK_TIMEOUT_MS", "500"))
    deadlock_ms = conn.execute("select setting::int from pg_settings where name = 'deadlock_timeout'").fetchone()[0]
    return max(10, min(wanted, deadlock_ms // 2))


def swap_attempts() -> int:
    return max(1, int(os.environ.get("TOUCHPOINT_SWAP_ATTEMPTS", "8")))


def _lock_holders(conn: psycopg.Connection) -> str:
    """Who holds locks on the published views now: for the error when the swap gives up."""
    rows = conn.execute(
        "select distinct activity.pid, activity.usename, coalesce(nullif(activity.application_name, ''), '-'),"
        " activity.state, now() - activity.xact_start "
        "from pg_locks as locks join pg_class as relation on relation.oid = locks.relation "
        "join pg_stat_activity as activity on activity.pid = locks.pid "
        "where relation.relnamespace = %s::regnamespace and locks.granted and locks.pid <> pg_backend_pid() "
        "order by 1", (PUBLISHED_SCHEMA,)).fetchall()
    if not rows:
        return "no session holds one now"
    return "; ".join(f"pid {pid} ({user}, {app}, {state}, transaction open {age})" for pid, user, app, state, age in rows)


def _swap(conn: psycopg.Connection, apply, what: str) -> None:
    """Run `apply(conn)` (served version, any view DDL, the decision's log row) in one short transaction.

    Normally it locks no view at all (see _point_view). When a view needs DDL, its lock
    is waited for at most lock_timeout, views in name order: a long BI query on one view
    delays the swap, never the readers of the others for longer than that timeout, and
    a BI transaction that holds one view while asking for another does not deadlock
    with the swap. On a timeout the whole swap rolls back (BI keeps the version it had)
    and is retried with a growing pause; after the last attempt, PublishError names the
    sessions in the way.
    """
    timeout = lock_timeout_ms(conn)
    attempts = swap_attempts()
    pause = 0.5
    for attempt in range(1, attempts + 1):
        try:
            with conn.transaction():
                _lock(conn)
                conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(f"{timeout}ms")))
                apply(conn)
            return
        except psycopg.errors.LockNotAvailable:
            if attempt == attempts:
                raise PublishError(
                    f"{what}: gave up after {attempts} attempts, each waiting at most {timeout} ms for a view "
                    f"that a reader holds; marts still serve the previous version. Sessions holding marts views: "
                    f"{_lock_holders(conn)}") from None
            log.info("%s: a reader holds a view; retrying in %.1f s (attempt %d of %d)", what, pause, attempt, attempts)
            time.sleep(pause)
            pause = min(pause * 2, 4.0)


def publish(conn: psycopg.Connection, run_id: str, logical_date: date, candidate_schema: str | None = None,
            *, force_reason: str | None = None, decided_by: str | None = None) -> Decision:
    """Publish the audited candidate as a new version; log the decision.

    Three steps. (1) Under the publish lock, write the night's history rows at the new
    version (invisible: every view still filters on the version it serves). (2) The
    swap: repoint every view at the new version and log the decision, one short
    transaction, retried on lock timeouts (`_swap`). (3) Retention. If the swap gives up,
    the history rows stay unserved and the next publication serves them.
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
        counts, written, reset, rebuilt, columns = {}, {}, [], {}, {}
        for mart in marts:
            shape = mart_shape(conn, candidate, mart)
            columns[mart] = [c for c, _ in shape.public_columns]
            known = state.get(mart)
            same_shape = (known is not None and known["retired_at_version"] is None
                          and known["public_columns"] == shape.columns_json()
                          and list(known["key_columns"]) == shape.key_columns)
            if same_shape:
                watermark, written[mart], counts[mart] = _publish_changes(conn, candidate, shape, known, version)
                _save_state(conn, shape, watermark, counts[mart], known["history_from_version"], version)
            else:
                # Its state is saved by the swap, which is when the rebuilt table becomes its history.
                watermark, written[mart] = _fill_rebuild(conn, candidate, shape, version)
                counts[mart] = written[mart]
                rebuilt[mart] = (shape, watermark)
                if known is not None:
                    reset.append(mart)
    decision = Decision("published", run_id, logical_date, [], counts, version_label(version), version,
                        sorted(reset), written, forced=force_reason is not None,
                        force_reason=force_reason, decided_by=decided_by)

    def apply(conn: psycopg.Connection) -> None:
        conn.execute(SERVED_DDL)
        for mart in sorted(marts):  # name order: the lock order every swap shares
            if mart in rebuilt:
                shape, watermark = rebuilt[mart]
                _swap_rebuilt(conn, mart, columns[mart])
                _save_state(conn, shape, watermark, counts[mart], version, version)
            else:
                _point_view(conn, mart, columns[mart])
        _serve(conn, version)
        for mart, info in _state(conn).items():
            if mart not in marts and info["retired_at_version"] is None:
                _retire(conn, mart, version)
        for stale in sorted(set(list_tables(conn, PUBLISHED_SCHEMA)) - set(marts)):
            _drop_view(conn, stale)
        grant_published(conn)
        log_decision(conn, decision)

    _swap(conn, apply, f"publishing {decision.version_schema}")
    with conn.transaction():
        _lock(conn)
        kept = _apply_retention(conn)
    log.info("published %s (rows %s, history rows written %s, history reset %s); kept versions %s",
             decision.version_schema, counts, written, reset, kept)
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
    # The CLI holds the run lock (touchpoint.runlock), so no night decides in between.
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


def parse_version(text: str) -> int:
    """`42`, `marts_v000042` -> 42."""
    value = text.strip().removeprefix(VERSION_PREFIX)
    if not value.isdigit():
        raise PublishError(f"{text!r} is not a version: give its number (42) or label ({version_label(42)}); "
                           "`touchpoint versions` lists them")
    return int(value)


def _rollback_target(conn: psycopg.Connection, current_label: str, current_number: int,
                     to: int | None) -> tuple[int, str, date, dict]:
    kept = kept_versions(conn)
    if to is not None:
        if to == current_number:
            raise PublishError(f"{version_label(to)} is the version marts serve now: nothing to do")
        if to not in kept:
            raise PublishError(f"{version_label(to)} is not a kept version (kept: "
                               f"{', '.join(version_label(v) for v in kept) or 'none'}); see `touchpoint versions`")
        return conn.execute(
            "select version, version_schema, logical_date, mart_row_counts from ops.publication_log "
            "where decision = 'published' and version = %s", (to,)).fetchone()
    # The version before the served one by data date: the newest kept publication of an
    # earlier data date that nobody has already rolled back from.
    served_date = conn.execute("select logical_date from ops.publication_log where decision = 'published' "
                               "and version = %s", (current_number,)).fetchone()
    avoid = rolled_back_from(conn) | {current_number}
    row = conn.execute(
        "select version, version_schema, logical_date, mart_row_counts from ops.publication_log "
        "where decision = 'published' and version = any(%s) and not (version = any(%s)) and logical_date < %s "
        "order by logical_date desc, version desc limit 1",
        (kept, sorted(avoid), served_date[0] if served_date else date.max)).fetchone()
    if row is None:
        raise PublishError(
            f"nothing to roll back to: marts serve {current_label}"
            f"{f' (data date {served_date[0]})' if served_date else ''} and no kept version of an earlier data "
            "date remains that has not been rolled back from already. `touchpoint versions` lists the kept "
            "versions; `touchpoint rollback --to <version>` serves one of them")
    return row


def rollback(conn: psycopg.Connection, run_id: str = "manual_rollback", to: int | str | None = None) -> Decision:
    """Serve the version published before the one now served (by data date), or version `to`."""
    target = parse_version(str(to)) if to is not None else None
    with conn.transaction():
        _lock(conn)
        current = _current(conn)
        if current is None:
            raise PublishError("nothing has been published yet: there is no version to roll back to")
        current_label, current_number = current
        if current_number is None:
            raise PublishError(f"{current_label} was published before marts_history existed; cannot roll back")
        version, label, logical_date, counts = _rollback_target(conn, current_label, current_number, target)
        state = _state(conn)
        for mart in counts:
            info = state.get(mart)
            if info is None or info["history_from_version"] > version:
                since = version_label(info["history_from_version"]) if info else "a later version"
                raise PublishError(
                    f"cannot roll back to {label}: mart {mart!r} changed its columns or grain at {since}, "
                    "and its history before that is gone")
    decision = Decision("rolled_back", run_id, logical_date, [], counts, label, version)

    def apply(conn: psycopg.Connection) -> None:
        if _current(conn) != current:
            raise PublishError(f"marts changed version while rolling back (now {current_version(conn)}); run it again")
        conn.execute(SERVED_DDL)
        for mart in sorted(counts):
            _point_view(conn, mart, [c for c, _ in state[mart]["public_columns"]])
        _serve(conn, version)
        for stale in sorted(set(list_tables(conn, PUBLISHED_SCHEMA)) - set(counts)):
            _drop_view(conn, stale)
        grant_published(conn)
        log_decision(conn, decision)

    _swap(conn, apply, f"rolling back to {label}")
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
