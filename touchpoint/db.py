"""Connections to the warehouse."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg

from touchpoint import warehouse


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url or warehouse.url(), **kwargs)


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def admin_database_url(url: str) -> str:
    """The `postgres` database of url's server, as a role that may create databases.

    The pipeline's role may not (least privilege, issue 10): tests and benchmarks that
    make databases use the embedded cluster's admin, or TOUCHPOINT_ADMIN_URL."""
    return with_database(warehouse.admin_url_for(url), "postgres")


def owned_by(url: str) -> str:
    """` owner "<url's user>"`, for `create database`: the pipeline owns what it uses."""
    user = unquote(urlsplit(url).username or "")
    return f' owner "{user}"' if user else ""


def create_database(url: str, dbname: str, template: str | None = None) -> str:
    """Create `dbname` (optionally a copy of `template`) owned by url's user; returns its URL."""
    copy = f' template "{template}"' if template else ""
    with psycopg.connect(admin_database_url(url), autocommit=True) as conn:
        conn.execute(f'create database "{dbname}"{copy}{owned_by(url)}')
    return with_database(url, dbname)


def recreate_database(url: str, dbname: str) -> str:
    """Drop and create `dbname` on url's server (benchmarks); returns its URL."""
    drop_database(url, dbname)
    return create_database(url, dbname)


def drop_database(url: str, dbname: str) -> None:
    with psycopg.connect(admin_database_url(url), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{dbname}" with (force)')


def url_parts(url: str) -> dict[str, str]:
    """host/port/user/password/dbname of a libpq URL (for dbt's profile env vars)."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "localhost",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": (parts.path or "/postgres").lstrip("/") or "postgres",
    }
