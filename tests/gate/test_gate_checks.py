"""The publication gate's source and anomaly checks on real deliveries, without the DAG.

Generated nights go through the real loader into a real PostgreSQL (no dbt): the source
checks and the source-level anomaly metrics then judge a normal night (nothing fails) and
nights with the matrix's faults injected (each named by its check). The full nights,
marts metrics included, run in test_fault_matrix.py (slow tier).
"""
from __future__ import annotations

import shutil
from datetime import date, timedelta

import psycopg
import pytest

import faults
from ingestion.loader import LoadError, ingest
from touchpoint import anomaly, source_checks
from touchpoint.bootstrap import ensure_warehouse
from touchpoint.db import admin_database_url, owned_by, with_database
from touchpoint.generator import generate

START = date(2026, 11, 1)
NIGHT = START + timedelta(days=2)
SCHEMAS = {"candidate": "marts_candidate", "intermediate": "intermediate", "staging": "staging"}


@pytest.fixture(scope="module")
def loaded_base(module_db_url, tmp_path_factory):
    """Two loaded deliveries (a 21-day backfill, a normal night) and the third night's files."""
    root = tmp_path_factory.mktemp("gate")
    generate(customers=1000, days=3, start=START, history_days=21, seed=5, out=root / "data")
    landing = root / "data" / "landing"
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        ensure_warehouse(conn)
    for night in range(2):
        ingest(START + timedelta(days=night), landing_dir=landing, url=module_db_url)
    return {"url": module_db_url, "landing": landing, "root": root}


@pytest.fixture
def night(loaded_base, warehouse_url, request, tmp_path):
    """A copy of the loaded warehouse and of the third night's landing files."""
    base = loaded_base["url"].rsplit("/", 1)[1]
    name = f"{base}_n{abs(hash(request.node.name)) % 100_000}"
    admin = admin_database_url(warehouse_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}" template "{base}"{owned_by(warehouse_url)}')
    landing = tmp_path / "landing"
    for source_dir in loaded_base["landing"].iterdir():
        if (source_dir / NIGHT.isoformat()).exists():
            shutil.copytree(source_dir / NIGHT.isoformat(), landing / source_dir.name / NIGHT.isoformat())
    url = with_database(warehouse_url, name)
    try:
        yield {"url": url, "landing": landing}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def judge(url: str, landing) -> list[dict]:
    """Load the night and run the source-level checks: the blocking ones, as the audit ranks them."""
    try:
        ingest(NIGHT, landing_dir=landing, url=url)
    except LoadError:
        pass  # a rejected file is the gate's business (loaded_without_errors)
    with psycopg.connect(url, autocommit=True) as conn:
        checks = source_checks.delivery_checks(conn, NIGHT)
        checks += anomaly.evaluate(conn, "gate-test", NIGHT, SCHEMAS, [], areas={"sources"})
    return [c for c in checks if c["status"] == "failed"]


def test_profiles_split_the_backfill_by_event_day(loaded_base):
    with psycopg.connect(loaded_base["url"]) as conn:
        days, rows, loaded = conn.execute(
            "select count(distinct event_date), sum(row_count),"
            " (select sum(rows_loaded) from ops.load_manifest where source = 'web_events' and logical_date = %s)"
            " from ops.delivery_profiles where source = 'web_events' and logical_date = %s", (START, START)).fetchone()
    assert days >= 21 and rows == loaded


def test_a_normal_night_passes_every_source_check(night):
    failed = judge(night["url"], night["landing"])
    assert failed == [], [c["reason"] for c in failed]


@pytest.mark.parametrize("fault, check_name, words", [
    ("a source's delivery missing", "delivered", "no delivery"),
    ("web events delivered as empty files", "not_empty", "never empty"),
    ("every timestamp a year in the future", "no_future_events", "dated after"),
    ("every CRM email null", "crm_customers.email.non_null_share", "email present"),
    ("5% of web events without a required key", "web_events.quarantine_share", "quarantined"),
    ("store receipt amounts x100", "store_transactions.total_krw.average", "baseline"),
    ("order amounts x100", "ecommerce_orders.total_price.average", "baseline"),
])
def test_each_fault_is_named_by_its_check(night, fault, check_name, words):
    faults.FAULTS[fault](night["landing"], NIGHT)
    failed = judge(night["url"], night["landing"])
    named = [c for c in failed if c["check_name"] == check_name]
    assert named, (fault, [c["reason"] for c in failed])
    assert words in named[0]["reason"]


