"""Shared fixtures: a real PostgreSQL (the embedded cluster, or WAREHOUSE_URL), with a
fresh database per test that needs isolation. Never a mock of the warehouse."""
from __future__ import annotations

import uuid

import psycopg
import pytest

from touchpoint import warehouse
from touchpoint.bootstrap import ensure_warehouse
from touchpoint.db import admin_database_url, owned_by, with_database


@pytest.fixture(scope="session")
def warehouse_url() -> str:
    """URL of the warehouse the test session uses (started if embedded)."""
    return warehouse.start()


def _create_database(base_url: str, prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_database_url(base_url), autocommit=True) as conn:
        conn.execute(f'create database "{name}"{owned_by(base_url)}')
    return name, with_database(base_url, name)


def _drop_database(base_url: str, name: str) -> None:
    with psycopg.connect(admin_database_url(base_url), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def fresh_db_url(warehouse_url: str):
    """A new, bootstrapped, empty database; dropped after the test."""
    name, url = _create_database(warehouse_url, "tp_test")
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_warehouse(conn)
    yield url
    _drop_database(warehouse_url, name)


@pytest.fixture
def fresh_admin_conn(fresh_db_url: str):
    """The fresh database as an administrator (roles, grants): the pipeline's role may not."""
    from touchpoint.db import url_parts

    admin = with_database(warehouse.admin_url_for(fresh_db_url), url_parts(fresh_db_url)["dbname"])
    with psycopg.connect(admin, autocommit=True) as conn:
        yield conn


@pytest.fixture
def fresh_conn(fresh_db_url: str):
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def module_db_url(warehouse_url: str):
    """Like fresh_db_url, shared by the tests of one module (for expensive set-ups)."""
    name, url = _create_database(warehouse_url, "tp_mod")
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_warehouse(conn)
    yield url
    _drop_database(warehouse_url, name)
