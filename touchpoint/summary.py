"""The short report `touchpoint run` prints after each date."""
from __future__ import annotations

import psycopg

from touchpoint.config import settings
from touchpoint.warehouse import redact


def print_summary(url: str, outcome) -> None:
    with psycopg.connect(url) as conn:
        loads = conn.execute(
            "select source, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_suppressed) "
            "from ops.load_manifest where logical_date = %s and is_current and status <> 'failed' "
            "group by source order by source",
            (outcome.data_date,),
        ).fetchall()
        # Files that could not be read and have not been answered by a corrected re-delivery.
        failed_files = conn.execute(
            "select file_path, error from ops.load_manifest where logical_date = %s and status = 'failed' "
            "and superseded_by is null order by source, file_path", (outcome.data_date,)).fetchall()
        checks = conn.execute(
            "select count(*) filter (where status = 'passed'), count(*) filter (where status = 'failed'),"
            " count(*) filter (where status = 'not_run'), count(*) filter (where status = 'warned') "
            "from ops.audit_results where run_id = %s",
            (outcome.run_id,),
        ).fetchone()
        warnings = [r[0] for r in conn.execute(
            "select reason from ops.audit_results where run_id = %s and status = 'warned' and reason is not null"
            " and check_type <> 'anomaly' order by check_type, check_name limit 5", (outcome.run_id,)).fetchall()]
        decision = conn.execute(
            "select decision, version_schema, failed_checks, mart_row_counts from ops.publication_log "
            "where run_id = %s order by publication_id desc limit 1",
            (outcome.run_id,),
        ).fetchone()
        published = conn.execute(
            "select table_name from information_schema.views where table_schema = 'marts' order by 1"
        ).fetchall()
        marts = {name: conn.execute(f'select count(*) from marts."{name}"').fetchone()[0] for (name,) in published}

    print(f"\nRun {outcome.run_id or '-'}: {outcome.state} in {outcome.seconds:.0f}s")
    if getattr(outcome, "stages", None):
        print("Stages (wall seconds, tasks):  " + "  ".join(
            f"{s['stage']} {s['wall_s']:.0f}s/{s['tasks']}" for s in outcome.stages))
    print("Rows loaded per source (read = loaded + quarantined + suppressed):")
    if not loads:
        print("  (no files for this date)")
    for source, files, read, loaded, quarantined, suppressed in loads:
        print(f"  {source:<20} files={files:<3} read={read:<8} loaded={loaded:<8} quarantined={quarantined}"
              + (f" suppressed={suppressed} (erased people)" if suppressed else ""))
    for path, error in failed_files:
        print(f"  FAILED {path}: {error or 'unreadable'}")
    passed, failed, not_run, warned = checks
    print(f"Checks: {passed} passed, {failed} failed, {not_run} did not run, {warned} warned"
          " (sources, anomalies, dbt tests, Great Expectations; see ops.audit_results)")
    if decision:
        kind, version, failed_checks, _ = decision
        print(f"Publication: {kind}" + (f" as {version}" if version else ""))
        blocking = failed_checks or []
        failures = [c for c in blocking if c.get("status", "failed") == "failed"]
        skipped = [c for c in blocking if c.get("status") == "not_run"]
        for check in failures[:8]:
            print(f"  failed: {_reason(check)}")
        if len(failures) > 8:
            print(f"  ... and {len(failures) - 8} more failed checks")
        for check in skipped[:3]:
            print(f"  did not run: {_reason(check)}")
        if len(skipped) > 3:
            print(f"  ... and {len(skipped) - 3} more checks that did not run")
        for reason in warnings:
            print(f"  warning: {reason}")
    else:
        print("Publication: no decision recorded (the run stopped before the audit)")
    print("Published marts (schema marts):")
    for name, count in marts.items():
        print(f"  marts.{name:<28} {count} rows")
    if not marts:
        print("  (nothing published yet)")
    report = settings().local_dir / "reports" / f"{outcome.data_date.isoformat()}.html"
    if report.exists():
        print(f"Run report: {report}")
    print(f"Connect: psql '{redact(url)}'  (full URL: `touchpoint warehouse url`)\n", flush=True)


def _reason(check: dict) -> str:
    return check.get("reason") or f"{check.get('check_type')} {check.get('check_name')} {check.get('object_name')}"
