"""The nightly pipeline's steps as plain functions: the DAG wires them, tests call them.

Each takes explicit arguments (the data date, the run id) and resolves the warehouse
itself, so a step runs the same from Airflow, from `touchpoint run` or from a test.
"""
from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from touchpoint import warehouse
from touchpoint.bootstrap import ensure_warehouse

log = logging.getLogger(__name__)

BUSINESS_TZ = ZoneInfo("Asia/Seoul")


class PublicationBlocked(RuntimeError):
    """The audit failed: the marts were not published."""


def data_date_for(conf: dict | None, data_interval_start: datetime | None, logical_date: datetime | None) -> date:
    """The delivery date a run processes.

    An explicit `data_date` in the run conf wins (touchpoint run, manual backfills);
    otherwise it is the Seoul calendar day the data interval starts in: the 02:00 KST
    run on 2 Nov covers the interval that starts 1 Nov and loads the 1 Nov delivery.
    """
    if conf and conf.get("data_date"):
        return date.fromisoformat(str(conf["data_date"]))
    anchor = data_interval_start or (logical_date - timedelta(days=1) if logical_date else None)
    if anchor is None:
        raise ValueError("cannot tell which data date to process: no data_date in conf and no data interval")
    return anchor.astimezone(BUSINESS_TZ).date()


# Under a scheduler, a task of the candidate or publish stages waits this long for another
# run to finish with the warehouse (TOUCHPOINT_RUN_LOCK_WAIT overrides), then fails.
TASK_LOCK_WAIT_SECONDS = 1800


@contextmanager
def night_lock(run_id: str, step: str) -> Iterator[bool]:
    """The warehouse's run lock for one step of night `run_id` (touchpoint/runlock.py).

    Yields True when this step took the lock itself (a scheduled task), False when a
    parent holds it for the whole night (`touchpoint run`).
    """
    from touchpoint.runlock import WAIT_ENV, exclusive_run

    wait = None if os.environ.get(WAIT_ENV) else TASK_LOCK_WAIT_SECONDS
    with exclusive_run(warehouse.url(), f"DAG run {run_id}: {step}", wait_seconds=wait, run_id=run_id) as holder:
        yield holder is not None


def release_night_lease(context: dict) -> None:
    """DAG on_failure_callback: a failed night frees the warehouse for the next run."""
    from touchpoint.runlock import release_lease

    try:
        with _connect() as conn:
            release_lease(conn, context.get("run_id") or "")
    except Exception:  # noqa: BLE001 - a callback must never raise
        log.exception("could not release the run lease of %s", context.get("run_id"))


def _connect() -> psycopg.Connection:
    return psycopg.connect(warehouse.url(), autocommit=True)


def bootstrap() -> None:
    with _connect() as conn:
        ensure_warehouse(conn)


