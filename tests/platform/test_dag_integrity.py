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


def test_one_ingest_task_per_source_and_the_stages(dag_info):
    ids = set(dag_info["task_ids"])
    assert {f"ingest.{s}" for s in SOURCE_NAMES} <= ids
    assert {"resolve_data_date", "prepare_candidate", "audit", "publish"} <= ids
    transform = [t for t in ids if t.startswith("transform.")]
    # Cosmos renders one `dbt build` task per model: the model, then its tests
    assert transform and all(t.endswith(("_model_build", "_seed_build", "_test")) for t in transform)
    assert "transform.customer_360_model_build" in ids
    assert "resolve_identities" in ids
    inputs = {t for t in ids if t.startswith("transform_inputs.")}
    assert "transform_inputs.stg_crm_customers__accounts_model_build" in inputs
    assert "transform_inputs.int_identifier_edges_collected_model_build" in inputs
    # the two dbt groups split the project: no model is rendered twice
    names = lambda prefix: {t.split(".", 1)[1] for t in ids if t.startswith(prefix)}  # noqa: E731
    assert names("transform_inputs.") & names("transform.") == set()


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
        assert {"prepare_candidate", "transform_inputs.stg_crm_customers__accounts_model_build",
                "resolve_identities", "transform.customer_360_model_build", "audit", "publish"} <= downstream
    assert "transform.customer_360_model_build" in reachable("resolve_identities")
    assert "resolve_identities" in reachable("transform_inputs.int_identifier_edges_collected_model_build")
    assert "publish" in reachable("audit")
    assert "audit" in reachable("transform.customer_360_model_build")


def test_schedule_retries_and_alerts(dag_info):
    assert dag_info["schedule"] == "0 2 * * * Asia/Seoul 1 day, 0:00:00"
    assert dag_info["catchup"] is False
    assert set(dag_info["retries"].values()) == {2}
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
