"""The run report (touchpoint/report.py) read from a real PostgreSQL, opened in a real browser,
and the Great Expectations Data Docs the audit builds for it."""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from touchpoint.report import write_report

NIGHT = date(2026, 11, 28)
RUN = "scheduled__2026-11-28T17:00:00+00:00"
NIGHTS = 28
METRICS = [  # (metric, area, typical value)
    ("sources.ecommerce_orders.rows_loaded", "sources", 1200.0),
    ("sources.web_events.rows_loaded", "sources", 9000.0),
    ("marts.customer_360.net_revenue_krw", "marts", 1.69e6),
]


def _seed_night(conn: psycopg.Connection) -> None:
    """A blocked night as the pipeline records it: loads, quarantine, verdicts, 28 nights of metrics."""
    conn.execute(
        "insert into ops.load_manifest (load_id, source, logical_date, file_path, checksum, rows_read,"
        " rows_loaded, rows_quarantined) values"
        " ('l1', 'ecommerce_orders', %(d)s, 'ecommerce_orders/2026-11-28/part-1.jsonl', 'c1', 700, 690, 10),"
        " ('l2', 'ecommerce_orders', %(d)s, 'ecommerce_orders/2026-11-28/part-2.jsonl', 'c2', 534, 534, 0),"
        " ('l3', 'web_events', %(d)s, 'web_events/2026-11-28/events.jsonl', 'c3', 4321, 4317, 4),"
        # an older version of a file, replaced: not counted
        " ('l0', 'web_events', %(d)s, 'web_events/2026-11-28/old.jsonl', 'c0', 99999, 99999, 0)",
        {"d": NIGHT})
    conn.execute("update ops.load_manifest set is_current = false, status = 'superseded' where load_id = 'l0'")
    quarantine = ([("ecommerce_orders", "l1", "missing required field order_id")] * 7
                  + [("ecommerce_orders", "l1", "amount_krw is not a number")] * 3
                  + [("web_events", "l3", "<script>alert(1)</script> bad timestamp")] * 4)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.quarantine (source, file_path, line_number, raw_record, reason, load_id, logical_date)"
            " values (%s, 'f', %s, '{}', %s, %s, %s)",
            [(source, i, reason, load_id, NIGHT) for i, (source, load_id, reason) in enumerate(quarantine)])
    checks = (
        [("dbt", "test", f"test.touchpoint.ok_{i}", True, "passed", None) for i in range(5)]
        + [("gx", "expect_column_values_to_be_unique", "customer_360", True, "passed", None)] * 3
        + [("anomaly", "net_revenue_krw", "customer_360", False, "failed",
            "net revenue 20,400,000 KRW is 12x the 28-night median 1,690,000 KRW")]
        # ranked after the root cause by the audit, though more checks share it
        + [("gx", "expect_column_values_to_not_be_null", mart, False, "failed",
            "email_hmac is null in every row") for mart in ("customer_360", "customer_identity_map")]
        + [("freshness", "source_freshness", "web_events", False, "warned", "web_events is 30 hours old")]
        + [("dbt", "test", f"test.touchpoint.not_null_orders_{i}", False, "not_run",
            "its model int_orders_joined failed, so the test could not run") for i in range(3)]
    )
    with conn.cursor() as cur:
        cur.executemany(
            "insert into ops.audit_results (run_id, logical_date, check_type, check_name, object_name, passed,"
            " details, status, reason, severity) values (%s, %s, %s, %s, %s, %s, '{}', %s, %s, 'error')",
            [(RUN, NIGHT, *c) for c in checks])
    failed = [{"check_type": t, "check_name": n, "object_name": o, "passed": False, "status": s, "reason": r}
              for t, n, o, p, s, r in checks if s in ("failed", "not_run")]
    conn.execute(
        "insert into ops.publication_log (run_id, logical_date, decision, failed_checks, mart_row_counts)"
        " values (%s, %s, 'blocked', %s, %s)",
        (RUN, NIGHT, json.dumps(failed), json.dumps({"customer_360": 2981, "customer_identity_map": 8077})))
    rows = []
    for metric, area, typical in METRICS:
        for back in range(NIGHTS):
            night = NIGHT - timedelta(days=back)
            value = typical * (1 + 0.02 * ((back % 5) - 2))
            status, reason = "passed", None
            if back == 0 and area == "marts":
                value, status, reason = typical * 12, "failed", "12x the 28-night median"
            rows.append((RUN if back == 0 else f"scheduled__{night}", night, metric, area,
                         f"{metric} per night", value, typical, typical * 0.05, typical * 0.8, typical * 1.2,
                         NIGHTS - 1, "published_nights", 0.5, "robust_z", "error", status, reason))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into ops.metric_values (run_id, logical_date, metric, area, description, value,"
            " baseline_center, baseline_spread, lower_bound, upper_bound, baseline_size, baseline_source,"
            " score, rule, severity, status, reason) values"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)


