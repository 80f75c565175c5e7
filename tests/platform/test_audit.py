"""The audit's dbt checks: failures, warn-severity tests and nodes that never ran."""
from __future__ import annotations

import json

import pytest

from touchpoint import audit
from touchpoint.dbt import manifest_path


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    nodes = {
        "model.touchpoint.a": {"resource_type": "model", "config": {}, "depends_on": {"nodes": []}},
        "model.touchpoint.b": {"resource_type": "model", "config": {}, "depends_on": {"nodes": ["model.touchpoint.a"]}},
        "test.touchpoint.t_error": {"resource_type": "test", "config": {"severity": "ERROR"},
                                    "depends_on": {"nodes": ["model.touchpoint.b"]}},
        "test.touchpoint.t_warn": {"resource_type": "test", "config": {"severity": "warn"},
                                   "depends_on": {"nodes": ["model.touchpoint.b"]}},
        "test.touchpoint.t_source": {"resource_type": "test", "config": {"severity": "error"},
                                     "depends_on": {"nodes": ["source.touchpoint.raw.x"]}},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes}))
    monkeypatch.setattr(audit, "manifest_path", lambda: path)
    return path


def record(conn, run_key, unique_id, rtype, status, severity=None):
    conn.execute(
        "insert into ops.dbt_results (run_key, invocation_id, unique_id, resource_type, node_name, status, severity)"
        " values (%s, 'inv', %s, %s, %s, %s, %s)",
        (run_key, unique_id, rtype, unique_id.split(".")[-1], status, severity),
    )


@pytest.fixture
def results_table(fresh_conn):
    fresh_conn.execute(
        "create table ops.dbt_results (run_key text, invocation_id text, unique_id text, resource_type text, "
        "node_name text, relation_schema text, status text, severity text, failures bigint, message text, "
        "execution_seconds numeric, recorded_at timestamptz default clock_timestamp())"
    )
    return fresh_conn


def failed_ids(conn, run):
    return {c["object_name"]: c["details"]["status"] for c in audit.dbt_checks(conn, run) if not c["passed"]}


def test_all_passing(manifest, results_table):
    for uid, rtype in [("model.touchpoint.a", "model"), ("model.touchpoint.b", "model")]:
        record(results_table, "r1", uid, rtype, "success")
    record(results_table, "r1", "test.touchpoint.t_error", "test", "pass", "ERROR")
    record(results_table, "r1", "test.touchpoint.t_source", "test", "pass", "error")
    assert failed_ids(results_table, "r1") == {}


def test_source_tests_are_expected_and_gate_publication(manifest, results_table):
    # GIVEN every model and model test passed WHEN the test on a raw source failed,
    # or did not run at all THEN the audit blocks on it
    for uid in ("model.touchpoint.a", "model.touchpoint.b"):
        record(results_table, "r1", uid, "model", "success")
        record(results_table, "r2", uid, "model", "success")
    record(results_table, "r1", "test.touchpoint.t_error", "test", "pass", "ERROR")
    record(results_table, "r2", "test.touchpoint.t_error", "test", "pass", "ERROR")
    record(results_table, "r1", "test.touchpoint.t_source", "test", "fail", "error")
    assert failed_ids(results_table, "r1") == {"test.touchpoint.t_source": "fail"}
    assert failed_ids(results_table, "r2") == {"test.touchpoint.t_source": "not run in this run"}


def test_error_test_failure_blocks_but_warn_does_not(manifest, results_table):
    for uid in ("model.touchpoint.a", "model.touchpoint.b"):
        record(results_table, "r1", uid, "model", "success")
    record(results_table, "r1", "test.touchpoint.t_error", "test", "fail", "ERROR")
    record(results_table, "r1", "test.touchpoint.t_warn", "test", "warn", "warn")
    record(results_table, "r1", "test.touchpoint.t_source", "test", "pass", "error")
    assert failed_ids(results_table, "r1") == {"test.touchpoint.t_error": "fail"}


def test_nodes_that_never_ran_count_as_failures(manifest, results_table):
    # GIVEN model b errored, so its test never ran WHEN audited THEN both block
    record(results_table, "r1", "model.touchpoint.a", "model", "success")
    record(results_table, "r1", "model.touchpoint.b", "model", "error")
    record(results_table, "r1", "test.touchpoint.t_source", "test", "pass", "error")
    assert failed_ids(results_table, "r1") == {
        "model.touchpoint.b": "error",
        "test.touchpoint.t_error": "not run in this run",
    }


def test_results_of_other_runs_do_not_count(manifest, results_table):
    for uid in ("model.touchpoint.a", "model.touchpoint.b"):
        record(results_table, "old_run", uid, "model", "success")
    record(results_table, "old_run", "test.touchpoint.t_error", "test", "pass", "ERROR")
    assert set(failed_ids(results_table, "new_run")) == {
        "model.touchpoint.a", "model.touchpoint.b", "test.touchpoint.t_error", "test.touchpoint.t_source"}


def test_a_retried_task_later_result_wins(manifest, results_table):
    for uid in ("model.touchpoint.a", "model.touchpoint.b"):
        record(results_table, "r1", uid, "model", "success")
    record(results_table, "r1", "test.touchpoint.t_error", "test", "error", "ERROR")
    record(results_table, "r1", "test.touchpoint.t_error", "test", "pass", "ERROR")
    record(results_table, "r1", "test.touchpoint.t_source", "test", "pass", "error")
    assert failed_ids(results_table, "r1") == {}


def test_suites_are_well_formed_and_name_real_expectations():
    suites = audit.load_suites()
    assert "customer_360" in suites
    for spec in suites.values():
        for item in spec["expectations"]:
            ((name, _kwargs),) = item.items()
            audit._expectation_class(name)  # raises on a typo


def test_a_malformed_suite_is_a_clear_error(tmp_path):
    (tmp_path / "broken.yml").write_text("expectations: []\n")
    with pytest.raises(ValueError, match="needs 'table' and 'expectations'"):
        audit.load_suites(tmp_path)


def test_checks_that_did_not_run_name_the_task_that_failed(manifest, results_table):
    # GIVEN an ingest task failed on an unreadable file, so the night never reached dbt
    from touchpoint.pipeline import verdict_text

    results_table.execute(
        "insert into ops.task_failures (dag_id, task_id, run_id, exception) values ('touchpoint_nightly', "
        "'ingest.loyalty_events', 'r1', 'LoadFailed: part-0002.jsonl.gz: gzip stream truncated\nTraceback ...')")
    checks = audit.dbt_checks(results_table, "r1")
    assert {c["status"] for c in checks} == {"not_run"}
    assert all("because task ingest.loyalty_events failed (LoadFailed: part-0002.jsonl.gz: gzip stream "
               "truncated)" in c["reason"] for c in checks)
    text = verdict_text(checks)
    assert text.startswith("publication blocked: 0 check(s) failed, 4 did not run because task "
                           "ingest.loyalty_events failed: ")
    # a run without a failed task keeps the general reason
    assert "the run stopped before it" in audit.dbt_checks(results_table, "r2")[0]["reason"]
    assert "because task" not in verdict_text(audit.dbt_checks(results_table, "r2"))
