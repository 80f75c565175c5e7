"""Identifier normalisation outside dbt, from dbt's own macros.

Staging normalises identifiers with the macros in dbt_project/macros/staging/
normalize_identifiers.sql (and the ticket's social handle with the one in
macros/identity/identity_edges.sql); the identity graph matches on their output. Code
that must find a person's values the way the graph does (erasure, the loader's
suppression list) renders those same macros into SQL here instead of keeping a second
implementation that could drift from them. Only plain Jinja is needed: the macros use
`var()` and nothing else of dbt's context.
"""
from __future__ import annotations

from functools import lru_cache

import jinja2
import yaml

from ingestion.contract import IDENTIFIER_MACROS
from touchpoint.config import settings

MACRO_FILES = ("macros/staging/normalize_identifiers.sql", "macros/identity/identity_edges.sql")


@lru_cache(maxsize=1)
def _project_vars() -> dict:
    project = yaml.safe_load((settings().dbt_project_dir / "dbt_project.yml").read_text())
    return project.get("vars") or {}


@lru_cache(maxsize=1)
def _macro_source() -> str:
    root = settings().dbt_project_dir
    return "\n".join((root / name).read_text() for name in MACRO_FILES)


def _var(name: str, default=None):
    value = _project_vars().get(name)
    return default if value is None else value


@lru_cache(maxsize=256)
def render(macro_call: str) -> str:
    """The SQL of a dbt macro call such as "normalize_email('email')"."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    template = env.from_string(_macro_source() + "{{ " + macro_call + " }}")
    return template.render(var=_var).strip()


def normalized_sql(identifier_type: str, expression: str) -> str:
    """SQL normalising `expression` (SQL of a text value) as staging does for the type."""
    if identifier_type == "customer_id":
        return f"nullif(upper(trim({expression})), '')"
    try:
        macro = IDENTIFIER_MACROS[identifier_type]
    except KeyError:
        raise ValueError(f"unknown identifier type {identifier_type!r}; known: {', '.join(IDENTIFIER_MACROS)}") from None
    # The macros splice their argument into SQL text: pass a parenthesised expression.
    return render(f"{macro}({('(' + expression + ')')!r})")


def with_parameters(sql_text: str) -> str:
    """SQL text ready to be sent with parameters: its own % signs (`like '+%'`) doubled."""
    return sql_text.replace("%", "%%")


def normalize(conn, identifier_type: str, value: str) -> str | None:
    """The normalised form of one value (None when staging would not accept it)."""
    expression = with_parameters(normalized_sql(identifier_type, "given.value"))
    return conn.execute(f"select {expression} from (select %s::text as value) as given", (value,)).fetchone()[0]