@pytest.fixture
def blocked_night(fresh_db_url: str, tmp_path: Path, monkeypatch) -> str:
    monkeypatch.setenv("TOUCHPOINT_LOCAL_DIR", str(tmp_path / "local"))
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        _seed_night(conn)
    return fresh_db_url


def _text(page: str) -> str:
    """The page's visible text, roughly: tags stripped, whitespace collapsed (scripts removed)."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_blocked_night_report_says_why_with_numbers_and_charts(blocked_night: str, tmp_path: Path):
    # GIVEN a blocked night with 28 nights of metrics  WHEN the report is written for its date
    path = write_report(blocked_night, NIGHT)

    # THEN it is <local dir>/reports/<date>.html, for the night's latest run
    assert path == tmp_path / "local" / "reports" / "2026-11-28.html"
    page = path.read_text()
    text = _text(page)
    assert RUN in text
    # the decision, the failed check with its reason apart from those that did not run
    assert "Blocked: 3 check(s) failed, 3 did not run" in text
    failed_at = text.index("Failed checks (3)")
    not_run_at = text.index("Checks that did not run (3)")
    assert failed_at < not_run_at
    failed_text = text[failed_at:not_run_at]
    # grouped by reason, in the audit's order (root cause first)
    assert failed_text.index("net revenue 20,400,000 KRW is 12x the 28-night median 1,690,000 KRW (1 check)") \
        < failed_text.index("email_hmac is null in every row (2 checks)")
    assert "its model int_orders_joined failed, so the test could not run (3 checks)" in text[not_run_at:]
    # rows per source: current files only (the superseded one is not counted), with baselines
    assert re.search(r"ecommerce_orders 2 1,234 1,224 10 ", text)
    assert re.search(r"web_events 1 4,321 4,317 4 ", text)
    assert "sources.web_events.rows_loaded: 8,640 expected 7,200–10,800 passed" in text
    # quarantine reasons grouped, most frequent first; warehouse text is escaped
    assert text.index("missing required field order_id 7") < text.index("amount_krw is not a number 3")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; bad timestamp" in page
    # checks by type: dbt 5 passed, 3 not run; anomaly 1 failed; freshness 1 warned
    assert re.search(r"anomaly 0 1 0 0 ", text)
    assert re.search(r"dbt 5 0 0 3 ", text)
    assert re.search(r"freshness 0 0 1 0 ", text)
    assert re.search(r"gx 3 2 0 0 ", text)
    assert re.search(r"all 8 3 1 3 ", text)
    # the candidate's counts, said to be unpublished
    assert "tonight's candidate, not published" in text
    assert re.search(r"customer_identity_map 8,077", text)
    # one chart per metric; plotly.js embedded exactly once, no network needed
    assert page.count('class="chart"') == len(METRICS)
    assert len(re.findall(r'Plotly\.newPlot\(\s*"chart-\d+"', page)) == len(METRICS)
    assert page.count("<script src=") == 0
    assert len(re.findall(r"/\*\*?\s*\* plotly\.js v", page)) == 1
    # tonight's failed point is red
    assert '"name":"tonight (failed)"' in page and '"color":"#c62828"' in page


def test_report_of_a_night_that_stopped_before_the_audit(fresh_db_url: str, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_LOCAL_DIR", str(tmp_path / "local"))
    # GIVEN an empty warehouse (nothing loaded, audited or measured)  WHEN reported
    path = write_report(fresh_db_url, NIGHT, out_dir=tmp_path / "out")
    text = _text(path.read_text())
    # THEN every section says so instead of failing
    assert path == tmp_path / "out" / "2026-11-28.html"
    assert "No run recorded for this date" in text
    assert "No files were loaded for this date." in text
    assert "No rows were quarantined for this date." in text
    assert "No checks were recorded for this run" in text
    assert "No metrics recorded yet." in text
    assert "Great Expectations Data Docs have not been built yet." in text


def test_report_of_a_rerun_that_died_before_the_audit_names_the_failed_task(
        blocked_night: str, tmp_path: Path):
    # GIVEN the blocked night re-run, the re-run failing in the transform (no audit, no decision)
    rerun = "manual__2026-11-29T08:00:00+00:00"
    with psycopg.connect(blocked_night, autocommit=True) as conn:
        conn.execute(
            "insert into ops.task_failures (dag_id, task_id, run_id, logical_date, try_number, exception)"
            " values ('touchpoint_nightly', 'transform.dbt_producer_watcher', %s, %s, 1, %s)",
            (rerun, NIGHT, "RuntimeError: dbt build failed\nTraceback ..."))
    # WHEN the date is reported  THEN the re-run is the night's latest word, with its failed task
    text = _text(write_report(blocked_night, NIGHT).read_text())
    assert rerun in text
    assert "No publication decision recorded: the run stopped before the audit." in text
    assert "Failed tasks (1) transform.dbt_producer_watcher (try 1): RuntimeError: dbt build failed" in text
    assert "Traceback" not in text
    # the night's loads and metrics are the date's, whichever run: still shown
    assert re.search(r"web_events 1 4,321 4,317 4 ", text)
    assert text.count("per night") == len(METRICS)
    # AND --run-id still reports the blocked run
    text = _text(write_report(blocked_night, NIGHT, run_id=RUN).read_text())
    assert "Blocked: 3 check(s) failed, 3 did not run" in text and "Failed tasks" not in text


def test_report_command_prints_the_path(blocked_night: str, tmp_path: Path, monkeypatch, capsys):
    from touchpoint.cli import main

    monkeypatch.setenv("WAREHOUSE_URL", blocked_night)
    assert main(["report", "--date", "2026-11-28", "--run-id", RUN, "--out", str(tmp_path / "cli")]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed == tmp_path / "cli" / "2026-11-28.html" and printed.is_file()


def _chromium() -> str | None:
    return shutil.which("chromium") or (shutil.which("/usr/bin/chromium")) or shutil.which("chromium-browser")


def test_report_renders_its_charts_in_headless_chromium(blocked_night: str, tmp_path: Path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    path = write_report(blocked_night, NIGHT)
    # WHEN a real browser opens the file with network access cut off
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=10000",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=180, check=True).stdout
    # THEN plotly drew every chart: each plot container holds its rendered SVG with the traces
    plots = re.findall(r'<div id="chart-\d+" class="[^"]*js-plotly-plot', dom)
    assert len(plots) == len(METRICS)
    assert dom.count('class="main-svg"') >= len(METRICS)
    assert dom.count('class="scatterlayer') == len(METRICS)
    assert "tonight (failed)" in dom


def test_run_gx_builds_data_docs_the_report_links(fresh_db_url: str, tmp_path: Path, monkeypatch):
    from touchpoint.audit import data_docs_dir, run_gx

    monkeypatch.setenv("TOUCHPOINT_LOCAL_DIR", str(tmp_path / "local"))
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute("create schema cand")
        conn.execute("create table cand.widgets as select g as widget_id from generate_series(1, 20) as g")
    suites = {"widgets": {"table": "widgets", "expectations": [
        {"expect_column_values_to_be_unique": {"column": "widget_id"}},
        {"expect_table_row_count_to_be_between": {"min_value": 100}},
    ]}}
    # WHEN the audit's GX checkpoint validates the candidate table
    results = run_gx(fresh_db_url, "cand", suites, {"widgets"}, run_name=RUN)
    # THEN the verdicts are unchanged and the Data Docs site holds the validation page
    assert [r["passed"] for r in results] == [True, False]
    docs = data_docs_dir()
    assert docs == tmp_path / "local" / "reports" / "gx_data_docs"
    assert (docs / "index.html").is_file()
    page = results[0]["details"]["data_docs"]
    assert page == results[1]["details"]["data_docs"] and (docs / page).is_file()
    assert "widgets_suite" in (docs / "index.html").read_text()
    assert RUN in page  # the validation is named after the Airflow run

    # AND the run report links the index and the validation page, relative to itself
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.audit_results (run_id, logical_date, check_type, check_name, object_name,"
                " passed, details) values (%s, %s, %s, %s, %s, %s, %s)",
                [(RUN, NIGHT, r["check_type"], r["check_name"], r["object_name"], r["passed"],
                  json.dumps(r["details"], default=str)) for r in results])
    report = write_report(fresh_db_url, NIGHT).read_text()
    assert 'href="gx_data_docs/index.html"' in report
    assert f'href="gx_data_docs/{quote(page)}"' in report


def test_pipeline_step_writes_the_report_for_the_dag(blocked_night: str, tmp_path: Path, monkeypatch):
    from touchpoint import pipeline

    monkeypatch.setenv("WAREHOUSE_URL", blocked_night)
    path = Path(pipeline.write_report(RUN, NIGHT))
    assert path == tmp_path / "local" / "reports" / "2026-11-28.html"
    assert RUN in path.read_text()
