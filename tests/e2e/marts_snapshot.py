"""What BI can see in `marts`, as comparable values: view definitions and, per view, the
row count and an md5 over its rows in a fixed order."""
from __future__ import annotations

import psycopg


def snapshot(url: str) -> dict:
    with psycopg.connect(url) as conn:
        views = conn.execute("select table_name, view_definition from information_schema.views "
                             "where table_schema = 'marts' order by 1").fetchall()
        data = {}
        for name, _ in views:
            data[name] = conn.execute(
                f'select count(*), md5(coalesce(string_agg(t::text, \'|\' order by t::text), \'\')) '
                f'from marts."{name}" t'
            ).fetchone()
    return {"views": views, "data": data}


def differing_rows(url_a: str, url_b: str, view: str, limit: int = 5) -> dict:
    """A few rows of `view` present in one database and not the other (for failure messages)."""
    def rows(url):
        with psycopg.connect(url) as conn:
            return {r[0] for r in conn.execute(f'select t::text from marts."{view}" t')}
    a, b = rows(url_a), rows(url_b)
    return {"only_incremental": sorted(a - b)[:limit], "only_full_refresh": sorted(b - a)[:limit]}
