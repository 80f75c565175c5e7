"""Embedded warehouse bootstrap: a private cluster of its own, idempotent, overridable."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import psycopg
import pytest

from touchpoint import warehouse
from touchpoint.config import REPO_ROOT, settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_cluster_env(monkeypatch):
    # Under the repo (not /tmp/pytest-of-root, which is 0700) so that, as root, the
    # unprivileged server user can reach it.
    local = REPO_ROOT / ".local" / f"test-cluster-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TOUCHPOINT_LOCAL_DIR", str(local))
    monkeypatch.setenv("TOUCHPOINT_WAREHOUSE_PORT", str(_free_port()))
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    yield local
    try:
        warehouse.stop()
    except warehouse.WarehouseError:
        pass  # the test made the binaries unavailable
    finally:
        subprocess.run(["rm", "-rf", str(local)], check=False)


def test_start_twice_is_idempotent_then_stop(private_cluster_env):
    # GIVEN no cluster WHEN started twice THEN the same URL answers queries
    first = warehouse.start()
    second = warehouse.start()
    assert first == second
    with psycopg.connect(first) as conn:
        assert conn.execute("select current_database(), current_setting('TimeZone')").fetchone() == ("touchpoint", "UTC")
    running, text = warehouse.status()
    assert running and "running" in text
    assert (private_cluster_env / "pg" / "data" / "PG_VERSION").exists()
    # WHEN stopped THEN status says so and a second stop is harmless
    assert warehouse.stop() == "embedded warehouse stopped"
    assert warehouse.status()[0] is False
    assert "not running" in warehouse.stop()
    # AND a restart keeps the data
    url = warehouse.start()
    with psycopg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_warehouse_url_overrides_everything(private_cluster_env, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://someone:secret@db.example:5432/wh")
    assert warehouse.start() == "postgresql://someone:secret@db.example:5432/wh"
    assert warehouse.url() == "postgresql://someone:secret@db.example:5432/wh"
    running, text = warehouse.status()
    assert running and "***" in text and "secret" not in text
    assert "nothing to stop" in warehouse.stop()
    # nothing was created on disk
    assert not (private_cluster_env / "pg").exists()


def test_cli_url_and_status_use_warehouse_url(monkeypatch):
    env = {"WAREHOUSE_URL": "postgresql://a:b@h:1/d", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "touchpoint.cli", "warehouse", "url"], env=env,
                         capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "postgresql://a:b@h:1/d"


def test_no_binaries_and_no_url_explains_the_fixes(private_cluster_env, monkeypatch):
    monkeypatch.setattr(warehouse, "find_bin_dir", lambda: None)
    with pytest.raises(warehouse.WarehouseError) as err:
        warehouse.start()
    message = str(err.value)
    for fix in ("apt-get install", "WAREHOUSE_URL", "docker compose up"):
        assert fix in message


def test_port_taken_by_another_program(private_cluster_env, monkeypatch):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        monkeypatch.setenv("TOUCHPOINT_WAREHOUSE_PORT", str(squatter.getsockname()[1]))
        with pytest.raises(warehouse.WarehouseError, match="TOUCHPOINT_WAREHOUSE_PORT"):
            warehouse.start()


def test_settings_defaults_point_into_the_repo(monkeypatch):
    for var in ("TOUCHPOINT_LOCAL_DIR", "TOUCHPOINT_LANDING_DIR", "WAREHOUSE_URL"):
        monkeypatch.delenv(var, raising=False)
    cfg = settings()
    assert cfg.local_dir == REPO_ROOT / ".local"
    assert cfg.landing_dir == REPO_ROOT / "landing"
    assert cfg.pg_dir == REPO_ROOT / ".local" / "pg"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_as_root_a_clone_the_server_user_cannot_reach_still_gets_a_cluster(private_cluster_env, monkeypatch):
    # GIVEN a Touchpoint home inside a 0700 folder (like a clone under /root)
    locked = private_cluster_env / "locked"
    locked.mkdir(parents=True)
    os.chmod(locked, 0o700)
    monkeypatch.setenv("TOUCHPOINT_LOCAL_DIR", str(locked / "home"))
    # WHEN started THEN the cluster lives in a private folder the server user can reach
    url = warehouse.start()
    c = warehouse.cluster()
    assert str(c.data_dir).startswith("/var/tmp/touchpoint-pg-")
    with psycopg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert warehouse.stop() == "embedded warehouse stopped"
    subprocess.run(["rm", "-rf", str(c.data_dir.parent)], check=False)
