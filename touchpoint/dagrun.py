"""Execute touchpoint_nightly for one data date in this process, as `airflow dags test` does.

Run by `touchpoint run` in a child process whose environment already holds the Airflow
configuration (Airflow reads it at import). Writes {run_id, state} as JSON to --result.
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--date", required=True, type=date.fromisoformat)
    parser.add_argument("--result", required=True, type=Path)
    args = parser.parse_args()

    from airflow.dag_processing.dagbag import DagBag
    from airflow.settings import DAGS_FOLDER

    bag = DagBag(dag_folder=DAGS_FOLDER)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(DAG_ID)
    dag_run = dag.test(logical_date=logical_date_for(args.date), run_conf={"data_date": args.date.isoformat()})
    state = str(getattr(dag_run.state, "value", dag_run.state))
    args.result.write_text(json.dumps({"run_id": dag_run.run_id, "state": state, "data_date": args.date.isoformat()}))
    return 0 if state == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main())
