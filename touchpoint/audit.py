"""The audit stage of write-audit-publish.

Two kinds of checks gate publication, both recorded in ops.audit_results:
- dbt: every model of the project was built in this run and every error-severity test
  (on models and on the raw sources) ran and passed (read from ops.dbt_results, which
  dbt's on-run-end hook fills, keyed by the Airflow run id), so a test that never ran
  counts as a failure, not a pass;
- Great Expectations: one suite per candidate mart, declared in
  expectations/marts/<mart>.yml, validated by a GX checkpoint against the candidate schema;
- source delivery and freshness checks, anomaly checks of the registered metrics, and
  sanity bounds on every mart's dates and texts (touchpoint/mart_sanity.py).
"""
from __future__ import annotations

import json
import logging
import os
from datetime import date
from pathlib import Path

import psycopg
import yaml

from touchpoint.config import REPO_ROOT, settings
from touchpoint.dbt import manifest_path

log = logging.getLogger(__name__)


def expectations_dir() -> Path:
    value = os.environ.get("TOUCHPOINT_EXPECTATIONS_DIR")
    return Path(value) if value else REPO_ROOT / "expectations" / "marts"


def load_suites(directory: Path | None = None) -> dict[str, dict]:
    """{mart table: suite spec} from expectations/marts/*.yml."""
    suites = {}
    for path in sorted((directory or expectations_dir()).glob("*.yml")):
        spec = yaml.safe_load(path.read_text())
        if not isinstance(spec, dict) or "table" not in spec or "expectations" not in spec:
            raise ValueError(f"{path}: an expectation suite needs 'table' and 'expectations' keys")
        spec["path"] = str(path)
        suites[spec["table"]] = spec
    return suites


def _expectation_class(name: str):
    import great_expectations.expectations as gxe

    class_name = "".join(part.title() for part in name.split("_"))
    try:
        return getattr(gxe, class_name)
    except AttributeError:
        raise ValueError(f"unknown Great Expectations expectation {name!r} ({class_name})") from None


def run_gx(url: str, schema: str, suites: dict[str, dict], existing_tables: set[str],
           run_name: str | None = None) -> list[dict]:
    """Validate each suite with a GX checkpoint; return one result dict per expectation.

    The checkpoint also renders the validations as Great Expectations Data Docs under
    data_docs_dir() (linked from `touchpoint report`); each result's details carry
    `data_docs`, the path of its validation page relative to that folder. `run_name`
    (the Airflow run id) names the validations in the Data Docs.
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    results: list[dict] = []
    runnable = {t: s for t, s in suites.items() if t in existing_tables}
    for table in sorted(set(suites) - set(runnable)):
        results.append({"check_type": "gx", "check_name": "table_exists", "object_name": table,
                        "passed": False, "details": {"reason": f"candidate table {schema}.{table} is missing"}})
    if not runnable:
        return results
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir = data_docs_dir()
    context.add_data_docs_site(site_name=DATA_DOCS_SITE, site_config=_data_docs_site_config(docs_dir))
    connection_string = url.replace("postgresql://", "postgresql+psycopg://", 1)
    datasource = context.data_sources.add_postgres("warehouse", connection_string=connection_string)
    definitions = []
    for table, spec in runnable.items():
        asset = datasource.add_table_asset(table, table_name=table, schema_name=schema)
        batch = asset.add_batch_definition_whole_table(f"{table}_whole")
        suite = context.suites.add(gx.ExpectationSuite(name=f"{table}_suite"))
        for item in spec["expectations"]:
            ((name, kwargs),) = item.items()
            suite.add_expectation(_expectation_class(name)(**(kwargs or {})))
        definitions.append(context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{table}_validation", data=batch, suite=suite)))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name="candidate_marts", validation_definitions=definitions))
    outcome = checkpoint.run(run_id=RunIdentifier(run_name=run_name) if run_name else None)
    # One Data Docs build for all validations: UpdateDataDocsAction rebuilds the site once
    # per validation (templates compiled each time, about 3x the work).
    _build_data_docs(context)
    for identifier, validation in outcome.run_results.items():
        table = validation.suite_name.removesuffix("_suite")
        page = _data_docs_page(context, identifier, docs_dir)
        for res in validation.results:
            config = res.expectation_config
            observed = {k: res.result.get(k) for k in ("observed_value", "unexpected_count", "unexpected_percent")
                        if res.result.get(k) is not None}
            if res.exception_info and res.exception_info.get("raised_exception"):
                observed["exception"] = str(res.exception_info.get("exception_message"))[:500]
            if page:
                observed["data_docs"] = page
            results.append({
                "check_type": "gx", "check_name": config.type, "object_name": table, "passed": bool(res.success),
                "details": {"kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"}, **observed},
            })
    return results


# Great Expectations Data Docs: one local filesystem site, rebuilt by every audit. Its
# index lists the latest audit's validations (the context is ephemeral); each night's
# validation pages stay on disk, and ops.audit_results details point at them.
DATA_DOCS_SITE = "touchpoint_audit"


def data_docs_dir() -> Path:
    """Where the audit's Data Docs site is written: <local dir>/reports/gx_data_docs."""
    return settings().local_dir / "reports" / "gx_data_docs"


