"""Execute touchpoint_nightly for one data date in this process, as `airflow dags test` does.

Run by `touchpoint run` in a child process whose environment already holds the Airflow
configuration (Airflow reads it at import). Writes {run_id, state} as JSON to --result.
--full-refresh puts `full_refresh: true` in the run conf (see the DAG's docstring).
"""
from __future__ import annotations

import argparse
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

DAG_ID = "touchpoint_nightly"


def logical_date_for(data_date: date) -> datetime:
    """The 02:00 KST trigger that follows the data date (the scheduled run that would load it)."""
    return datetime.combine(data_date + timedelta(days=1), time(2, 0), tzinfo=ZoneInfo("Asia/Seoul"))


def stage_timings(run_id: str) -> list[dict]:
    """Per stage (ingest, transform_inputs, ...: a task id's first part), in start order:
    task count, wall seconds from first start to last end, and summed task seconds."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    stages: dict[str, dict] = {}
    with create_session() as session:
        tis = session.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)).all()
        for ti in tis:
            stage = stages.setdefault(ti.task_id.split(".", 1)[0], {"tasks": 0, "starts": [], "ends": [], "task_s": 0.0})
            stage["tasks"] += 1
            stage["task_s"] += ti.duration or 0.0
            if ti.start_date and ti.end_date:
                stage["starts"].append(ti.start_date)
                stage["ends"].append(ti.end_date)
    out = []
    for name, stage in stages.items():
        wall = (max(stage["ends"]) - min(stage["starts"])).total_seconds() if stage["starts"] else 0.0
        out.append({"stage": name, "tasks": stage["tasks"], "wall_s": round(wall, 1),
                    "task_s": round(stage["task_s"], 1), "first_start": min(stage["starts"], default=None)})
    out.sort(key=lambda s: (s["first_start"] is None, s["first_start"] or 0))
    return [{k: v for k, v in s.items() if k != "first_start"} for s in out]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--date", required=True, type=date.fromisoformat)
    parser.add_argument("--result", required=True, type=Path)
    parser.add_argument("--full-refresh", action="store_true")
    args = parser.parse_args()

    from airflow.dag_processing.dagbag import DagBag
    from airflow.settings import DAGS_FOLDER

    bag = DagBag(dag_folder=DAGS_FOLDER)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(DAG_ID)
    conf = {"data_date": args.date.isoformat(), "full_refresh": args.full_refresh}
    dag_run = dag.test(logical_date=logical_date_for(args.date), run_conf=conf)
    state = str(getattr(dag_run.state, "value", dag_run.state))
    args.result.write_text(json.dumps({"run_id": dag_run.run_id, "state": state, **conf,
                                       "stages": stage_timings(dag_run.run_id)}))
    return 0 if state == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main())
