"""Completeness and freshness of every source, checked before publication.

Each contract (ingestion/<source>.py) declares its delivery expectation: `delivery`
("daily": a file every night; "optional") and `may_be_empty`. Tonight's delivery of a
source blocks publication when it is

- missing (no file in the landing folder of the data date) for a daily source;
- empty where a night is never empty (web analytics always has traffic);
- partly rejected (a file failed to load as a whole);
- implausible in time: more than 1% of its rows dated after the delivery day (a clock a
  year ahead), or its newest event older than `TOUCHPOINT_STALE_DAYS` (a re-sent old file);
- stale by dbt source freshness (the `freshness` of its _sources.yml on `_loaded_at`,
  run by the DAG right after ingestion, results in ops.source_freshness).

Severity is error by default, configurable per source with TOUCHPOINT_SOURCE_SEVERITY
("ad_spend=warn,product_reviews=warn"): a warn-severity source is reported, not blocking.
"""
from __future__ import annotations

import json
import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import psycopg

from ingestion.registry import CONTRACTS

FUTURE_TOLERANCE_DAYS = 1   # a row dated the day after the delivery is clock skew, not a fault
FUTURE_SHARE_LIMIT = 0.01   # above 1% of the night's rows dated in the future: the night is wrong


def source_severities() -> dict[str, str]:
    """Per-source severity from TOUCHPOINT_SOURCE_SEVERITY, error by default."""
    severities = {name: "error" for name in CONTRACTS}
    text = os.environ.get("TOUCHPOINT_SOURCE_SEVERITY", "").strip()
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, level = item.partition("=")
        name, level = name.strip(), level.strip().lower()
        if name not in CONTRACTS or level not in ("error", "warn"):
            raise ValueError(f"TOUCHPOINT_SOURCE_SEVERITY: {item!r} is not <source>=error|warn with a known source")
        severities[name] = level
    return severities


def stale_days() -> int:
    return int(os.environ.get("TOUCHPOINT_STALE_DAYS", "7"))


def _check(name: str, source: str, ok: bool, severity: str, reason: str, **details) -> dict:
    status = "passed" if ok else ("failed" if severity == "error" else "warned")
    return {"check_type": "source", "check_name": name, "object_name": source, "passed": status != "failed",
            "status": status, "severity": severity, "reason": None if ok else reason, "details": details}


def delivery_checks(conn: psycopg.Connection, day: date) -> list[dict]:
    """Tonight's delivery of every source against its contract's expectation."""
    severities = source_severities()
    manifest = {row[0]: row[1:] for row in conn.execute(
        """
        select source, count(*) filter (where is_current),
            count(*) filter (where status = 'failed' and superseded_by is null),
            coalesce(sum(rows_read) filter (where is_current), 0),
            coalesce(sum(rows_loaded) filter (where is_current), 0),
            string_agg(error, '; ') filter (where status = 'failed' and superseded_by is null)
        from ops.load_manifest where logical_date = %s group by source
        """, (day,)).fetchall()}
    profiles = {row[0]: row[1:] for row in conn.execute(
        """
        select profiles.source, coalesce(sum(profiles.row_count), 0),
            coalesce(sum(profiles.row_count) filter (where profiles.event_date > %(future)s), 0),
            max(profiles.event_date), max(profiles.max_event_at)
        from ops.delivery_profiles as profiles
        join ops.load_manifest as manifest on manifest.load_id = profiles.load_id and manifest.is_current
        where profiles.logical_date = %(day)s
        group by profiles.source
        """, {"day": day, "future": day + timedelta(days=FUTURE_TOLERANCE_DAYS)}).fetchall()}
    # Rows the loader quarantined for a date beyond its plausibility window (ingestion/
    # plausibility.py) are dated in the future too: a clock a year ahead is still named here.
    quarantined_future = dict(conn.execute(
        """
        select quarantine.source, count(*)
        from raw.quarantine as quarantine
        join ops.load_manifest as manifest on manifest.load_id = quarantine.load_id and manifest.is_current
        where quarantine.logical_date = %s and quarantine.reason ~ '^implausible_(timestamp|date): .* \\(after '
        group by quarantine.source
        """, (day,)).fetchall()) if _has_quarantine(conn) else {}
    checks = []
    for source, contract in CONTRACTS.items():
        severity = severities[source]
        files, failed, rows_read, rows_loaded, errors = manifest.get(source, (0, 0, 0, 0, None))
        rows_read, rows_loaded = int(rows_read), int(rows_loaded)
        expected = contract.delivery == "daily"
        checks.append(_check(
            "delivered", source, files > 0 or failed > 0 or not expected, severity,
            f"{source}: no delivery for {day} (expected every day; nothing in the landing folder"
            f" {source}/{day})", files=files))
        checks.append(_check(
            "loaded_without_errors", source, failed == 0, severity,
            f"{source}: {failed} file(s) of {day} were rejected and not loaded: {(errors or '')[:300]}",
            failed_files=failed))
        if files == 0:
            continue
        checks.append(_check(
            "not_empty", source, rows_read > 0 or contract.may_be_empty, severity,
            f"{source}: the {day} delivery is empty ({files} file(s), 0 rows) and this source is never empty",
            rows_read=rows_read))
        checks.append(_check(
            "rows_loaded", source, rows_read == 0 or rows_loaded > 0, severity,
            f"{source}: none of the {rows_read} rows of {day} could be loaded (all quarantined)",
            rows_read=rows_read, rows_loaded=rows_loaded))
        profiled, future, newest_day, newest_at = profiles.get(source, (0, 0, None, None))
        implausible = int(quarantined_future.get(source, 0))
        profiled, future = int(profiled) + implausible, int(future) + implausible  # Decimal sums: JSON-able
        share = future / profiled if profiled else 0.0
        latest = f" (latest {newest_at:%Y-%m-%d %H:%M} UTC)" if newest_at and newest_at.date() > day else ""
        checks.append(_check(
            "no_future_events", source, share <= FUTURE_SHARE_LIMIT, severity,
            f"{source}: {future} of {profiled} rows of the {day} delivery are dated after {day}{latest}"
            f"{f', {implausible} of them quarantined as implausible' if implausible else ''};"
            " timestamps this far ahead are wrong", future_rows=future, rows=profiled))
        oldest_allowed = day - timedelta(days=stale_days())
        checks.append(_check(
            "recent_events", source, newest_day is None or newest_day >= oldest_allowed, severity,
            f"{source}: the newest event in the {day} delivery is from {newest_day}, more than"
            f" {stale_days()} days before it: a stale or re-sent old file", newest_event_date=str(newest_day)))
    return checks


