"""The BI login role: reads the published `marts` views and nothing else (issue 9).

    ensure_role(conn, role=None, password=None) -> BiRole   (idempotent)
    bi_url(warehouse_url, reset_password=False) -> str      (creates the role first)

What the role may do, in the warehouse's database:
- connect, use schema `marts` and select its views (granted again at every publication,
  and by default privileges for views created later);
- nothing else: it is NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS,
  holds no privilege on raw, staging, intermediate, identity, ops, marts_candidate or
  marts_history, and cannot create anything. For that, PUBLIC loses two defaults in this
  database: TEMPORARY on the database (temp tables) and USAGE on schema `public`. The
  pipeline's own role owns what it uses and does not rely on either.

The `marts` views read `marts_history` with their owner's rights (PostgreSQL's default for
views), so the role needs no grant there and publication or rollback, which repoint the
views, never interrupt it.

Password: TOUCHPOINT_BI_PASSWORD if set; otherwise one generated when the role is created
and kept in `<TOUCHPOINT_LOCAL_DIR>/bi-password` (mode 0600). The role name is
TOUCHPOINT_BI_ROLE (default `touchpoint_bi`).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from touchpoint.config import settings

ROLE_ENV = "TOUCHPOINT_BI_ROLE"
PASSWORD_ENV = "TOUCHPOINT_BI_PASSWORD"
DEFAULT_ROLE = "touchpoint_bi"
PUBLISHED_SCHEMA = "marts"
ROLE_ATTRIBUTES = ("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT "
                   "CONNECTION LIMIT 50")


class BiRoleError(RuntimeError):
    """The BI role cannot be created or used; the message says what to do."""


@dataclass(frozen=True)
class BiRole:
    name: str
    password: str
    created: bool


def role_name() -> str:
    return os.environ.get(ROLE_ENV) or DEFAULT_ROLE


def password_file() -> Path:
    return settings().local_dir / "bi-password"


def _stored_password() -> str | None:
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    path = password_file()
    if path.exists():
        return path.read_text().strip() or None
    return None


def _store_password(value: str) -> None:
    if os.environ.get(PASSWORD_ENV):
        return  # the operator manages it
    path = password_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    os.chmod(path, 0o600)
    path.write_text(value + "\n")


def _setup_sql(role: str, database: str) -> str:
    """What a privileged user runs by hand when Touchpoint's user may not create roles."""
    return (f"CREATE ROLE {role} {ROLE_ATTRIBUTES} PASSWORD '<password>';\n"
            f"GRANT CONNECT ON DATABASE {database} TO {role};\n"
            f"GRANT USAGE ON SCHEMA {PUBLISHED_SCHEMA} TO {role};\n"
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {PUBLISHED_SCHEMA} TO {role};")


def ensure_role(conn: psycopg.Connection, role: str | None = None, password: str | None = None,
                reset_password: bool = False, owner: str | None = None) -> BiRole:
    """Create (or bring back in line) the BI role and its grants in conn's database.

    `owner` is the pipeline's role, which owns `marts` and creates its views (default:
    conn's user); pass it when conn is an administrator's. The password is set when the
    role is created, when `password` is given, or with `reset_password`; an existing
    role's unknown password is never changed silently."""
    role = role or role_name()
    owner = owner or conn.execute("select current_user").fetchone()[0]
    ident = sql.Identifier(role)
    can_create = conn.execute(
        "select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()[0]
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is not None
    if not exists and not can_create:
        raise BiRoleError(
            f"the warehouse user may not create roles, so the BI role {role!r} does not exist yet. "
            f"Ask the database administrator to run:\n{_setup_sql(role, conn.info.dbname)}\n"
            f"then set {PASSWORD_ENV} to its password.")
    known = password or _stored_password()
    new_password = None
    if not exists or reset_password or password:
        new_password = known if (known and not reset_password) else secrets.token_urlsafe(18)
    elif known is None:
        raise BiRoleError(
            f"the BI role {role!r} exists but its password is not known here: set {PASSWORD_ENV}, "
            "or run `touchpoint bi url --reset-password` to give it a new one.")
    if can_create:
        verb = "alter" if exists else "create"
        statement = sql.SQL(f"{verb} role {{}} {ROLE_ATTRIBUTES}").format(ident)
        if new_password is not None:
            statement += sql.SQL(" password {}").format(sql.Literal(new_password))
        conn.execute(statement)
    elif new_password is not None:
        raise BiRoleError(f"the warehouse user may not change the password of {role!r}; ask the database "
                          f"administrator to run: ALTER ROLE {role} PASSWORD '<password>';")
    _grant(conn, role, owner)
    final = new_password if new_password is not None else known
    if new_password is not None and not password:
        _store_password(new_password)
    return BiRole(name=role, password=final, created=not exists)


def _grant(conn: psycopg.Connection, role: str, owner: str) -> None:
    ident = sql.Identifier(role)
    database = sql.Identifier(conn.info.dbname)
    schema = sql.Identifier(PUBLISHED_SCHEMA)
    conn.execute(sql.SQL("create schema if not exists {} authorization {}").format(schema, sql.Identifier(owner)))
    conn.execute(sql.SQL("grant connect on database {} to {}").format(database, ident))
    # PUBLIC's defaults would let the role create temp tables and look into `public`.
    conn.execute(sql.SQL("revoke temporary on database {} from public").format(database))
    conn.execute("revoke all on schema public from public")
    _grant_read(conn, role)
    # Default privileges are per creating role: the pipeline's, which creates the views.
    conn.execute(sql.SQL("alter default privileges for role {} in schema {} grant select on tables to {}").format(
        sql.Identifier(owner), schema, ident))


def _grant_read(conn: psycopg.Connection, role: str) -> None:
    schema, ident = sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(role)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema, ident))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(schema, ident))


def grant_published(conn: psycopg.Connection) -> None:
    """After a publication: the BI role (if it exists here) can read every marts view."""
    role = role_name()
    if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
        _grant_read(conn, role)


def url_for(warehouse_url: str, bi: BiRole) -> str:
    """The warehouse URL with the BI role's user and password instead of the pipeline's."""
    parts = urlsplit(warehouse_url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(bi.name, safe='')}:{quote(bi.password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def ensure_for(warehouse_url: str, reset_password: bool = False) -> BiRole:
    """ensure_role for the warehouse at `warehouse_url`. Roles are the administrator's
    business: on the embedded cluster (or with TOUCHPOINT_ADMIN_URL) the role is managed
    through the admin's connection, the pipeline's role staying the owner of `marts`;
    otherwise through the warehouse URL's own user (which may lack CREATEROLE: then the
    error gives the SQL a DBA runs)."""
    from touchpoint.db import url_parts, with_database
    from touchpoint.warehouse import admin_url_for

    target = url_parts(warehouse_url)
    admin = admin_url_for(warehouse_url)
    with psycopg.connect(with_database(admin, target["dbname"]), autocommit=True) as conn:
        return ensure_role(conn, reset_password=reset_password, owner=target["user"])


def bi_url(warehouse_url: str, reset_password: bool = False) -> str:
    return url_for(warehouse_url, ensure_for(warehouse_url, reset_password=reset_password))
