"""End to end: `touchpoint run` publishes, a failing audit blocks, rollback restores.

One generated week-start, run through the real DAG in-process (Airflow dag.test), on a
fresh database of the test warehouse. The scenario is sequential by nature, so the
steps share one module-scoped state and run in order.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import date

import psycopg
import pytest
from psycopg import sql

from marts_snapshot import snapshot
from touchpoint import bi, warehouse
from touchpoint.config import REPO_ROOT
from touchpoint.db import url_parts, with_database
from touchpoint.runlock import lock_holder

DAY1 = date(2026, 11, 1)
DAY2 = date(2026, 11, 2)


@pytest.fixture(scope="module")
def scenario(module_db_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TOUCHPOINT_", "DBT_"))}
    # A BI role of this module's own (roles are cluster-wide), created before the first
    # night the way `touchpoint warehouse start` creates touchpoint_bi.
    bi_role_name = f"tp_bi_e2e_{uuid.uuid4().hex[:8]}"
    # Roles are an administrator's to create; the pipeline's role stays the owner of marts.
    admin_url = with_database(warehouse.admin_url_for(module_db_url), url_parts(module_db_url)["dbname"])
    with psycopg.connect(admin_url, autocommit=True) as conn:
        bi_role = bi.ensure_role(conn, role=bi_role_name, password=uuid.uuid4().hex,
                                 owner=url_parts(module_db_url)["user"])
    env.update(
        WAREHOUSE_URL=module_db_url,
        TOUCHPOINT_LOCAL_DIR=str(root / "local"),
        TOUCHPOINT_LANDING_DIR=str(root / "sample" / "landing"),
        TOUCHPOINT_BI_ROLE=bi_role_name,
    )
    touchpoint = [sys.executable, "-m", "touchpoint.cli"]

    def run(*args, extra_env=None):
        proc = subprocess.run([*touchpoint, *args], env={**env, **(extra_env or {})}, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=900)
        return proc

    def start(*args):
        return subprocess.Popen([*touchpoint, *args], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    gen = run("generate", "--customers", "300", "--days", "2", "--start", DAY1.isoformat(), "--seed", "11",
              "--out", str(root / "sample"))
    assert gen.returncode == 0, gen.stdout[-2000:] + gen.stderr[-3000:]
    yield {"run": run, "start": start, "url": module_db_url, "root": root, "bi_url": bi.url_for(module_db_url, bi_role)}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(bi_role_name)))
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(bi_role_name)))


def bi_reads_customer_360(scenario) -> int:
    """Rows of marts.customer_360 as the BI role sees them (its own login, password)."""
    with psycopg.connect(scenario["bi_url"]) as conn:
        return conn.execute("select count(*) from marts.customer_360").fetchone()[0]


@pytest.fixture(scope="module")
def first_night(scenario):
    """The first night, with a second `touchpoint run` started while it holds the warehouse."""
    first = scenario["start"]("run", "--date", DAY1.isoformat())
    deadline = time.monotonic() + 300
    with psycopg.connect(scenario["url"], autocommit=True) as conn:
        while (holder := lock_holder(conn)) is None and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    assert holder is not None, "the first run never took the run lock"
    second = scenario["run"]("run", "--date", DAY1.isoformat(), "--full-refresh")
    stdout, stderr = first.communicate(timeout=900)
    proc = subprocess.CompletedProcess(first.args, first.returncode, stdout, stderr)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    proc.concurrent = second
    return proc


def test_a_second_run_exits_cleanly_while_the_first_holds_the_warehouse(first_night):
    second = first_night.concurrent
    assert second.returncode == 75, second.stdout[-2000:] + second.stderr[-2000:]
    assert "another run holds this warehouse: touchpoint run 2026-11-01" in second.stderr
    assert "Traceback" not in second.stderr
    # it touched nothing: the first night published (its candidate was not reset under it)
    assert "Publication: published as marts_v" in first_night.stdout


def test_run_publishes_the_marts_and_prints_the_summary(scenario, first_night):
    out = first_night.stdout
    assert "Publication: published as marts_v" in out
    assert "Rows loaded per source" in out and "crm_customers" in out
    assert "marts.customer_360" in out
    # the night's run report was written where the decision was taken
    report = scenario["root"] / "local" / "reports" / f"{DAY1.isoformat()}.html"
    assert report.exists() and f"Run report: {report}" in out
    assert "published" in report.read_text()
    with psycopg.connect(scenario["url"]) as conn:
        decision, counts, failed = conn.execute(
            "select decision, mart_row_counts, failed_checks from ops.publication_log order by publication_id"
        ).fetchone()
        assert decision == "published" and failed == []
        published = conn.execute("select count(*) from marts.customer_360").fetchone()[0]
        assert counts["customer_360"] == published > 0
        # every check the audit ran passed, and there were dbt and GX checks
        kinds = dict(conn.execute("select check_type, count(*) from ops.audit_results group by 1").fetchall())
        assert kinds.get("dbt", 0) > 10 and kinds.get("gx", 0) >= 5
        assert conn.execute("select count(*) from ops.audit_results where not passed").fetchone()[0] == 0
        # all 12 sources were loaded and every file reconciles
        loaded_sources = conn.execute(
            "select count(distinct source) from ops.load_manifest where logical_date = %s", (DAY1,)).fetchone()[0]
        assert loaded_sources == 12
        assert conn.execute("select count(*) from ops.load_manifest "
                            "where rows_read <> rows_loaded + rows_quarantined").fetchone()[0] == 0


def run_id_of(url: str, offset: int = 0) -> str:
    """The Airflow run id of the latest (offset 0) or an earlier audited run."""
    with psycopg.connect(url) as conn:
        return conn.execute("select run_id from ops.publication_log order by publication_id desc "
                            "limit 1 offset %s", (offset,)).fetchone()[0]


def test_one_build_per_group_reports_every_model_and_source_test(scenario, first_night):
    # GIVEN the watcher DAG WHEN a default night ran THEN each dbt group ran one
    # `dbt build` (two invocations in all), none of it a full refresh, and the tests on
    # the raw sources have results alongside the models and their tests
    run_id = run_id_of(scenario["url"])
    with psycopg.connect(scenario["url"]) as conn:
        invocations, commands, refresh = conn.execute(
            "select count(distinct invocation_id), array_agg(distinct dbt_command), bool_or(is_full_refresh) "
            "from ops.dbt_results where run_key = %s", (run_id,)).fetchone()
        kinds = dict(conn.execute(
            "select case when resource_type = 'test' and node_name like 'source\\_%%' then 'source_test' "
            "else resource_type end, count(*) from ops.dbt_results where run_key = %s group by 1",
            (run_id,)).fetchall())
        audited_source_tests = conn.execute(
            "select count(*) from ops.audit_results where run_id = %s and check_type = 'dbt' "
            "and object_name like 'test.touchpoint.source\\_%%' and passed", (run_id,)).fetchone()[0]
    assert invocations == 2 and commands == ["build"] and refresh is False
    assert kinds.get("model", 0) > 20 and kinds.get("test", 0) > 100
    assert kinds.get("source_test", 0) > 10
    assert audited_source_tests == kinds["source_test"]
    # the Airflow log shows one task per model, reported by the watcher sensors
    log = (scenario["root"] / "local" / "runs" / f"{DAY1.isoformat()}.log").read_text(errors="replace")
    assert "task_id=transform.customer_360.run" in log and "task_id=transform.dbt_producer_watcher " in log


def test_dbt_unit_tests_pass_and_are_not_part_of_the_night(scenario, first_night):
    # GIVEN a published night (its relations exist, dbt unit tests need their parents)
    # WHEN the project's unit tests run, as `make test` runs them THEN they all pass, and
    # the night itself ran none of them (they test SQL logic, not the night's data)
    proc = scenario["run"]("dbt", "test", "--select", "test_type:unit")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    passed = [line for line in proc.stdout.splitlines() if " PASS " in line and "unit_test" not in line]
    assert len(passed) >= 15, proc.stdout[-3000:]
    with psycopg.connect(scenario["url"]) as conn:
        nightly_unit_tests = conn.execute(
            "select count(*) from ops.dbt_results where run_key = %s and resource_type = 'unit_test'",
            (run_id_of(scenario["url"]),)).fetchone()[0]
    assert nightly_unit_tests == 0


def test_published_revenue_reconciles_with_raw_orders(scenario, first_night):
    # Net online revenue computed straight from raw (latest version per order,
    # cancelled/voided/refunded = 0) equals what the mart reports online.
    with psycopg.connect(scenario["url"]) as conn:
        columns = {r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema='marts' "
            "and table_name='customer_360'").fetchall()}
        online = "online_net_revenue_krw" if "online_net_revenue_krw" in columns else "net_revenue_krw"
        mart_total = conn.execute(f"select coalesce(sum({online}), 0) from marts.customer_360").fetchone()[0]
        raw_total = conn.execute("""
            with latest as (
                select distinct on (order_id) order_id, customer_id, total_price, refunds, cancelled_at,
                       financial_status
                from raw.ecommerce_orders
                order by order_id, updated_at desc, _loaded_at desc
            )
            select coalesce(sum(case when cancelled_at is not null or financial_status in ('voided', 'refunded')
                                     then 0
                                     else greatest(total_price - coalesce((select sum((r->>'amount')::numeric)
                                          from jsonb_array_elements(coalesce(refunds, '[]'::jsonb)) r), 0), 0)
                                end), 0)
            from latest
            where customer_id is not null or %s
        """, (online == "online_net_revenue_krw",)).fetchone()[0]
    assert mart_total == raw_total


def test_failing_audit_blocks_and_leaves_marts_byte_for_byte_unchanged(scenario, first_night, tmp_path):
    before = snapshot(scenario["url"])
    strict = tmp_path / "suites"
    strict.mkdir()
    (strict / "customer_360.yml").write_text(
        "table: customer_360\nexpectations:\n  - expect_table_row_count_to_be_between: {min_value: 1000000000}\n")
    proc = scenario["run"]("run", "--date", DAY2.isoformat(), extra_env={"TOUCHPOINT_EXPECTATIONS_DIR": str(strict)})
    assert proc.returncode != 0
    assert "Publication: blocked" in proc.stdout
    # the operator sees why without opening the Airflow log
    assert "What failed" in proc.stderr and "expect_table_row_count_to_be_between" in proc.stderr
    assert snapshot(scenario["url"]) == before
    with psycopg.connect(scenario["url"]) as conn:
        decision, failed = conn.execute(
            "select decision, failed_checks from ops.publication_log order by publication_id desc limit 1").fetchone()
        assert decision == "blocked"
        assert [c["check_name"] for c in failed] == ["expect_table_row_count_to_be_between"]
        assert conn.execute("select count(*) from ops.task_failures where task_id = 'audit'").fetchone()[0] >= 1


def test_next_good_night_publishes_and_rollback_restores_the_previous_version(scenario, first_night):
    with psycopg.connect(scenario["url"]) as conn:
        first_version = conn.execute("select version_schema from ops.publication_log "
                                     "where decision = 'published' order by publication_id limit 1").fetchone()[0]
    first = snapshot(scenario["url"])
    proc = scenario["run"]("run", "--date", DAY2.isoformat())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    second = snapshot(scenario["url"])
    assert second["data"] != first["data"]  # day 2 brought new data
    identity_state = "select count(*), md5(string_agg(t::text, '|' order by t::text)) from identity.identifier_map t"
    with psycopg.connect(scenario["url"]) as conn:
        identity_before = conn.execute(identity_state).fetchone()
    assert bi_reads_customer_360(scenario) == second["data"]["customer_360"][0]
    back = scenario["run"]("rollback")
    assert back.returncode == 0, back.stderr
    assert first_version in back.stdout
    restored = snapshot(scenario["url"])
    assert restored["data"] == first["data"]
    # the BI role keeps reading across publication and rollback
    assert bi_reads_customer_360(scenario) == first["data"]["customer_360"][0] > 0
    # incremental state outside the published schema is untouched by publish and rollback
    with psycopg.connect(scenario["url"]) as conn:
        assert conn.execute(identity_state).fetchone() == identity_before
        assert identity_before[0] > 0


def test_full_refresh_reaches_dbt_and_the_resolver(scenario, first_night):
    # GIVEN incremental nights already ran WHEN `touchpoint run --full-refresh` THEN every
    # dbt node of that run was built with --full-refresh, the identity resolver ran in
    # full mode, and the night still publishes
    proc = scenario["run"]("run", "--date", DAY2.isoformat(), "--full-refresh")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "(full refresh)" in proc.stdout and "Publication: published" in proc.stdout
    run_id = run_id_of(scenario["url"])
    with psycopg.connect(scenario["url"]) as conn:
        nodes, refreshed = conn.execute(
            "select count(*), count(*) filter (where is_full_refresh) from ops.dbt_results where run_key = %s",
            (run_id,)).fetchone()
        modes = [r[0] for r in conn.execute(
            "select mode from identity.resolver_runs order by resolver_run_id").fetchall()]
    assert nodes > 100 and refreshed == nodes
    assert modes[-1] == "full" and set(modes[:-1]) == {"incremental"}
