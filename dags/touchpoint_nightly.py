"""touchpoint_nightly: ingest every channel → dbt (Cosmos) + identity resolution → audit → publish.

Thin by design: schedule, retries, alerts and wiring. The work lives in
`touchpoint.pipeline` and `ingestion`, importable and tested on their own. Parsing does
no dbt or Great Expectations work: Cosmos renders the dbt graph from the manifest that
`touchpoint dbt parse` (run by `make`, `touchpoint run` and the compose init job) writes.

dbt runs in Cosmos's watcher mode: per group, one producer task runs a single threaded
`dbt build` in a subprocess (models, seeds, their tests and the tests on the raw
sources it selects; unit tests run in `make test`, not nightly),
and one sensor task per model (`<model>.run`) and per model's tests (`<model>.test`)
reports that node's result from the producer, so each model stays visible and
retryable in Airflow without paying dbt's start-up once per model. A retried sensor
runs its own model (`dbt run -s <model>`) or tests (`dbt test -s <model>`).

Run conf: `data_date` (YYYY-MM-DD) picks the delivery; `full_refresh: true` rebuilds
every model from raw (`dbt build --full-refresh`, a dropped candidate schema) and
re-resolves every identity (`touchpoint run --full-refresh` sets it).
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param, TaskGroup, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, SourceRenderingBehavior, TestBehavior

from ingestion.registry import SOURCE_NAMES
from touchpoint import alerts, pipeline
from touchpoint.config import settings
from touchpoint.dbt import dbt_executable, export_dbt_env, manifest_path

cfg = settings()
# dbt's profile reads TOUCHPOINT_PG_* from the environment; derive them from the
# warehouse URL (a file read, no connection) so workers need only WAREHOUSE_URL.
export_dbt_env(missing_ok=True)

DATA_DATE = (
    "{{ dag_run.conf.get('data_date') if dag_run.conf and dag_run.conf.get('data_date') "
    "else data_interval_start.in_timezone('Asia/Seoul').strftime('%Y-%m-%d') }}"
)
# Rendered to "True"/"False"; Cosmos adds --full-refresh to the producer's dbt build.
FULL_REFRESH = "{{ (dag_run.conf or {}).get('full_refresh', False) | string }}"

default_args = {
    "owner": "data-platform",
    "retries": cfg.task_retries,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": pipeline.record_task_failure,
}


def full_refresh_requested(context) -> bool:
    conf = context["dag_run"].conf or {}
    return str(conf.get("full_refresh", False)).lower() in ("true", "1", "yes")


def watch_after_producer(group: DbtTaskGroup) -> None:
    """Make the group's sensors report what its producer has finished, never race it.

    The producer (the group's one `dbt build`) becomes the group's only root: each sensor
    that had no upstream inside the group waits for it to succeed or fail (one_done),
    then reads its node's result at once. Racing would gain nothing here (one worker
    slot, dbt's threads already run the models in parallel), and under `dag.test`
    (`touchpoint run`, one task at a time) a sensor that started first would wait
    forever for a producer that cannot start. The producer does not retry (Cosmos skips
    a retried producer); a failed node's sensor retries instead, and the done gate
    always completes so a recovered group is not held back by the producer's failure.
    """
    producer = group.children[f"{group.group_id}.dbt_producer_watcher"]
    gate = group.children[f"{group.group_id}.dbt_producer_watcher_done"]
    producer.retries = 0
    gate.trigger_rule = "all_done"
    for root in group.get_roots():
        if root is not producer:
            producer >> root
            root.trigger_rule = "one_done"


with DAG(
    dag_id="touchpoint_nightly",
    description="Nightly omnichannel load: ingest 12 channels, build marts with dbt, audit, publish.",
    # 02:00 Seoul; the run's data interval is the preceding day (see pipeline.data_date_for).
    schedule=CronTriggerTimetable("0 2 * * *", timezone="Asia/Seoul", interval=timedelta(days=1)),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    # A failed run (a blocked night fails: the audit raises) alerts the configured channels
    # and frees the warehouse for the next run (touchpoint/runlock.py).
    on_failure_callback=[*alerts.night_failure_notifiers(), pipeline.release_night_lease],
    params={
        "data_date": Param(None, type=["null", "string"], description="Delivery date YYYY-MM-DD to process"),
        "full_refresh": Param(False, type="boolean", description="Rebuild every model and identity from raw"),
    },
    tags=["touchpoint", "nightly"],
    doc_md=__doc__,
) as dag:

    @task
    def resolve_data_date(**context) -> str:
        return pipeline.data_date_for(
            context["dag_run"].conf, context.get("data_interval_start"), context.get("logical_date")
        ).isoformat()

    data_date = resolve_data_date()

    with TaskGroup(group_id="ingest") as ingest:
        for source in SOURCE_NAMES:

            @task(task_id=source)
            def ingest_source(day: str, source: str = source) -> dict:
                return pipeline.ingest_source(source, pendulum.parse(day).date())

            ingest_source(data_date)

    @task
    def check_source_freshness(day: str, **context) -> None:
        pipeline.check_source_freshness(context["run_id"], pendulum.parse(day).date())

    @task
    def prepare_candidate(**context) -> None:
        pipeline.prepare_candidate(context["run_id"], full_refresh=full_refresh_requested(context))

    # dbt runs in two Cosmos groups around identity resolution, which is Python (a
    # union-find over the identifier graph): staging + identity edges first, then
    # everything keyed by customer_id. The same selectors split the manifest exactly;
    # `path:models/staging` also selects the raw sources declared there, so the first
    # producer's `dbt build` runs the source tests too.
    identity_inputs = ["path:models/staging", "path:seeds", "tag:identity_input"]
    dbt_common = dict(
        project_config=ProjectConfig(
            dbt_project_path=cfg.dbt_project_dir,
            manifest_path=manifest_path(),
            project_name="touchpoint",
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="touchpoint",
            target_name=cfg.dbt_target,
            profiles_yml_filepath=cfg.dbt_project_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            dbt_executable_path=dbt_executable(),
            # dbt in its own process: in-process (DBT_RUNNER) its threads share one GIL
            # with the task's logging and XCom pushes (four per node), which more than
            # doubled each group's wall time (2,000 customers: 137 s -> 60 s a night).
            invocation_mode=InvocationMode.SUBPROCESS,
        ),
        operator_args={
            "install_deps": False,
            "full_refresh": FULL_REFRESH,
            # Per-run values go in the environment, not --vars: changed vars make dbt
            # re-parse the whole project, an env var only the files that read it.
            # TOUCHPOINT_RUN_ID keys ops.dbt_results (record_run_results), the data
            # date feeds as_of_date().
            # Unit tests check the SQL logic against fixed inputs, not the night's data:
            # they run in `make test` (tests/dbt/test_unit_tests.py), not every night.
            "env": {
                "TOUCHPOINT_RUN_ID": "{{ run_id }}",
                "TOUCHPOINT_DATA_DATE": DATA_DATE,
                "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
            },
        },
    )
    render_common = dict(
        load_method=LoadMode.DBT_MANIFEST,
        # Watcher mode: a `.run` sensor per model, then a `.test` sensor for its tests
        # (the producer's one dbt build ran both; TestBehavior.BUILD is not offered).
        test_behavior=TestBehavior.AFTER_EACH,
        source_rendering_behavior=SourceRenderingBehavior.NONE,
        # A test on two models (relationships) reports as its own task once both exist.
        should_detach_multiple_parents_tests=True,
        dbt_deps=False,
    )
    # Cosmos renders a test beside every parent it has in a group, whatever the
    # selectors say: a test must not refer to models of both groups (see
    # tests/reconciliation), or the first group would run it before its marts exist.
    transform_inputs = DbtTaskGroup(
        group_id="transform_inputs",
        render_config=RenderConfig(select=identity_inputs, **render_common),
        **dbt_common,
    )
    watch_after_producer(transform_inputs)

    @task
    def resolve_identities(**context) -> dict:
        return pipeline.resolve_identities(full=full_refresh_requested(context), run_id=context["run_id"])

    transform = DbtTaskGroup(
        group_id="transform",
        render_config=RenderConfig(exclude=identity_inputs, **render_common),
        **dbt_common,
    )
    watch_after_producer(transform)

    @task(trigger_rule="all_done")
    def audit(day: str, **context) -> None:
        pipeline.audit_and_decide(context["run_id"], pendulum.parse(day).date())

    @task
    def publish(day: str, **context) -> dict:
        return pipeline.publish_marts(context["run_id"], pendulum.parse(day).date())

    audited = audit(data_date)
    ingest >> check_source_freshness(data_date) >> prepare_candidate() >> transform_inputs
    transform_inputs >> resolve_identities() >> transform
    transform >> audited >> publish(data_date)
