"""Helpers for the identity tests: an edges table shaped like the dbt model
intermediate.int_identifier_edges_collected, filled directly."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

from touchpoint.identity.state import EDGES_STANDIN_DDL, ensure_identity_tables


T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


class Edges:
    """Append edges night by night: night k has _loaded_at = T0 + k days."""

    def __init__(self, url: str):
        self.url = url
        self.records = 0
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(EDGES_STANDIN_DDL)
            ensure_identity_tables(conn)

    def add(self, night: int, source: str, *identifiers: tuple[str, str]) -> None:
        """One record of `source` holding these identifiers (all pairs, or the single one)."""
        self.add_many(night, [(source, identifiers)])

    def add_many(self, night: int, records) -> None:
        rows = []
        loaded = T0 + timedelta(days=night, hours=1)
        for source, identifiers in records:
            self.records += 1
            record_id = f"R{self.records}"
            ids = sorted(set(identifiers))
            if len(ids) == 1:
                rows.append((ids[0][0], ids[0][1], None, None, source, record_id, loaded, loaded))
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    rows.append((*ids[i], *ids[j], source, record_id, loaded, loaded))
        with psycopg.connect(self.url, autocommit=True) as conn:
            with conn.cursor() as cur:
                with cur.copy(
                    "copy intermediate.int_identifier_edges_collected (identifier_a_type, identifier_a_value, "
                    "identifier_b_type, identifier_b_value, source, record_id, seen_at, _loaded_at) from stdin"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)


def identity_map(url: str) -> dict[tuple[str, str], str]:
    with psycopg.connect(url) as conn:
        return {(t, v): c for t, v, c in conn.execute(
            "select identifier_type, identifier_value, customer_id from identity.identifier_map")}


def merges(url: str) -> dict[str, tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return {o: (n, r) for o, n, r in conn.execute(
            "select old_customer_id, new_customer_id, reason from identity.customer_id_merges")}
