"""Airflow configuration for running the DAG in-process, kept under .local/airflow."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from touchpoint.config import REPO_ROOT, settings


def airflow_env(base: dict[str, str] | None = None) -> dict[str, str]:
    cfg = settings()
    home = cfg.airflow_home
    env = dict(base if base is not None else os.environ)
    env.setdefault("AIRFLOW_HOME", str(home))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    env.setdefault("AIRFLOW__CORE__DEFAULT_TIMEZONE", "Asia/Seoul")
    env.setdefault("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(home / "logs"))
    env.setdefault("AIRFLOW__COSMOS__ENABLE_CACHE", "True")
    # Cosmos keeps dbt's partial-parse file per group here: per Touchpoint home, so two
    # homes (tests, `make run`, a second checkout) never hand each other a parse made
    # for another warehouse (dbt would reject it and parse from scratch).
    env.setdefault("AIRFLOW__COSMOS__CACHE_DIR", str(cfg.local_dir / "cosmos-cache"))
    env.setdefault("AIRFLOW__COSMOS__PROPAGATE_LOGS", "False")
    # No phoning home from a warehouse job (and no network here to try).
    env.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    env.setdefault("SCARF_ANALYTICS", "false")
    env.setdefault("DO_NOT_TRACK", "true")
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    env.setdefault("PYTHONPATH", str(REPO_ROOT))
    return env


def ensure_metadata_db(env: dict[str, str]) -> None:
    """Create/upgrade the Airflow metadata database once per Airflow version."""
    from importlib.metadata import version

    # Not `import airflow`: importing it here, before AIRFLOW_HOME applies, would write a
    # default ~/airflow/airflow.cfg on the operator's machine.
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    marker = home / f".migrated-{version('apache-airflow')}"
    if marker.exists() and (home / "airflow.db").exists():
        return
    airflow_bin = str(Path(sys.executable).parent / "airflow")
    proc = subprocess.run([airflow_bin, "db", "migrate"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"`airflow db migrate` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    marker.write_text("ok\n")