def freshness_checks(conn: psycopg.Connection, run_id: str) -> list[dict]:
    """dbt source freshness of the run (ops.source_freshness) as audit checks."""
    severities = source_severities()
    rows = conn.execute(
        "select source, status, max_loaded_at, age_seconds, error_after from ops.source_freshness where run_id = %s",
        (run_id,)).fetchall()
    seen = {row[0]: row for row in rows}
    checks = []
    for source in CONTRACTS:
        if source not in seen:
            checks.append({"check_type": "source", "check_name": "freshness", "object_name": source,
                           "passed": False, "status": "not_run", "severity": severities[source],
                           "reason": f"{source}: dbt source freshness did not run for this night", "details": {}})
            continue
        _, status, max_loaded_at, age, error_after = seen[source]
        hours = f"{age / 3600:.0f} h" if age is not None else "?"
        if status == "pass":
            checks.append(_check("freshness", source, True, severities[source], ""))
        elif status == "warn":
            checks.append(_check("freshness", source, False, "warn",
                                 f"{source}: last load {hours} ago (dbt source freshness warns)"))
        elif status == "error" and (max_loaded_at is None or (age or 0) > 10 * 365 * 86400):
            checks.append(_check("freshness", source, False, severities[source],
                                 f"{source}: no delivery has ever been loaded"))
        elif status == "error":
            checks.append(_check("freshness", source, False, severities[source],
                                 f"{source}: stale, last load {hours} ago, beyond the {error_after} limit"
                                 f" of dbt source freshness"))
        else:
            checks.append({"check_type": "source", "check_name": "freshness", "object_name": source,
                           "passed": False, "status": "not_run", "severity": severities[source],
                           "reason": f"{source}: dbt source freshness could not run ({status})", "details": {}})
    return checks


def _has_quarantine(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('raw.quarantine')").fetchone()[0] is not None


def _period_text(criteria: dict | None) -> str | None:
    if not criteria or criteria.get("count") is None:
        return None
    return f"{criteria['count']} {criteria['period']}s"


def run_source_freshness(url: str, run_id: str, day: date) -> list[dict]:
    """`dbt source freshness` for every source; results into ops.source_freshness."""
    from touchpoint.config import settings
    from touchpoint.dbt import run_dbt, target_dir

    # Its own target folder: the shared one holds the manifest Cosmos renders from. The
    # partial parse is copied in so dbt does not re-parse the whole project.
    target = settings().local_dir / "dbt-freshness"
    target.mkdir(parents=True, exist_ok=True)
    parsed = target_dir() / "partial_parse.msgpack"
    if parsed.exists():
        shutil.copy2(parsed, target / "partial_parse.msgpack")
    output = target / "sources.json"
    output.unlink(missing_ok=True)
    run_dbt(["source", "freshness", "--profile", "touchpoint", "--target", settings().dbt_target,
             "--target-path", str(target), "--output", str(output)], url=url, check=False)
    results = json.loads(output.read_text())["results"] if output.exists() else []
    rows = []
    for result in results:
        source = result["unique_id"].split(".")[-1]
        criteria = result.get("criteria") or {}
        rows.append((run_id, day, source, result.get("status"), result.get("max_loaded_at"),
                     result.get("snapshotted_at"), result.get("max_loaded_at_time_ago_in_s"),
                     _period_text(criteria.get("warn_after")), _period_text(criteria.get("error_after"))))
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("delete from ops.source_freshness where run_id = %s", (run_id,))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.source_freshness (run_id, logical_date, source, status, max_loaded_at,"
                " snapshotted_at, age_seconds, warn_after, error_after) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows)
    return [{"source": r[2], "status": r[3]} for r in rows]
