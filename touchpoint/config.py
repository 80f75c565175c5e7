"""Settings read from the environment, with defaults that work on a fresh clone.

Every variable is listed in README.md's configuration table; keep the two in step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    # Everything machine-local (cluster data, Airflow home, sample data) lives here.
    local_dir: Path
    # Landing directory: <landing>/<source>/<YYYY-MM-DD>/*.jsonl|*.csv[.gz]
    landing_dir: Path
    # A full libpq URL; when set nothing is started and every command uses it.
    warehouse_url: str | None
    # Port of the embedded cluster (loopback only).
    embedded_port: int
    dbt_project_dir: Path
    dbt_target: str
    # Airflow task retries for the nightly DAG (touchpoint run defaults to 0).
    task_retries: int
    # Schema dbt writes the candidate marts to (write-audit-publish).
    candidate_schema: str

    @property
    def pg_dir(self) -> Path:
        return self.local_dir / "pg"

    @property
    def airflow_home(self) -> Path:
        return self.local_dir / "airflow"


def settings() -> Settings:
    local_dir = _path("TOUCHPOINT_LOCAL_DIR", REPO_ROOT / ".local")
    return Settings(
        local_dir=local_dir,
        landing_dir=_path("TOUCHPOINT_LANDING_DIR", REPO_ROOT / "landing"),
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        embedded_port=int(os.environ.get("TOUCHPOINT_WAREHOUSE_PORT", "55432")),
        dbt_project_dir=_path("TOUCHPOINT_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"),
        dbt_target=os.environ.get("TOUCHPOINT_DBT_TARGET", "warehouse"),
        task_retries=int(os.environ.get("TOUCHPOINT_TASK_RETRIES", "2")),
        candidate_schema=os.environ.get("TOUCHPOINT_CANDIDATE_SCHEMA", "marts_candidate"),
    )
