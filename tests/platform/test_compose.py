"""docker-compose.yml cannot be run here (no Docker engine), so check what it refers to."""
from __future__ import annotations

import re

import yaml

from touchpoint.cli import build_parser
from touchpoint.config import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_full_stack_services_exist():
    assert {"warehouse", "airflow-metadata", "airflow-init", "airflow-api-server", "airflow-scheduler",
            "airflow-dag-processor", "airflow-triggerer"} <= set(SERVICES)


def test_mounts_point_at_real_repo_paths():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("./"):
                assert (REPO_ROOT / host[2:]).exists(), f"{name} mounts missing path {host}"
    mounted = {v.split(":")[0] for v in SERVICES["airflow-scheduler"]["volumes"]}
    assert {"./dags", "./dbt_project", "./ingestion", "./touchpoint", "./expectations"} <= mounted


def test_commands_are_real_touchpoint_and_airflow_commands():
    parser = build_parser()
    init = " ".join(SERVICES["airflow-init"]["command"])
    touchpoint_calls = re.findall(r"touchpoint ([a-z]+(?: [a-z]+)?)", init)
    assert touchpoint_calls, "the init job should prepare the warehouse with touchpoint"
    for call in touchpoint_calls:
        parser.parse_args(call.split())  # raises SystemExit on an unknown command
    for name in ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        cmd = SERVICES[name]["command"]
        assert cmd[0] == "airflow" and cmd[1] in {"api-server", "scheduler", "dag-processor", "triggerer"}


def test_env_names_the_warehouse_and_real_folders():
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["WAREHOUSE_URL"].startswith("postgresql://") and "@warehouse:5432/" in env["WAREHOUSE_URL"]
    mounted_targets = {v.split(":")[1] for v in SERVICES["airflow-scheduler"]["volumes"]}
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] in mounted_targets
    assert env["TOUCHPOINT_LANDING_DIR"] in mounted_targets
    # the warehouse port BI tools use is published and documented in the README
    assert "127.0.0.1:5433:5432" in SERVICES["warehouse"]["ports"]
    assert "5433" in (REPO_ROOT / "README.md").read_text()


def test_no_usable_secret_is_in_the_repo():
    # every password, key and secret the stack uses comes from the untracked .env
    # (`${NAME:?...}` makes compose refuse to start without it), and ports are loopback only
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    secret_keys = re.findall(r"^\s*([A-Z_]*(?:PASSWORD|SECRET|KEY))\s*:\s*(.+)$", text, flags=re.M)
    assert secret_keys
    for name, value in secret_keys:
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value.strip()), f"{name} is not taken from .env: {value}"
    for url in re.findall(r"postgresql(?:\+psycopg2)?://[^\s]+", text):
        password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        assert password.startswith("${"), f"a literal password in {url}"
    for service in SERVICES.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
    example = (REPO_ROOT / ".env.example").read_text()
    assert all(line.endswith("=") for line in example.splitlines() if line and not line.startswith("#"))
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()


def test_make_env_writes_random_private_secrets(tmp_path):
    import os
    import stat
    import subprocess
    import sys

    target = tmp_path / ".env"
    subprocess.run([sys.executable, str(REPO_ROOT / "docker" / "make_env.py"), str(target)], check=True,
                   capture_output=True)
    values = dict(line.split("=", 1) for line in target.read_text().splitlines() if not line.startswith("#"))
    needed = set(re.findall(r"\$\{([A-Z_]+):\?", (REPO_ROOT / "docker-compose.yml").read_text()))
    assert needed <= set(values) and all(len(v) >= 32 for v in values.values())
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    before = target.read_text()
    subprocess.run([sys.executable, str(REPO_ROOT / "docker" / "make_env.py"), str(target)], check=True,
                   capture_output=True)
    assert target.read_text() == before  # never overwritten
