"""The embedded warehouse is private and its pipeline role is not a superuser (issue 10)."""
from __future__ import annotations

import os
import pwd
import socket
import stat
import subprocess
import uuid

import psycopg
import pytest
from psycopg import errors

from touchpoint import warehouse
from touchpoint.bootstrap import ensure_warehouse
from touchpoint.config import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def private_cluster():
    """A cluster of its own (module-scoped: start-up costs seconds)."""
    local = REPO_ROOT / ".local" / f"test-security-{uuid.uuid4().hex[:8]}"
    saved = {k: os.environ.get(k) for k in ("TOUCHPOINT_LOCAL_DIR", "TOUCHPOINT_WAREHOUSE_PORT", "WAREHOUSE_URL")}
    os.environ["TOUCHPOINT_LOCAL_DIR"] = str(local)
    os.environ["TOUCHPOINT_WAREHOUSE_PORT"] = str(_free_port())
    os.environ.pop("WAREHOUSE_URL", None)
    try:
        url = warehouse.start()
        yield {"url": url, "cluster": warehouse.cluster(), "admin_url": warehouse.admin_url()}
    finally:
        try:
            warehouse.stop()
        finally:
            subprocess.run(["rm", "-rf", str(local)], check=False)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _other_os_user(server_user: str | None) -> str | None:
    for name in ("nobody", "daemon"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if name != server_user:
            return name
    return None


def test_no_connection_without_a_password(private_cluster):
    c = private_cluster["cluster"]
    rules = [line.split() for line in (c.data_dir / "pg_hba.conf").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules and all(rule[-1] == "scram-sha-256" for rule in rules)
    # the socket folder is the server's alone; password files are the operator's, 0600
    assert stat.S_IMODE(c.socket_dir.stat().st_mode) == 0o700
    for secret in (c.password_file, c.admin_password_file):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    # a wrong password is refused over TCP
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://touchpoint_admin:wrong@127.0.0.1:{c.port}/postgres")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another OS user")
def test_another_os_user_is_refused(private_cluster):
    # GIVEN another local OS user, without the password files
    c = private_cluster["cluster"]
    other = _other_os_user(c.run_as)
    if other is None:
        pytest.skip("no second unprivileged OS user on this machine")
    entry = pwd.getpwnam(other)
    psql = str(c.bin_dir / "psql")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PGCONNECT_TIMEOUT": "5"}
    attempts = {
        "socket": [psql, "-w", "-h", str(c.socket_dir), "-p", str(c.port), "-U", "touchpoint_admin", "-d", "postgres",
                   "-c", "select 1"],
        "tcp": [psql, "-w", "-h", "127.0.0.1", "-p", str(c.port), "-U", "touchpoint_admin", "-d", "postgres",
                "-c", "select 1"],
    }
    for how, command in attempts.items():
        # WHEN it connects as the superuser THEN it is refused (the socket folder is out
        # of reach; TCP asks for a password it does not have)
        proc = subprocess.run(command, user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], env=env,
                              capture_output=True, text=True, cwd="/", timeout=30)
        assert proc.returncode != 0, f"{other} connected over {how}: {proc.stdout}"
        assert "Permission denied" in proc.stderr or "password" in proc.stderr, proc.stderr
    # AND it cannot read the password files either
    for secret in (c.password_file, c.admin_password_file):
        proc = subprocess.run(["cat", str(secret)], user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                              capture_output=True, text=True, cwd="/")
        assert proc.returncode != 0 and not proc.stdout


def test_pipeline_role_has_no_dangerous_rights(private_cluster):
    with psycopg.connect(private_cluster["url"], autocommit=True) as conn:
        attributes = conn.execute(
            "select rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls from pg_roles "
            "where rolname = current_user").fetchone()
        assert attributes == (False, False, False, False, False)
        for predefined in ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"):
            assert conn.execute("select pg_has_role(current_user, %s, 'member')", (predefined,)).fetchone()[0] is False
        for statement in ("copy (select 1) to program 'id'", "create role tp_escalate login",
                          "create database tp_escalate", "copy (select 1) to '/tmp/tp_escalate'"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        # but it owns its database and the schemas it bootstraps: the pipeline needs nothing more
        ensure_warehouse(conn)
        owner = conn.execute("select pg_get_userbyid(datdba) from pg_database where datname = current_database()")
        assert owner.fetchone()[0] == "touchpoint"
        schemas = dict(conn.execute("select nspname, pg_get_userbyid(nspowner) from pg_namespace "
                                    "where nspname in ('raw', 'ops', 'staging', 'intermediate', 'identity', 'marts')"))
        assert set(schemas.values()) == {"touchpoint"} and len(schemas) == 6


def test_an_older_cluster_is_made_private_at_its_next_start(private_cluster):
    # GIVEN a cluster as Touchpoint made them before issue 10: superuser `touchpoint`,
    # `trust` on the socket, no admin password file
    c = private_cluster["cluster"]
    with psycopg.connect(private_cluster["admin_url"], autocommit=True) as conn:
        conn.execute("alter role touchpoint superuser createrole createdb")
    (c.data_dir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    c.admin_password_file.unlink()
    # WHEN it is started again
    url = warehouse.start()
    # THEN the pipeline role lost its attributes, an admin with a new password exists,
    # and no trust line is left
    with psycopg.connect(url) as conn:
        assert conn.execute("select rolsuper or rolcreaterole or rolcreatedb from pg_roles "
                            "where rolname = current_user").fetchone()[0] is False
    with psycopg.connect(warehouse.admin_url()) as conn:
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0] is True
    assert "trust" not in (c.data_dir / "pg_hba.conf").read_text()