def test_robust_z_tolerates_a_small_expensive_day_and_catches_x100():
    metric = anomaly.Metric(name="m", area="a", description="avg", sql="", kind="amount")
    history = [anomaly.Sample(START - timedelta(days=i), 70_000 + 9_000 * (i % 5)) for i in range(1, 29)]
    settings = anomaly.Settings()
    quiet = anomaly.robust_z(metric, anomaly.Sample(START, 280_000), history, START, settings)
    wrong = anomaly.robust_z(metric, anomaly.Sample(START, 7_800_000), history, START, settings)
    assert quiet.status == "passed" and wrong.status == "failed"
    assert wrong.lower < 78_000 < wrong.upper


def test_too_little_history_warns_instead_of_blocking():
    metric = anomaly.Metric(name="m", area="a", description="rows", sql="", kind="count")
    verdict = anomaly.robust_z(metric, anomaly.Sample(START, 10_000),
                               [anomaly.Sample(START - timedelta(days=1), 10)], START, anomaly.Settings())
    assert verdict.status == "warned" and "too little history" in verdict.reason


def test_published_nights_become_the_baseline_once_there_are_enough(fresh_conn):
    ensure_warehouse(fresh_conn)
    # The data says 100 a day; the published nights recorded about 10 (as measured then).
    metric = anomaly.Metric(name="demo.rows", area="demo", description="demo rows", kind="count", sql=(
        "select day::date as metric_date, 100 as value from generate_series({start}::timestamp, {day}::timestamp,"
        " interval '1 day') as day"))
    settings = anomaly.Settings()

    def record(nights: int) -> None:
        for n in range(1, nights + 1):
            run_id = f"run-{n}"
            fresh_conn.execute(
                "insert into ops.publication_log (run_id, logical_date, decision) values (%s, %s, 'published')",
                (run_id, NIGHT - timedelta(days=n)))
            fresh_conn.execute(
                "insert into ops.metric_values (run_id, logical_date, metric, area, value, baseline_source, rule,"
                " severity, status) values (%s, %s, 'demo.rows', 'demo', %s, 'data_history', 'robust_z', 'error',"
                " 'passed') on conflict do nothing", (run_id, NIGHT - timedelta(days=n), 10 + n % 3))

    record(settings.min_published_nights - 1)
    few = anomaly.evaluate_metric(fresh_conn, metric, NIGHT, SCHEMAS, settings)
    assert few.baseline_source == "data_history" and few.center == 100 and few.status == "passed"
    record(settings.min_published_nights + 3)
    enough = anomaly.evaluate_metric(fresh_conn, metric, NIGHT, SCHEMAS, settings)
    assert enough.baseline_source == "published_nights" and enough.center == 11
    assert enough.status == "failed" and "above the expected range" in enough.reason


def test_an_audit_that_cannot_finish_blocks_and_says_why(fresh_db_url, tmp_path, monkeypatch):
    from touchpoint import pipeline

    # The audit cannot finish here twice over: no dbt manifest in this home, and a
    # metric declared without its SQL.
    broken = tmp_path / "metrics"
    broken.mkdir()
    (broken / "orders.yml").write_text("area: orders\nmetrics:\n  - {name: orders.rows, kind: count}\n")  # no sql
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    monkeypatch.setenv("TOUCHPOINT_METRICS_DIR", str(broken))
    monkeypatch.setenv("TOUCHPOINT_LOCAL_DIR", str(tmp_path / "local"))
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        ensure_warehouse(conn)
    with pytest.raises(pipeline.PublicationBlocked, match="the audit itself failed"):
        pipeline.audit_and_decide("run-broken", NIGHT)
    with psycopg.connect(fresh_db_url) as conn:
        decision, failed = conn.execute("select decision, failed_checks from ops.publication_log").fetchone()
    assert decision == "blocked" and failed[0]["status"] == "not_run"
    assert failed[0]["reason"].startswith("the audit itself failed")
