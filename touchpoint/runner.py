"""`touchpoint run`: the nightly DAG for one date or a range, without a scheduler."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg

from touchpoint import warehouse
from touchpoint.airflow_env import airflow_env, ensure_metadata_db
from touchpoint.bootstrap import ensure_warehouse
from touchpoint.config import settings
from touchpoint.dbt import dbt_env, run_dbt, target_dir


@dataclass
class RunOutcome:
    data_date: date
    run_id: str | None
    state: str
    seconds: float
    log_file: object = None
    stages: list = field(default_factory=list)  # per-stage task count and seconds (dagrun.stage_timings)


def dates_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def prepare(url: str) -> dict[str, str]:
    """Everything a DAG run needs: warehouse schemas, the dbt manifest, Airflow's metadata DB."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_warehouse(conn)
    # The manifest Cosmos renders from, parsed with the flags Cosmos's tasks pass dbt
    # (--profile/--target are part of dbt's partial-parse key): see seed_partial_parse.
    run_dbt(["parse", "--quiet", "--profile", "touchpoint", "--target", settings().dbt_target], url=url)
    env = airflow_env()
    seed_partial_parse(Path(env["AIRFLOW__COSMOS__CACHE_DIR"]))
    env.update(dbt_env(url))
    if not settings().warehouse_url:
        env["WAREHOUSE_URL"] = url  # children use the same warehouse without re-deriving it
    # Fail fast in-process: a retry with exponential backoff would wait minutes.
    env.setdefault("TOUCHPOINT_TASK_RETRIES", "0")
    ensure_metadata_db(env)
    return env


def seed_partial_parse(cache_dir: Path) -> None:
    """Hand each Cosmos dbt group the partial parse `touchpoint dbt parse` just wrote.

    Cosmos starts every dbt invocation from the newest of its group's cached
    partial_parse.msgpack and the project's target/ (ours lives in the Touchpoint home,
    where Cosmos does not look). Same project, profile and vars as the producers' `dbt
    build`, so dbt reuses it instead of parsing the whole project once per group.
    """
    parsed = target_dir() / "partial_parse.msgpack"
    if not parsed.exists():
        return
    for group in ("transform_inputs", "transform"):
        target = cache_dir / f"touchpoint_nightly__{group}" / "target"
        cached = target / "partial_parse.msgpack"
        if cached.exists() and cached.stat().st_mtime >= parsed.stat().st_mtime:
            continue
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(parsed, cached)
        shutil.copy2(target_dir() / "manifest.json", target / "manifest.json")


def run_date(data_date: date, env: dict[str, str], verbose: bool = False, full_refresh: bool = False) -> RunOutcome:
    """Run the DAG for one date in a child process; its Airflow log goes to a file."""
    runs_dir = settings().local_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    result_file = runs_dir / f"{data_date.isoformat()}.json"
    log_file = runs_dir / f"{data_date.isoformat()}.log"
    result_file.unlink(missing_ok=True)
    started = time.monotonic()
    cmd = [sys.executable, "-m", "touchpoint.dagrun", "--date", data_date.isoformat(), "--result", str(result_file)]
    if full_refresh:
        cmd.append("--full-refresh")
    if verbose:
        proc = subprocess.run(cmd, env=env)
    else:
        print(f"Airflow log: {log_file}", flush=True)
        with log_file.open("w") as log:
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if result_file.exists():
        info = json.loads(result_file.read_text())
        outcome = RunOutcome(data_date, info["run_id"], info["state"], seconds, log_file, info.get("stages", []))
    else:
        outcome = RunOutcome(data_date, None, f"crashed (exit {proc.returncode})", seconds, log_file)
    if outcome.state != "success" and not verbose:
        _print_failure_excerpt(log_file)
    return outcome


def _print_failure_excerpt(log_file) -> None:
    """The lines of the Airflow log that say what failed, so nobody has to open it first."""
    lines = log_file.read_text(errors="replace").splitlines()
    errors = [line for line in lines if "[error" in line or "Error:" in line or "Exception:" in line]
    excerpt = (errors or lines)[-15:]
    print("What failed (from the Airflow log):", file=sys.stderr)
    for line in excerpt:
        print("  " + line[:400], file=sys.stderr)


def run(dates: list[date], verbose: bool = False, full_refresh: bool = False,
        wait_seconds: float | None = None) -> list[RunOutcome]:
    """Run the nightly DAG for each date in order, holding the warehouse's run lock.

    `full_refresh` rebuilds from raw on the first date only (every model with dbt's
    --full-refresh, every identity re-resolved); later dates of a backfill build on it
    incrementally, as scheduled nights would. Another run holding the warehouse makes it
    wait up to `wait_seconds` (default TOUCHPOINT_RUN_LOCK_WAIT, else 0), then raise
    RunLockHeld before anything is touched.
    """
    from touchpoint.runlock import HOLDER_ENV, exclusive_run
    from touchpoint.summary import print_summary

    url = warehouse.start()
    what = f"touchpoint run {dates[0]}" + (f"..{dates[-1]}" if len(dates) > 1 else "")
    with exclusive_run(url, what, wait_seconds=wait_seconds) as holder:
        env = prepare(url)
        if holder is not None:
            env[HOLDER_ENV] = str(holder)  # the DAG's tasks run under this lock (runlock.inherited)
        outcomes = []
        for index, day in enumerate(dates):
            refresh = full_refresh and index == 0
            print(f"== touchpoint_nightly for data date {day}{' (full refresh)' if refresh else ''} ==", flush=True)
            outcome = run_date(day, env, verbose, full_refresh=refresh)
            print_summary(url, outcome)
            outcomes.append(outcome)
            if outcome.state != "success" and os.environ.get("TOUCHPOINT_CONTINUE_ON_FAILURE") != "1":
                break  # later dates build on this one: stop the backfill at the first failure
    return outcomes