def _data_docs_site_config(docs_dir: Path) -> dict:
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def _build_data_docs(context) -> None:
    """Render the site; a rendering problem is logged, never a reason to fail the audit."""
    try:
        context.build_data_docs(site_names=[DATA_DOCS_SITE])
    except Exception:  # noqa: BLE001 - Data Docs are a view of the verdicts, not a check
        log.warning("could not build the Great Expectations Data Docs", exc_info=True)


def _data_docs_page(context, identifier, docs_dir: Path) -> str | None:
    """The validation page of `identifier`, relative to the Data Docs folder (None if not built)."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    try:
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DATA_DOCS_SITE)
    except Exception:  # noqa: BLE001 - a missing link must never fail the audit
        log.warning("could not locate the Data Docs page of %s", identifier, exc_info=True)
        return None
    for entry in urls:
        location = entry.get("site_url") or ""
        path = Path(url2pathname(urlsplit(location).path)) if location.startswith("file:") else Path(location)
        if path.is_file():
            try:
                return path.resolve().relative_to(docs_dir.resolve()).as_posix()
            except ValueError:
                return None
    return None


def _manifest_nodes() -> dict:
    path = manifest_path()
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `touchpoint dbt parse` (make does) before auditing")
    return json.loads(path.read_text())["nodes"]


def dbt_checks(conn: psycopg.Connection, run_id: str) -> list[dict]:
    """Failures of dbt models/tests in this run, plus models and error-severity tests that never ran."""
    rows = conn.execute(
        "select unique_id, resource_type, status, severity, failures, message from ops.dbt_results "
        "where run_key = %s order by recorded_at",
        (run_id,),
    ).fetchall() if _table_exists(conn, "ops", "dbt_results") else []
    latest: dict[str, tuple] = {}
    for row in rows:  # a retried task's later result wins
        latest[row[0]] = row
    results: list[dict] = []
    nodes = _manifest_nodes()
    cause = _first_failed_task(conn, run_id)
    for unique_id, rtype, status, severity, failures, message in latest.values():
        warn_only = rtype == "test" and severity and severity.lower() == "warn"
        if status in ("error", "fail"):
            verdict = "warned" if warn_only else "failed"
        elif status == "skipped":
            verdict = "not_run"  # dbt skipped it because something upstream failed
        else:
            verdict = "warned" if status == "warn" else "passed"
        results.append({"check_type": "dbt", "check_name": rtype, "object_name": unique_id,
                        "passed": verdict in ("passed", "warned"), "status": verdict,
                        "severity": (severity or "error").lower() if rtype == "test" else "error",
                        "reason": _dbt_reason(unique_id, rtype, status, failures, message, nodes),
                        "details": {"status": status, "failures": failures, "message": (message or "")[:500]}})
    for unique_id, node in nodes.items():
        if node["resource_type"] not in ("model", "test") or unique_id in latest:
            continue
        # Every error-severity test is expected, the tests on the raw sources included:
        # the first watcher producer's `dbt build` selects the sources with staging.
        if node["resource_type"] == "test" and node["config"].get("severity", "error").lower() != "error":
            continue
        why = (f"because task {cause[0]} failed ({cause[1]})" if cause
               else "(the run stopped before it, or a model it depends on failed)")
        results.append({"check_type": "dbt", "check_name": node["resource_type"], "object_name": unique_id,
                        "passed": False, "status": "not_run", "severity": "error",
                        "reason": f"{_node_label(unique_id)} did not run in this run {why}",
                        "details": {"status": "not run in this run",
                                    **({"blocked_by_task": cause[0]} if cause else {})}})
    return results


def _first_failed_task(conn: psycopg.Connection, run_id: str) -> tuple[str, str] | None:
    """(task id, first line of its error) of the run's first failed task, if any: the
    reason its downstream checks did not run."""
    if not _table_exists(conn, "ops", "task_failures"):
        return None
    row = conn.execute("select task_id, exception from ops.task_failures where run_id = %s "
                       "order by failed_at limit 1", (run_id,)).fetchone()
    if row is None or not row[0]:
        return None
    first_line = (row[1] or "").strip().splitlines()[0][:200] if row[1] else "no message"
    return row[0], first_line


def _node_label(unique_id: str) -> str:
    kind, _, name = unique_id.split(".", 2)
    return f"dbt {kind} {name.split('.')[-1] if kind == 'model' else name.split('.', 1)[-1]}"


def _dbt_reason(unique_id: str, rtype: str, status: str, failures, message, nodes: dict) -> str | None:
    if status in ("success", "pass"):
        return None
    first_line = (message or "").strip().splitlines()[0][:300] if message else ""
    if status == "skipped":
        return f"{_node_label(unique_id)} was skipped: a model it depends on failed"
    if rtype == "model":
        return f"{_node_label(unique_id)} failed to build: {first_line}"
    node = nodes.get(unique_id, {})
    on = ", ".join(dep.split(".")[-1] for dep in node.get("depends_on", {}).get("nodes", [])) or "?"
    if status == "error":
        return f"{_node_label(unique_id)} on {on} could not run: {first_line}"
    return f"{_node_label(unique_id)} on {on} found {failures} failing row(s)"


def _table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0] is not None


def audit(url: str, run_id: str, logical_date: date, candidate_schema: str | None = None) -> list[dict]:
    """Run every check, record them in ops.audit_results, return the blocking ones, top reasons first.

    Blocking: an error-severity check that failed, or one that could not run (a check
    that did not run proves nothing). Warned checks are recorded and reported only.
    """
    from touchpoint import anomaly, mart_sanity, source_checks
    from touchpoint.publish import candidate_marts

    schema = candidate_schema or settings().candidate_schema
    with psycopg.connect(url, autocommit=True) as conn:
        checks = source_checks.delivery_checks(conn, logical_date)
        checks += source_checks.freshness_checks(conn, run_id)
        checks += dbt_checks(conn, run_id)
        tables = {r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = %s", (schema,)).fetchall()}
        schemas = {"candidate": schema, "intermediate": "intermediate", "staging": "staging", "identity": "identity"}
        checks += anomaly.evaluate(conn, run_id, logical_date, schemas, sorted(tables & set(load_suites())))
        checks += mart_sanity.mart_checks(conn, schema, candidate_marts(conn, schema), logical_date)
    for check in run_gx(url, schema, load_suites(), tables, run_name=run_id):
        checks.append(_with_gx_verdict(check))
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("delete from ops.audit_results where run_id = %s", (run_id,))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.audit_results (run_id, logical_date, check_type, check_name, object_name, passed,"
                " details, status, reason, severity) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(run_id, logical_date, c["check_type"], c["check_name"], c["object_name"], c["passed"],
                  json.dumps(c["details"], ensure_ascii=False, default=str), c["status"], c.get("reason"),
                  c.get("severity", "error")) for c in checks],
            )
    blocking = rank([c for c in checks if c["status"] in ("failed", "not_run")])
    log.info("audit of %s: %d checks, %d failed, %d not run, %d warned", run_id, len(checks),
             sum(c["status"] == "failed" for c in checks), sum(c["status"] == "not_run" for c in checks),
             sum(c["status"] == "warned" for c in checks))
    return blocking


# Root causes first: a missing delivery explains the anomalies and test failures after it.
CHECK_ORDER = {"source": 0, "dbt_model": 1, "sanity": 2, "anomaly": 3, "dbt": 4, "gx": 5}


def rank(checks: list[dict]) -> list[dict]:
    """Failed checks before those that did not run; within each, root causes first."""
    def key(check: dict):
        kind = "dbt_model" if check["check_type"] == "dbt" and check["check_name"] == "model" else check["check_type"]
        return (check["status"] != "failed", CHECK_ORDER.get(kind, 5), check["check_name"], check["object_name"] or "")
    return sorted(checks, key=key)


def _with_gx_verdict(check: dict) -> dict:
    if check["passed"]:
        return {**check, "status": "passed", "severity": "error", "reason": None}
    details = check.get("details", {})
    if "exception" in details or details.get("reason"):
        why = details.get("exception") or details.get("reason")
        return {**check, "status": "not_run", "severity": "error",
                "reason": f"Great Expectations {check['check_name']} on {check['object_name']} could not run: {why}"}
    observed = details.get("observed_value")
    unexpected = details.get("unexpected_count")
    seen = f"observed {observed}" if observed is not None else f"{unexpected} unexpected row(s)"
    kwargs = ", ".join(f"{k}={v}" for k, v in (details.get("kwargs") or {}).items())
    return {**check, "status": "failed", "severity": "error",
            "reason": f"Great Expectations: {check['object_name']} fails {check['check_name']}({kwargs}): {seen}"}
