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


def recreate_database(url: str, dbname: str) -> str:
    """Drop and create `dbname` on url's server (benchmarks); returns its URL."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{dbname}" with (force)')
        conn.execute(f'create database "{dbname}"')
    return with_database(url, dbname)


def drop_database(url: str, dbname: str) -> None:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
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
