"""Sanity bounds every candidate mart must respect before publication (issue 11).

Type checks let absurd values through: a `last_seen_at` of 9999-12-31, a
`first_seen_at` in 1899, a 5 MB name. The loader quarantines such values at the door
(the contracts' plausibility bounds); this is the second line, on what BI would see:

- every date/timestamp column of a mart lies in the warehouse's data range, from
  `TOUCHPOINT_DATA_EPOCH` (default 2000-01-01) to the data date (or today, if later:
  processing times such as a merge's `merged_at` are today's on a backfill) plus
  `TOUCHPOINT_FUTURE_TOLERANCE_DAYS` (default 2), the loader's own window, unless
  `expectations/mart_bounds.yml` names
  the column as one that may lie in the future (an expiry date, a prediction);
- every text column is at most `text_max_length` characters (default 2,000; per column
  in the same file).

Only the rows dbt wrote since the mart's last publication (`_changed_at` past its
watermark) are checked: the rest were checked when they were published, so a night's
cost follows the night's changes. A mart without `_changed_at` is checked in full.
Failures block publication like any error-severity check.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from touchpoint.config import REPO_ROOT

TEMPORAL_TYPES = ("date", "timestamp without time zone", "timestamp with time zone")
TEXT_TYPES = ("text", "character varying", "character")
DEFAULT_TEXT_MAX = 2000


def bounds_file() -> Path:
    value = os.environ.get("TOUCHPOINT_MART_BOUNDS")
    return Path(value) if value else REPO_ROOT / "expectations" / "mart_bounds.yml"


def load_bounds(path: Path | None = None) -> dict:
    """{'text_max_length': int, 'text_columns': {'mart.column': n}, 'future_columns': {'mart.column', ...}}"""
    path = path or bounds_file()
    spec = yaml.safe_load(path.read_text()) if path.exists() else None
    spec = spec or {}
    text = spec.get("text_max_length") or {}
    return {
        "text_max_length": int(text.get("default", DEFAULT_TEXT_MAX)),
        "text_columns": {str(k): int(v) for k, v in (text.get("columns") or {}).items()},
        "future_columns": set(spec.get("future_columns") or []),
    }


def data_range(logical_date: date) -> tuple[date, date]:
    """(first, last) plausible date: the loader's own window (ingestion/plausibility.py),
    so a value the loader would have let in never blocks a mart, and vice versa."""
    from ingestion.plausibility import data_epoch, future_tolerance_days

    # Processing times (a merge's merged_at, a row's updated_at) are today's, even on a
    # backfill of an older data date: the later of the two bounds the range.
    latest = max(logical_date, datetime.now(timezone.utc).date())
    try:
        return data_epoch(), latest + timedelta(days=future_tolerance_days())
    except SystemExit as exc:  # its CLI-style error: a setting error here, not an exit
        raise ValueError(str(exc)) from None


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select column_name, data_type from information_schema.columns where table_schema = %s "
        "and table_name = %s order by ordinal_position", (schema, table)).fetchall()


def _changed_filter(conn: psycopg.Connection, schema: str, table: str, names: set[str]) -> sql.Composable:
    """Rows written since the mart's last publication (all rows if that is unknown)."""
    if "_changed_at" not in names:
        return sql.SQL("true")
    watermark = None
    if conn.execute("select to_regclass('ops.mart_publication_state')").fetchone()[0]:
        row = conn.execute("select changed_at_watermark from ops.mart_publication_state where mart = %s "
                           "and retired_at_version is null", (table,)).fetchone()
        watermark = row[0] if row else None
    if watermark is None:
        return sql.SQL("true")
    return sql.SQL("{} > {}").format(sql.Identifier("_changed_at"), sql.Literal(watermark))


def _check(name: str, obj: str, bad: int, reason: str, details: dict) -> dict:
    ok = bad == 0
    return {"check_type": "sanity", "check_name": name, "object_name": obj, "passed": ok,
            "status": "passed" if ok else "failed", "severity": "error",
            "reason": None if ok else reason, "details": {**details, "rows_outside": bad}}


def mart_checks(conn: psycopg.Connection, schema: str, marts: list[str], logical_date: date,
                bounds: dict | None = None) -> list[dict]:
    """One check per bounded column of each mart: its changed rows within the bounds."""
    bounds = bounds or load_bounds()
    low, last = data_range(logical_date)
    high = last + timedelta(days=1)  # exclusive: the whole last day counts
    checks = []
    for table in marts:
        columns = [(n, t) for n, t in _columns(conn, schema, table) if not n.startswith("_")]
        temporal = [n for n, t in columns if t in TEMPORAL_TYPES]
        text = [n for n, t in columns if t in TEXT_TYPES]
        if not temporal and not text:
            continue
        changed = _changed_filter(conn, schema, table, {n for n, _ in _columns(conn, schema, table)})
        counts, labels = [], []
        for column in temporal:
            future_ok = f"{table}.{column}" in bounds["future_columns"]
            upper = sql.SQL("") if future_ok else sql.SQL(" or {} >= {}").format(
                sql.Identifier(column), sql.Literal(high))
            counts.append(sql.SQL("count(*) filter (where {} < {}{})").format(
                sql.Identifier(column), sql.Literal(low), upper))
            labels.append(("timestamp_in_range", column, future_ok))
        for column in text:
            limit = bounds["text_columns"].get(f"{table}.{column}", bounds["text_max_length"])
            counts.append(sql.SQL("count(*) filter (where length({}) > {})").format(
                sql.Identifier(column), sql.Literal(limit)))
            labels.append(("text_within_bound", column, limit))
        query = sql.SQL("select {} from {} where {}").format(
            sql.SQL(", ").join(counts), sql.Identifier(schema, table), changed)
        values = conn.execute(query).fetchone()
        for (name, column, extra), bad in zip(labels, values):
            obj = f"{table}.{column}"
            if name == "timestamp_in_range":
                span = f"from {low}" + ("" if extra else f" to {high - timedelta(days=1)}")
                checks.append(_check(name, obj, bad, f"mart {obj}: {bad} row(s) outside the data range ({span})",
                                     {"from": str(low), "to": None if extra else str(high - timedelta(days=1))}))
            else:
                checks.append(_check(name, obj, bad, f"mart {obj}: {bad} row(s) longer than {extra} characters",
                                     {"max_length": extra}))
    return checks
