"""The nightly DAG imports cleanly, has the expected shape and does no heavy work at parse."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from ingestion.registry import SOURCE_NAMES
from touchpoint.airflow_env import airflow_env
from touchpoint.config import REPO_ROOT
from touchpoint.pipeline import data_date_for

PROBE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("touchpoint_nightly")
out = {"errors": {k: str(v)[:2000] for k, v in bag.import_errors.items()}, "dags": sorted(bag.dags)}
if dag:
    out.update(
        task_ids=sorted(dag.task_ids),
        edges=sorted([t.task_id, d] for t in dag.tasks for d in t.downstream_task_ids),
        schedule=f"{dag.timetable.expression} {dag.timetable.timezone} {dag.timetable.interval}", catchup=dag.catchup, timezone=str(dag.timezone),
        retries={t.task_id: t.retries for t in dag.tasks},
        trigger_rules={t.task_id: getattr(t.trigger_rule, "value", str(t.trigger_rule)) for t in dag.tasks},
        operators={t.task_id: type(t).__name__ for t in dag.tasks},
        full_refresh={t.task_id: str(getattr(t, "full_refresh", "")) for t in dag.tasks if hasattr(t, "full_refresh")},
        params=sorted(dag.params.keys()),
        dbt_env={t.task_id: sorted((getattr(t, "env", None) or {}).keys()) for t in dag.tasks
                 if hasattr(t, "full_refresh")},
        dbt_vars={t.task_id: sorted((getattr(t, "vars", None) or {}).keys()) for t in dag.tasks
                  if hasattr(t, "full_refresh")},
        backoff=all(t.retry_exponential_backoff for t in dag.tasks),
        callbacks=all(bool(t.on_failure_callback) for t in dag.tasks),
        audit_rule=getattr(dag.get_task("audit").trigger_rule, "value", str(dag.get_task("audit").trigger_rule)),
        tags=sorted(dag.tags),
    )
print("JSON" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def dag_info(tmp_path_factory, warehouse_url):
    import json

    from touchpoint.dbt import parse

    parse(warehouse_url)
    env = airflow_env({k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")})
    env["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("airflow_home"))
    env["TOUCHPOINT_TASK_RETRIES"] = "2"
    proc = subprocess.run([sys.executable, "-c", PROBE, str(REPO_ROOT / "dags")], env=env,
                          capture_output=True, text=True, timeout=120)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("JSON")), None)
    assert line, proc.stderr[-3000:]
    return json.loads(line[4:])


def test_dag_imports_without_errors(dag_info):
    assert dag_info["errors"] == {}
    assert dag_info["dags"] == ["touchpoint_nightly"]


PRODUCERS = ("transform_inputs.dbt_producer_watcher", "transform.dbt_producer_watcher")


def test_one_ingest_task_per_source_and_the_stages(dag_info):
    ids = set(dag_info["task_ids"])
    assert {f"ingest.{s}" for s in SOURCE_NAMES} <= ids
    assert {"resolve_data_date", "prepare_candidate", "audit", "publish"} <= ids
    transform = [t for t in ids if t.startswith("transform.")]
    # Watcher mode: one producer (`dbt build`) per group, then a sensor per model
    # (`<model>.run`, or `<model>_run` for a model without tests), per model's tests
    # (`<model>.test`) and per multi-model test (`<test>_test`)
    assert transform and all(
        t.endswith((".run", "_run", ".seed", ".test", "_test", "dbt_producer_watcher", "dbt_producer_watcher_done"))
        for t in transform)
    assert {"transform.customer_360.run", "transform.customer_360.test", *PRODUCERS} <= ids
    assert "resolve_identities" in ids
    inputs = {t for t in ids if t.startswith("transform_inputs.")}
    assert "transform_inputs.stg_crm_customers__accounts.run" in inputs
    assert "transform_inputs.int_identifier_edges_collected.run" in inputs
    # the two dbt groups split the project: no model is rendered twice
    models = lambda prefix: {t.split(".")[1].removesuffix("_run") for t in ids  # noqa: E731
                             if t.startswith(prefix) and t.endswith((".run", "_run", ".seed"))}
    assert models("transform_inputs.") and models("transform.")
    assert models("transform_inputs.") & models("transform.") == set()


def test_stages_run_in_order_without_cycles(dag_info):
    graph: dict[str, set[str]] = {}
    for up, down in dag_info["edges"]:
        graph.setdefault(up, set()).add(down)

    def reachable(start: str) -> set[str]:
        seen, stack = set(), [start]
        while stack:
            for nxt in graph.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    for task in dag_info["task_ids"]:
        assert task not in reachable(task), f"cycle through {task}"
    for source in SOURCE_NAMES:
        downstream = reachable(f"ingest.{source}")
        assert {"prepare_candidate", "transform_inputs.stg_crm_customers__accounts.run",
                "resolve_identities", "transform.customer_360.run", "audit", "publish"} <= downstream
    assert "transform.customer_360.run" in reachable("resolve_identities")
    assert "resolve_identities" in reachable("transform_inputs.int_identifier_edges_collected.test")
    assert "publish" in reachable("audit")
    assert "audit" in reachable("transform.customer_360.test")


def test_each_dbt_group_runs_its_producer_before_any_sensor(dag_info):
    # One task at a time (dag.test, `touchpoint run`) a sensor that ran before its
    # producer would wait forever: the producer is the group's only entry, and every
    # sensor of the group is downstream of it.
    upstream: dict[str, set[str]] = {}
    for up, down in dag_info["edges"]:
        upstream.setdefault(down, set()).add(up)
    for producer in PRODUCERS:
        group = producer.split(".")[0] + "."
        members = {t for t in dag_info["task_ids"] if t.startswith(group)}
        entries = {t for t in members if not upstream.get(t, set()) & members}
        assert entries == {producer}
        assert dag_info["operators"][producer] == "DbtProducerWatcherOperator"
        # a sensor reports whether its producer's build passed or failed
        firsts = {t for t in members if producer in upstream.get(t, set())} - {producer + "_done"}
        assert firsts and {dag_info["trigger_rules"][t] for t in firsts} == {"one_done"}
        # the done gate never holds back a group whose sensors recovered on retry
        assert dag_info["trigger_rules"][producer + "_done"] == "all_done"


def test_full_refresh_is_run_conf_that_reaches_every_dbt_task(dag_info):
    assert {"data_date", "full_refresh"} <= set(dag_info["params"])
    templates = {task: value for task, value in dag_info["full_refresh"].items() if task in PRODUCERS}
    assert set(templates) == set(PRODUCERS)
    assert all("full_refresh" in value and "dag_run.conf" in value for value in templates.values())


def test_per_run_values_reach_dbt_without_defeating_partial_parse(dag_info):
    # The run id (ops.dbt_results' key) and the data date reach every dbt task through
    # the environment: as --vars they would change nightly and make dbt parse the whole
    # project again in each group's producer.
    assert dag_info["dbt_env"] and all(
        {"TOUCHPOINT_RUN_ID", "TOUCHPOINT_DATA_DATE"} <= set(keys) for keys in dag_info["dbt_env"].values())
    assert all(not keys for keys in dag_info["dbt_vars"].values())


def test_schedule_retries_and_alerts(dag_info):
    assert dag_info["schedule"] == "0 2 * * * Asia/Seoul 1 day, 0:00:00"
    assert dag_info["catchup"] is False
    # A retried watcher producer would only skip (Cosmos never runs a second build in a
    # run); the retry belongs to the failed node's sensor, which then runs that node.
    assert {dag_info["retries"][p] for p in PRODUCERS} == {0}
    assert {r for t, r in dag_info["retries"].items() if t not in PRODUCERS} == {2}
    assert dag_info["backoff"] is True
    assert dag_info["callbacks"] is True
    # the audit must run even when transform failed, so a failure is logged as blocked
    assert dag_info["audit_rule"] == "all_done"


def test_parsing_does_no_dbt_or_gx_work():
    # GIVEN a fresh interpreter WHEN the DAG module is imported THEN neither dbt's
    # runner nor Great Expectations has been imported (both are heavy and do I/O).
    code = ("import sys, runpy; runpy.run_path(sys.argv[1]); "
            "bad = [m for m in ('great_expectations', 'dbt.cli.main') if m in sys.modules]; "
            "print('LOADED', bad)")
    env = airflow_env({k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")})
    proc = subprocess.run([sys.executable, "-c", code, str(REPO_ROOT / "dags" / "touchpoint_nightly.py")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert "LOADED []" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.parametrize(
    ("conf", "interval_start", "expected"),
    [
        ({"data_date": "2026-11-05"}, None, "2026-11-05"),
        # the 02:00 KST run of 2 Nov: interval starts 1 Nov 02:00 KST = 31 Oct 17:00 UTC
        (None, datetime(2026, 10, 31, 17, 0, tzinfo=timezone.utc), "2026-11-01"),
        ({}, datetime(2026, 11, 1, 17, 0, tzinfo=timezone.utc), "2026-11-02"),
    ],
)
def test_data_date_resolution(conf, interval_start, expected):
    assert data_date_for(conf, interval_start, None).isoformat() == expected


def test_data_date_falls_back_to_the_day_before_the_logical_date():
    logical = datetime(2026, 11, 2, 2, 0, tzinfo=timezone(timedelta(hours=9)))
    assert data_date_for(None, None, logical).isoformat() == "2026-11-01"
    with pytest.raises(ValueError, match="cannot tell"):
        data_date_for(None, None, None)


def test_every_dbt_test_task_is_in_exactly_one_dbt_group(dag_info):
    # GIVEN the rendered DAG THEN no dbt test is rendered in both groups: Cosmos puts a
    # test beside every parent it has in a group, so a test on models of both groups
    # would also run in the first one, before its second-group parents are built
    groups = {}
    for task_id in dag_info["task_ids"]:
        group, _, name = task_id.partition(".")
        if group in ("transform_inputs", "transform") and name.endswith("_test") and "." not in name:
            groups.setdefault(name, set()).add(group)
    assert groups, "no detached dbt test tasks rendered"
    assert {name: sorted(g) for name, g in groups.items() if len(g) > 1} == {}
    assert groups["assert_customer_360_reconciles_with_purchase_records_test"] == {"transform"}
