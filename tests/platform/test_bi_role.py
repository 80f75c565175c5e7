"""The BI role on a real PostgreSQL: it reads the `marts` views and is refused everything
else (each denial tried as that role, over TCP with its password)."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors, sql

from touchpoint import bi

PRIVATE_SCHEMAS = ["raw", "staging", "intermediate", "identity", "ops", "marts_candidate", "marts_history"]


def _drop_role(conn: psycopg.Connection, role: str) -> None:
    if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


@pytest.fixture
def isolated_local_dir(tmp_path, monkeypatch):
    """The password file goes to a private TOUCHPOINT_LOCAL_DIR; no BI env from outside."""
    monkeypatch.setenv("TOUCHPOINT_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.delenv(bi.PASSWORD_ENV, raising=False)
    monkeypatch.delenv(bi.ROLE_ENV, raising=False)
    return tmp_path / "local"


@pytest.fixture
def warehouse_with_marts(fresh_conn):
    """A warehouse shaped like a published one: a table in every private schema and a
    `marts` view over a `marts_history` table (as publication makes them)."""
    for schema in PRIVATE_SCHEMAS:
        fresh_conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        fresh_conn.execute(sql.SQL("create table {} (secret text)").format(sql.Identifier(schema, "bi_probe")))
        fresh_conn.execute(sql.SQL("insert into {} values ('pii')").format(sql.Identifier(schema, "bi_probe")))
    fresh_conn.execute("create schema if not exists marts")
    fresh_conn.execute("create table marts_history.customer_360 (customer_id text, _valid_from_version int)")
    fresh_conn.execute("insert into marts_history.customer_360 values ('C000000001', 1)")
    fresh_conn.execute("create view marts.customer_360 as select customer_id from marts_history.customer_360")
    return fresh_conn


@pytest.fixture
def bi_role(warehouse_with_marts, fresh_admin_conn, fresh_db_url, isolated_local_dir):
    # roles are made by an administrator; the pipeline's role owns marts and its views
    role = f"tp_bi_{uuid.uuid4().hex[:8]}"
    pipeline = warehouse_with_marts.execute("select current_user").fetchone()[0]
    created = bi.ensure_role(fresh_admin_conn, role=role, owner=pipeline)
    yield {"role": created, "url": bi.url_for(fresh_db_url, created), "conn": fresh_admin_conn,
           "pipeline": warehouse_with_marts}
    _drop_role(fresh_admin_conn, role)


def test_bi_role_reads_marts_and_has_no_role_attributes(bi_role):
    # GIVEN the BI role WHEN it connects with its password THEN it reads the marts view
    # (which reads marts_history with the view owner's rights) and holds no attribute
    assert bi_role["role"].created and len(bi_role["role"].password) >= 20
    with psycopg.connect(bi_role["url"]) as conn:
        assert conn.execute("select customer_id from marts.customer_360").fetchall() == [("C000000001",)]
        assert conn.execute("select current_user").fetchone()[0] == bi_role["role"].name
    attributes = bi_role["conn"].execute(
        "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolinherit, rolcanlogin "
        "from pg_roles where rolname = %s", (bi_role["role"].name,)).fetchone()
    assert attributes == (False, False, False, False, False, False, True)


@pytest.mark.parametrize("schema", PRIVATE_SCHEMAS)
def test_bi_role_cannot_read_private_schemas(bi_role, schema):
    # GIVEN the BI role WHEN it selects from a table outside marts THEN permission is denied
    with psycopg.connect(bi_role["url"]) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(sql.SQL("select * from {}").format(sql.Identifier(schema, "bi_probe")))


@pytest.mark.parametrize("statement", [
    "create table marts.bi_made (x int)",
    "create view marts.bi_view as select 1 as x",
    "create table public.bi_made (x int)",
    "create temporary table bi_temp (x int)",
    "create schema bi_schema",
    "insert into marts_history.customer_360 values ('C9', 9)",
])
def test_bi_role_cannot_create_or_write_anything(bi_role, statement):
    with psycopg.connect(bi_role["url"]) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


def test_views_published_later_are_readable(bi_role):
    # GIVEN the role WHEN publication creates a new marts view (default privileges) and
    # grant_published runs THEN the role reads it without another ensure_role
    conn = bi_role["pipeline"]
    conn.execute("create view marts.customer_id_merges as select 'C1'::text as old_customer_id")
    with psycopg.connect(bi_role["url"]) as bi_conn:
        assert bi_conn.execute("select * from marts.customer_id_merges").fetchall() == [("C1",)]


def test_ensure_role_is_idempotent_and_keeps_the_password(bi_role, isolated_local_dir):
    # GIVEN an existing role WHEN ensure_role runs again THEN nothing changes and the
    # stored password (0600 file) still connects
    again = bi.ensure_role(bi_role["conn"], role=bi_role["role"].name)
    assert not again.created and again.password == bi_role["role"].password
    password_file = isolated_local_dir / "bi-password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    with psycopg.connect(bi_role["url"]) as conn:
        assert conn.execute("select count(*) from marts.customer_360").fetchone()[0] == 1


def test_unknown_password_of_an_existing_role_is_a_clear_error(bi_role, isolated_local_dir):
    (isolated_local_dir / "bi-password").unlink()
    with pytest.raises(bi.BiRoleError, match="password is not known.*--reset-password"):
        bi.ensure_role(bi_role["conn"], role=bi_role["role"].name)
    reset = bi.ensure_role(bi_role["conn"], role=bi_role["role"].name, reset_password=True)
    assert reset.password != bi_role["role"].password
    with psycopg.connect(bi.url_for(bi_role["url"], reset)) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_user_without_createrole_gets_the_sql_to_run(warehouse_with_marts, fresh_admin_conn, fresh_db_url,
                                                     isolated_local_dir):
    # GIVEN a warehouse user that may not create roles (a managed server) WHEN the BI role
    # is missing THEN the error names the statements an administrator runs
    user = f"tp_owner_{uuid.uuid4().hex[:8]}"
    fresh_admin_conn.execute(sql.SQL("create role {} login password 'owner-pw-123'").format(sql.Identifier(user)))
    try:
        owner_url = bi.url_for(fresh_db_url, bi.BiRole(user, "owner-pw-123", False))
        with psycopg.connect(owner_url, autocommit=True) as conn:
            with pytest.raises(bi.BiRoleError, match="(?s)may not create roles.*CREATE ROLE tp_bi_missing.*GRANT CONNECT ON DATABASE tp_test_"):
                bi.ensure_role(conn, role="tp_bi_missing")
    finally:
        _drop_role(fresh_admin_conn, user)


def test_url_for_swaps_only_the_credentials():
    role = bi.BiRole("touchpoint_bi", "p@ss/word", False)
    assert bi.url_for("postgresql://touchpoint:secret@127.0.0.1:55432/touchpoint", role) == \
        "postgresql://touchpoint_bi:p%40ss%2Fword@127.0.0.1:55432/touchpoint"
