"""Running dbt against the configured warehouse."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from touchpoint import warehouse
from touchpoint.config import settings
from touchpoint.db import url_parts


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment variables profiles.yml reads, derived from the warehouse URL."""
    cfg = settings()
    parts = url_parts(url or warehouse.url())
    return {
        "TOUCHPOINT_PG_HOST": parts["host"],
        "TOUCHPOINT_PG_PORT": parts["port"],
        "TOUCHPOINT_PG_USER": parts["user"],
        "TOUCHPOINT_PG_PASSWORD": parts["password"],
        "TOUCHPOINT_PG_DBNAME": parts["dbname"],
        "TOUCHPOINT_DBT_TARGET": cfg.dbt_target,
        "TOUCHPOINT_CANDIDATE_SCHEMA": cfg.candidate_schema,
        "DBT_PROFILES_DIR": str(cfg.dbt_project_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def export_dbt_env(url: str | None = None, missing_ok: bool = False) -> None:
    """Put dbt's connection variables into this process's environment."""
    try:
        os.environ.update(dbt_env(url))
    except warehouse.WarehouseError:
        if not missing_ok:
            raise


def dbt_executable() -> str:
    return str(Path(sys.executable).parent / "dbt")


def run_dbt(args: list[str], url: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `dbt <args>` in the project directory; output streams to the console."""
    cfg = settings()
    env = {**os.environ, **dbt_env(url)}
    cmd = [dbt_executable(), *args, "--project-dir", str(cfg.dbt_project_dir),
           "--profiles-dir", str(cfg.dbt_project_dir)]
    # Artifacts per Touchpoint home, not in the shared project folder: two homes (a test,
    # `make run`, a second checkout) never read each other's manifest. (Cosmos tasks use
    # their own temporary target folders.)
    if args and args[0] not in ("deps", "clean", "debug") and "--target-path" not in args:
        env["DBT_TARGET_PATH"] = str(target_dir())
        env.setdefault("DBT_LOG_PATH", str(cfg.local_dir / "dbt-logs"))
    proc = subprocess.run(cmd, env=env, cwd=cfg.dbt_project_dir)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`dbt {' '.join(args)}` failed with exit code {proc.returncode}")
    return proc


def target_dir() -> Path:
    return settings().local_dir / "dbt-target"


def manifest_path() -> Path:
    return target_dir() / "manifest.json"


def parse(url: str | None = None) -> Path:
    """Write the manifest Cosmos renders the DAG from (no DB work)."""
    run_dbt(["parse", "--quiet"], url=url)
    return manifest_path()
