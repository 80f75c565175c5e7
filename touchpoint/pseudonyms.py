"""Keyed pseudonyms for identifiers published in marts (issue 10).

A published identifier is HMAC-SHA-256(key, normalised value), hex: without the key, a
reader of marts cannot test guesses (an unkeyed SHA-256 of a phone number falls to 10^4
tries once a masked copy shows all but four digits). The key:

- generated (32 random bytes) the first time a warehouse is bootstrapped, unless the
  operator gives one in `TOUCHPOINT_PSEUDONYM_KEY` (64 hex characters) or in the file
  `<TOUCHPOINT_LOCAL_DIR>/pseudonym-key`; a generated key is written to that file
  (mode 0600), the way the warehouse password is. Never in the repo.
- kept in the warehouse as `identity.pseudonym_key` (schema identity: PII-restricted, no
  BI grant) as the two HMAC pads, so SQL computes HMAC with built-ins only (no
  pgcrypto): HMAC(K, m) = SHA256((K xor opad) || SHA256((K xor ipad) || m)), RFC 2104.
  The warehouse's copy is the one in use; `ensure_key` refuses a configured key that
  differs from it, and `rotate` is the way to change it.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import psycopg
from psycopg import sql

from touchpoint.config import settings

KEY_ENV = "TOUCHPOINT_PSEUDONYM_KEY"
BLOCK_SIZE = 64  # SHA-256's block size in bytes
# Marts whose columns hold pseudonyms: a rotation rebuilds them (their candidate tables
# are dropped, so the next night builds them in full and publication re-versions them).
PSEUDONYMISED_MARTS = ("customer_identity_map", "customer_360")

KEY_TABLE = "identity.pseudonym_key"
# The key of the erasure suppression list (touchpoint/erase.py): same shape, but never
# rotated and never leaves the warehouse, so a suppressed identifier stays suppressed
# across pseudonym key rotations; its hashes mean nothing outside this warehouse.
ERASURE_KEY_TABLE = "identity.erasure_key"

KEY_TABLE_DDL_TEMPLATE = """
create table if not exists {table} (
    key_id smallint primary key default 1 check (key_id = 1),
    fingerprint text not null,
    inner_pad bytea not null,
    outer_pad bytea not null,
    created_at timestamptz not null default now()
)
"""
KEY_TABLE_DDL = KEY_TABLE_DDL_TEMPLATE.format(table=KEY_TABLE)


class PseudonymKeyError(RuntimeError):
    """The pseudonym key is missing, malformed or changed; the message says what to do."""


def key_file() -> Path:
    return settings().local_dir / "pseudonym-key"


def _parse(text: str, origin: str) -> bytes:
    value = text.strip()
    try:
        key = bytes.fromhex(value)
    except ValueError:
        raise PseudonymKeyError(f"{origin} must be 64 hex characters (32 random bytes)") from None
    if len(key) < 32:
        raise PseudonymKeyError(f"{origin} must be at least 32 bytes (64 hex characters); it has {len(key)}")
    return key


def _write_key_file(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def configured_key() -> bytes | None:
    """The key the operator gave: the env var, else the key file; None when neither exists."""
    if os.environ.get(KEY_ENV):
        return _parse(os.environ[KEY_ENV], KEY_ENV)
    path = key_file()
    return _parse(path.read_text(), str(path)) if path.exists() else None


def fingerprint(value: bytes) -> str:
    """Identifies a key without revealing it (HMAC of a constant label)."""
    return hmac.new(value, b"touchpoint pseudonym key fingerprint", hashlib.sha256).hexdigest()[:16]


def pads(value: bytes) -> tuple[bytes, bytes]:
    """(K xor ipad, K xor opad), the key padded to SHA-256's block (RFC 2104)."""
    block = hashlib.sha256(value).digest() if len(value) > BLOCK_SIZE else value
    block = block.ljust(BLOCK_SIZE, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def pseudonym(value: str, key_pads: tuple[bytes, bytes]) -> str:
    """What the marts publish for a normalised identifier (the SQL macro's twin)."""
    inner, outer = key_pads
    return hashlib.sha256(outer + hashlib.sha256(inner + value.encode("utf-8")).digest()).hexdigest()


def warehouse_pads(conn: psycopg.Connection) -> tuple[bytes, bytes]:
    """The pads of the key the warehouse's marts are built with."""
    row = conn.execute(f"select inner_pad, outer_pad from {KEY_TABLE}").fetchone()
    if row is None:
        raise PseudonymKeyError("this warehouse has no pseudonym key yet: run `touchpoint warehouse start` "
                                "or any pipeline step, which stores one")
    return bytes(row[0]), bytes(row[1])


def erasure_pads(conn: psycopg.Connection) -> tuple[bytes, bytes]:
    """The pads of the warehouse's erasure key; a random one is stored on first use.

    Call inside the transaction that uses it: two first uses at once agree on one key."""
    conn.execute(KEY_TABLE_DDL_TEMPLATE.format(table=ERASURE_KEY_TABLE))
    conn.execute("select pg_advisory_xact_lock(hashtext('touchpoint.erasure_key'))")
    if _stored(conn, ERASURE_KEY_TABLE) is None:
        _store(conn, secrets.token_bytes(32), ERASURE_KEY_TABLE)
    row = conn.execute(f"select inner_pad, outer_pad from {ERASURE_KEY_TABLE}").fetchone()
    return bytes(row[0]), bytes(row[1])


def _stored(conn: psycopg.Connection, table: str = KEY_TABLE) -> str | None:
    row = conn.execute(f"select fingerprint from {table}").fetchone()
    return row[0] if row else None


def _store(conn: psycopg.Connection, value: bytes, table: str = KEY_TABLE) -> None:
    inner, outer = pads(value)
    conn.execute(
        f"insert into {table} (key_id, fingerprint, inner_pad, outer_pad) values (1, %s, %s, %s)"
        " on conflict (key_id) do update set fingerprint = excluded.fingerprint, inner_pad = excluded.inner_pad,"
        " outer_pad = excluded.outer_pad, created_at = now()",
        (fingerprint(value), inner, outer))


def ensure_key(conn: psycopg.Connection) -> str:
    """Give the warehouse a key if it has none; refuse a conflicting one. Returns its fingerprint.

    The warehouse's copy is what the marts are built with. A new warehouse takes the
    configured key, or a new random one that is also written to the key file (the
    operator's backup, like the password file). A configured key that differs from the
    warehouse's is an error, never a silent switch: the incremental marts would then
    hold two pseudonyms per identifier.
    """
    conn.execute(KEY_TABLE_DDL)
    configured = configured_key()
    stored = _stored(conn)
    if stored is None:
        value = configured
        if value is None:
            value = secrets.token_bytes(32)
            _write_key_file(key_file(), value)
        _store(conn, value)
        return fingerprint(value)
    if configured is not None and fingerprint(configured) != stored:
        raise PseudonymKeyError(
            f"the pseudonym key in {KEY_ENV if os.environ.get(KEY_ENV) else key_file()} is not the one this "
            f"warehouse's marts are built with (fingerprint {stored}). Restore the previous key, or change it "
            "on purpose with `touchpoint warehouse rotate-key` (which rebuilds the pseudonymised marts).")
    return stored


def rotate(conn: psycopg.Connection, candidate_schema: str | None = None, new_key: bytes | None = None) -> str:
    """Replace the key everywhere: file, warehouse, and the marts built with the old one.

    The candidate tables of PSEUDONYMISED_MARTS are dropped so the next night rebuilds
    them in full; publication then writes a new row version for every row whose
    pseudonym changed. Kept older versions still hold the old pseudonyms until
    retention removes them. With TOUCHPOINT_PSEUDONYM_KEY set, the operator changes the
    variable (to `new_key`) and this updates the warehouse only.
    """
    candidate = candidate_schema or settings().candidate_schema
    value = new_key or secrets.token_bytes(32)
    if os.environ.get(KEY_ENV) and new_key is None:
        raise PseudonymKeyError(f"{KEY_ENV} is set: put the new key in it and run the rotation with that key")
    conn.execute(KEY_TABLE_DDL)
    with conn.transaction():
        _store(conn, value)
        for mart in PSEUDONYMISED_MARTS:
            conn.execute(sql.SQL("drop table if exists {}.{}").format(sql.Identifier(candidate), sql.Identifier(mart)))
    if not os.environ.get(KEY_ENV):
        # The old key is not kept: a rotation is usually because it may have leaked.
        _write_key_file(key_file(), value)
    return fingerprint(value)