def ingest_source(source: str, data_date: date) -> dict[str, int]:
    """Load one source's delivery for the date into raw; returns reconciled counts."""
    from ingestion.loader import ingest

    bootstrap()
    results = ingest(data_date, sources=[source])
    totals = {
        "files": len(results),
        "rows_read": sum(r.rows_read for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
    }
    log.info("%s %s: %s", source, data_date, totals)
    return totals


def prepare_candidate(run_id: str, full_refresh: bool = False) -> None:
    """Ready the candidate schema for the transform and clear this run's dbt results.

    The candidate persists between nights: its incremental marts are the state dbt
    builds on, and publication diffs them into marts_history (touchpoint/publish.py).
    Only a full refresh drops it, so dbt rebuilds every mart from scratch; the next
    publication then writes only the rows whose published columns differ.

    Clearing the run's earlier dbt results matters when a whole run is re-executed: a
    stale pass must never stand in for a test that did not run this time.
    """
    from touchpoint.config import settings
    from touchpoint.publish import guard_candidate, reset_candidate

    from touchpoint.runlock import take_lease

    candidate = settings().candidate_schema
    with night_lock(run_id, "prepare_candidate") as scheduled, _connect() as conn:
        ensure_warehouse(conn)
        if scheduled:
            # The lock ends with this task; the lease keeps other runs out until the night is decided.
            take_lease(conn, run_id, f"DAG run {run_id}")
        if full_refresh:
            reset_candidate(conn, candidate)
        else:
            guard_candidate(candidate)
        if conn.execute("select to_regclass('ops.dbt_results')").fetchone()[0]:
            conn.execute("delete from ops.dbt_results where run_key = %s", (run_id,))


def resolve_identities(full: bool = False, run_id: str | None = None) -> dict[str, Any]:
    """Fold the night's new identifier edges into stable customer ids (identity schema).

    `full` (a full-refresh run) re-resolves every edge from scratch instead.
    """
    from touchpoint.identity.resolve import resolve

    with night_lock(run_id or "manual", "resolve_identities"):
        stats = resolve(warehouse.url(), full=full)
    log.info("identity resolution: %s", {k: v for k, v in stats.items() if k != "timings"})
    return {k: v for k, v in stats.items() if isinstance(v, (int, float, str, type(None)))}


def audit_and_decide(run_id: str, data_date: date) -> int:
    """Run every check; on any failure log `blocked` and raise so the DAG run fails."""
    with night_lock(run_id, "audit"):
        return _audit_and_decide(run_id, data_date)


def _audit_and_decide(run_id: str, data_date: date) -> int:
    from touchpoint.audit import audit
    from touchpoint.publish import block
    from touchpoint.runlock import release_lease

    url = warehouse.url()
    try:
        blocking = audit(url, run_id, data_date)
    except Exception as exc:
        # An audit that cannot finish proves nothing: the night is blocked, and says why.
        blocking = [{"check_type": "audit", "check_name": "audit", "object_name": None, "passed": False,
                     "status": "not_run", "severity": "error",
                     "reason": f"the audit itself failed ({type(exc).__name__}: {str(exc)[:300]}); nothing was"
                               " published", "details": {}}]
        log.exception("the audit of %s failed", run_id)
    if blocking:
        with psycopg.connect(url, autocommit=True) as conn:
            block(conn, run_id, data_date, blocking)
            release_lease(conn, run_id)  # the night is decided
        _report_quietly(run_id, data_date)
        raise PublicationBlocked(verdict_text(blocking))
    return 0


def _report_quietly(run_id: str, data_date: date) -> None:
    """Write the night's report where the decision is taken: a blocked night needs it most.

    (Not a task of its own: a leaf task that succeeds after a blocked audit would turn the
    failed run into a successful one.) A reporting problem is logged, never decisive.
    """
    try:
        write_report(run_id, data_date)
    except Exception:  # noqa: BLE001 - the decision stands whatever the report does
        log.exception("could not write the run report for %s", data_date)


def verdict_text(blocking: list[dict], top: int = 5) -> str:
    """One message naming the top reasons: failed checks first, then what did not run."""
    failed = [c for c in blocking if c.get("status", "failed") == "failed"]
    not_run = [c for c in blocking if c.get("status") == "not_run"]
    reasons = [check.get("reason") or f"{check['check_type']} {check['check_name']} {check['object_name']}"
               for check in (failed or not_run)[:top]]
    tasks = sorted({(check.get("details") or {}).get("blocked_by_task") for check in not_run} - {None})
    because = f" because task {', '.join(tasks)} failed" if tasks else ""
    # One line: log excerpts and alert previews keep a message's first line only.
    return (f"publication blocked: {len(failed)} check(s) failed, {len(not_run)} did not run{because}: "
            + " | ".join(reasons))


def check_source_freshness(run_id: str, data_date: date) -> list[dict]:
    """dbt source freshness of every source into ops.source_freshness (the audit judges it)."""
    from touchpoint.source_checks import run_source_freshness

    results = run_source_freshness(warehouse.url(), run_id, data_date)
    log.info("source freshness: %s", {r["source"]: r["status"] for r in results})
    return results


def publish_marts(run_id: str, data_date: date) -> dict[str, Any]:
    from touchpoint.publish import publish
    from touchpoint.runlock import release_lease

    with night_lock(run_id, "publish"), _connect() as conn:
        decision = publish(conn, run_id, data_date)
        release_lease(conn, run_id)
    _report_quietly(run_id, data_date)
    return {"version_schema": decision.version_schema, "mart_row_counts": decision.mart_row_counts,
            "history_rows_written": decision.rows_written, "history_reset": decision.history_reset}


def write_report(run_id: str, data_date: date) -> str:
    """Write the night's run report (touchpoint/report.py); returns the file's path.

    A reporting problem raises: the DAG task fails visibly, and its trigger rule keeps it
    from deciding anything about publication (the report only reads ops).
    """
    from touchpoint.report import write_report as write

    path = write(warehouse.url(), data_date, run_id=run_id)
    log.info("run report: %s", path)
    return str(path)


def record_task_failure(context: dict) -> None:
    """Airflow on_failure_callback: keep a row per failed task try in ops.task_failures."""
    ti = context.get("task_instance") or context.get("ti")
    exception = context.get("exception")
    try:
        conf = context["dag_run"].conf if context.get("dag_run") else None
        dd = data_date_for(conf, context.get("data_interval_start"), context.get("logical_date"))
    except Exception:  # noqa: BLE001 - a callback must never raise
        dd = None
    text = "".join(traceback.format_exception_only(type(exception), exception)).strip() if exception else None
    try:
        with _connect() as conn:
            conn.execute(
                "insert into ops.task_failures (dag_id, task_id, run_id, logical_date, try_number, exception)"
                " values (%s, %s, %s, %s, %s, %s)",
                (getattr(ti, "dag_id", None), getattr(ti, "task_id", None), context.get("run_id"), dd,
                 getattr(ti, "try_number", None), (text or "")[:4000]),
            )
    except Exception:  # noqa: BLE001
        log.exception("could not record the task failure in ops.task_failures")
    log.error("task %s failed: %s", getattr(ti, "task_id", "?"), text)
