"""Full refresh gives the same answer as the incremental nights (issue 8).

Three nights of generated deliveries (a week of history in the first, late and re-sent
records in the later ones) run incrementally through the real DAG; then a copy of the
warehouse, made after the third night, reruns that night with `--full-refresh`. Every
published mart must have identical contents in both (row counts and an md5 over the
ordered rows), and the same view definitions.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import psycopg
import pytest

from marts_snapshot import differing_rows, snapshot
from touchpoint.config import REPO_ROOT
from touchpoint.db import admin_database_url, owned_by, with_database

START = date(2026, 11, 1)
NIGHTS = 3


def touchpoint_runner(url: str, local_dir, landing_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TOUCHPOINT_", "DBT_"))}
    env.update(WAREHOUSE_URL=url, TOUCHPOINT_LOCAL_DIR=str(local_dir), TOUCHPOINT_LANDING_DIR=str(landing_dir))

    def run(*args):
        proc = subprocess.run([sys.executable, "-m", "touchpoint.cli", *args], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        return proc

    return run


@pytest.fixture(scope="module")
def incremental_and_full(module_db_url, warehouse_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("full_refresh")
    landing = root / "sample" / "landing"
    run = touchpoint_runner(module_db_url, root / "local", landing)
    run("generate", "--customers", "300", "--days", str(NIGHTS), "--start", START.isoformat(),
        "--history-days", "7", "--seed", "23", "--out", str(root / "sample"))
    for night in range(NIGHTS):
        run("run", "--date", (START + timedelta(days=night)).isoformat())
    copy_name = f"{module_db_url.rsplit('/', 1)[1]}_full"
    with psycopg.connect(admin_database_url(warehouse_url), autocommit=True) as conn:
        conn.execute(f'create database "{copy_name}" template "{module_db_url.rsplit("/", 1)[1]}"{owned_by(warehouse_url)}')
    copy_url = with_database(module_db_url, copy_name)
    try:
        full = touchpoint_runner(copy_url, root / "local_full", landing)
        proc = full("run", "--date", (START + timedelta(days=NIGHTS - 1)).isoformat(), "--full-refresh")
        yield {"incremental": module_db_url, "full": copy_url, "full_stdout": proc.stdout}
    finally:
        with psycopg.connect(admin_database_url(warehouse_url), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{copy_name}" with (force)')


def test_the_nights_had_late_and_resent_records(incremental_and_full):
    # GIVEN the scenario WHEN its raw data is read THEN it exercised what incremental
    # models get wrong most easily: records delivered again in a later night, and records
    # that arrived a day or more after they happened
    with psycopg.connect(incremental_and_full["incremental"]) as conn:
        resent = conn.execute(
            "select count(*) from (select account_id from raw.crm_customers group by 1 "
            "having count(distinct _load_id) > 1) as keys").fetchone()[0]
        late = conn.execute(
            "select count(*) from raw.web_events "
            "where (event_timestamp at time zone 'Asia/Seoul')::date < _logical_date - 1 "
            "and _logical_date > %s", (START,)).fetchone()[0]
    assert resent > 0 and late > 0, {"resent_accounts": resent, "late_web_events": late}


def test_full_refresh_publishes_identical_marts(incremental_and_full):
    # GIVEN three incremental nights WHEN the third is rerun with --full-refresh on a copy
    # THEN every published mart has the same rows as the incremental warehouse
    assert "(full refresh)" in incremental_and_full["full_stdout"]
    assert "Publication: published" in incremental_and_full["full_stdout"]
    incremental = snapshot(incremental_and_full["incremental"])
    full = snapshot(incremental_and_full["full"])
    assert incremental["data"], "nothing published"
    assert all(count > 0 for count, _ in incremental["data"].values()), incremental["data"]
    assert [name for name, _ in full["views"]] == [name for name, _ in incremental["views"]]
    for view, figures in incremental["data"].items():
        assert full["data"][view] == figures, (view, differing_rows(
            incremental_and_full["incremental"], incremental_and_full["full"], view))
