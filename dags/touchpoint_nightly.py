"""touchpoint_nightly: ingest every channel → dbt (Cosmos) + identity resolution → audit → publish.

Thin by design: schedule, retries, alerts and wiring. The work lives in
`touchpoint.pipeline` and `ingestion`, importable and tested on their own. Parsing does
no dbt or Great Expectations work: Cosmos renders the dbt graph from the manifest that
`touchpoint dbt parse` (run by `make`, `touchpoint run` and the compose init job) writes.
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param, TaskGroup, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, SourceRenderingBehavior, TestBehavior

from ingestion.registry import SOURCE_NAMES
from touchpoint import pipeline
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

default_args = {
    "owner": "data-platform",
    "retries": cfg.task_retries,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "on_failure_callback": pipeline.record_task_failure,
}

with DAG(
    dag_id="touchpoint_nightly",
    description="Nightly omnichannel load: ingest 12 channels, build marts with dbt, audit, publish.",
    # 02:00 Seoul; the run's data interval is the preceding day (see pipeline.data_date_for).
    schedule=CronTriggerTimetable("0 2 * * *", timezone="Asia/Seoul", interval=timedelta(days=1)),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    params={"data_date": Param(None, type=["null", "string"], description="Delivery date YYYY-MM-DD to process")},
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
    def prepare_candidate(**context) -> None:
        pipeline.prepare_candidate(context["run_id"])

    # dbt runs in two Cosmos groups around identity resolution, which is Python (a
    # union-find over the identifier graph): staging + identity edges first, then
    # everything keyed by customer_id. The same selectors split the manifest exactly.
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
            dbt_executable_path=dbt_executable(),
            invocation_mode=InvocationMode.DBT_RUNNER,
        ),
        operator_args={
            "install_deps": False,
            "vars": {"touchpoint_run_id": "{{ run_id }}", "data_date": DATA_DATE},
        },
    )
    render_common = dict(
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=TestBehavior.BUILD,  # model then its tests, one dbt invocation
        source_rendering_behavior=SourceRenderingBehavior.NONE,
        # A test on two models (relationships) runs as its own task once both exist.
        should_detach_multiple_parents_tests=True,
        dbt_deps=False,
    )
    transform_inputs = DbtTaskGroup(
        group_id="transform_inputs",
        render_config=RenderConfig(select=identity_inputs, **render_common),
        **dbt_common,
    )

    @task
    def resolve_identities() -> dict:
        return pipeline.resolve_identities()

    transform = DbtTaskGroup(
        group_id="transform",
        render_config=RenderConfig(exclude=identity_inputs, **render_common),
        **dbt_common,
    )

    @task(trigger_rule="all_done")
    def audit(day: str, **context) -> None:
        pipeline.audit_and_decide(context["run_id"], pendulum.parse(day).date())

    @task
    def publish(day: str, **context) -> dict:
        return pipeline.publish_marts(context["run_id"], pendulum.parse(day).date())

    audited = audit(data_date)
    ingest >> prepare_candidate() >> transform_inputs >> resolve_identities() >> transform
    transform >> audited >> publish(data_date)
