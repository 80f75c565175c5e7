"""`touchpoint run`: the nightly DAG for one date or a range, without a scheduler."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from touchpoint import warehouse
from touchpoint.airflow_env import airflow_env, ensure_metadata_db
from touchpoint.bootstrap import ensure_warehouse
from touchpoint.config import settings
from touchpoint.dbt import dbt_env, parse


@dataclass
class RunOutcome:
    data_date: date
    run_id: str | None
    state: str
    seconds: float


def dates_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def prepare(url: str) -> dict[str, str]:
    """Everything a DAG run needs: warehouse schemas, the dbt manifest, Airflow's metadata DB."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_warehouse(conn)
    parse(url)
    env = airflow_env()
    env.update(dbt_env(url))
    if not settings().warehouse_url:
        env["WAREHOUSE_URL"] = url  # children use the same warehouse without re-deriving it
    # Fail fast in-process: a retry with exponential backoff would wait minutes.
    env.setdefault("TOUCHPOINT_TASK_RETRIES", "0")
    ensure_metadata_db(env)
    return env


def run_date(data_date: date, env: dict[str, str]) -> RunOutcome:
    result_file = settings().local_dir / "runs" / f"{data_date.isoformat()}.json"
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.unlink(missing_ok=True)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "touchpoint.dagrun", "--date", data_date.isoformat(), "--result", str(result_file)],
        env=env,
    )
    seconds = time.monotonic() - started
    if result_file.exists():
        info = json.loads(result_file.read_text())
        return RunOutcome(data_date, info["run_id"], info["state"], seconds)
    return RunOutcome(data_date, None, f"crashed (exit {proc.returncode})", seconds)


def run(dates: list[date]) -> list[RunOutcome]:
    from touchpoint.summary import print_summary

    url = warehouse.start()
    env = prepare(url)
    outcomes = []
    for day in dates:
        print(f"== touchpoint_nightly for data date {day} ==", flush=True)
        outcome = run_date(day, env)
        print_summary(url, outcome)
        outcomes.append(outcome)
        if outcome.state != "success" and os.environ.get("TOUCHPOINT_CONTINUE_ON_FAILURE") != "1":
            break  # later dates build on this one: stop the backfill at the first failure
    return outcomes
