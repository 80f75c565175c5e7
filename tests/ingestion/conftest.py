"""Fixtures of the ingestion tests: one bootstrapped database per module, emptied per test
(much cheaper than a database per test)."""
from __future__ import annotations

import psycopg
import pytest

from ingestion.registry import SOURCE_NAMES


@pytest.fixture
def db_url(module_db_url: str) -> str:
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        tables = ", ".join([f"raw.{s}" for s in SOURCE_NAMES] + ["raw.quarantine", "ops.load_manifest"])
        conn.execute(f"truncate {tables}")
    return module_db_url


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c
