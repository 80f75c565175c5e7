"""Erased people stay erased: the loader's suppression list (right to erasure, issue 10).

`touchpoint erase` deletes a person's rows and records a keyed hash of each of their
identifiers in `ops.erasure_suppression` (HMAC-SHA-256 with the warehouse's erasure key,
`identity.erasure_key`, touchpoint/pseudonyms.py). The brand's landing files still hold
the person, so a re-delivered file or a reload from landing would bring them back; the
loader therefore drops, inside the loading transaction, every row of the file whose
identifier fields (declared in the contract, normalised by staging's own macros) hash
to a suppressed value, and counts them in the manifest as `rows_suppressed`
(read = loaded + quarantined + suppressed). The rows are copied first and deleted
before commit: nobody ever sees them, and the fast COPY path stays as it is.

Quarantined lines broke their contract, so their fields cannot be trusted to be where
the contract says: their text is split into tokens and any token that normalises to a
suppressed identifier of any type gets the line's raw text redacted (the row, its
reason and line number stay, so quarantine counts still reconcile).

The same predicates are what `touchpoint erase` uses to find the person's raw rows, so
"what the loader would drop" and "what erase deletes" cannot drift apart.
"""
from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

from ingestion.contract import IDENTIFIER_MACROS, Contract
from touchpoint.normalize import normalized_sql, render, with_parameters

SUPPRESSION_TABLE = "ops.erasure_suppression"
ERASURE_KEY_TABLE = "identity.erasure_key"
REDACTED = "[erased: right to erasure]"
# What separates values in a JSON line or a CSV row (a phone with spaces splits, but its
# national part still normalises to the same E.164 number).
TOKEN_SEPARATORS = r'[\s,"{}\[\];]+'


def keyed_hash_sql(value_sql: str) -> str:
    """SQL of the hex HMAC of a text value with the erasure key (pseudonyms.pseudonym's twin)."""
    key = f"(select erasure_key.{{pad}} from {ERASURE_KEY_TABLE} as erasure_key)"
    return (f"encode(sha256({key.format(pad='outer_pad')} || sha256({key.format(pad='inner_pad')} || "
            f"convert_to({value_sql}, 'UTF8'))), 'hex')")


def _matches_suppressed(alias: str) -> str:
    return (f"join {SUPPRESSION_TABLE} as suppressed on suppressed.identifier_type = {alias}.identifier_type "
            f"and suppressed.identifier_hmac = {keyed_hash_sql(alias + '.identifier_value')} "
            f"where {alias}.identifier_value is not null")


def row_predicate(contract: Contract) -> str:
    """SQL, true for a row of raw.<source> carrying a suppressed identifier (false without any)."""
    if not contract.identifier_fields:
        return "false"
    values = ", ".join(f"('{kind}', {render(call)})" for kind, call in contract.identifier_fields)
    return (f"exists (select from (values {values}) as row_identifier (identifier_type, identifier_value) "
            f"{_matches_suppressed('row_identifier')})")


def quarantine_predicate() -> str:
    """SQL, true for a raw.quarantine row whose raw text holds a suppressed identifier."""
    values = ", ".join(f"('{kind}', {normalized_sql(kind, 'token.value')})" for kind in IDENTIFIER_MACROS)
    return (f"exists (select from regexp_split_to_table(raw_record, '{TOKEN_SEPARATORS}') as token (value) "
            f"cross join lateral (values {values}) as token_identifier (identifier_type, identifier_value) "
            f"{_matches_suppressed('token_identifier')})")


# Loads hold it shared (one per file, until commit), an erasure exclusively: a load
# running while a person is erased either commits first (and the erasure then sees and
# deletes its rows) or waits and sees the new suppression list.
ERASURE_LOCK = "touchpoint.erasure"


def share_erasure_lock(cur: psycopg.Cursor) -> None:
    cur.execute("select pg_advisory_xact_lock_shared(hashtext(%s))", (ERASURE_LOCK,))


def take_erasure_lock(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (ERASURE_LOCK,))


def has_suppressions(cur: psycopg.Cursor) -> bool:
    if cur.execute(f"select to_regclass('{SUPPRESSION_TABLE}'), to_regclass('{ERASURE_KEY_TABLE}')").fetchone() \
            != (SUPPRESSION_TABLE, ERASURE_KEY_TABLE):
        return False
    return cur.execute(f"select exists (select from {SUPPRESSION_TABLE})").fetchone()[0]


def drop_suppressed_rows(cur: psycopg.Cursor, contract: Contract, load_id: str, loaded_at: datetime) -> int:
    """Delete the just-copied rows of one load that carry a suppressed identifier; how many."""
    if not contract.identifier_fields or not has_suppressions(cur):
        return 0
    # _loaded_at first: the BRIN index finds the load's rows without scanning the table.
    cur.execute(sql.SQL("delete from {} where _loaded_at = %s and _load_id = %s and ").format(
        sql.Identifier("raw", contract.source)) + sql.SQL(with_parameters(row_predicate(contract))),
        (loaded_at, load_id))
    return cur.rowcount


def redact_suppressed_quarantine(cur: psycopg.Cursor, load_id: str) -> int:
    """Redact the raw text of the load's quarantined lines that name a suppressed identifier."""
    if not has_suppressions(cur):
        return 0
    cur.execute(sql.SQL("update raw.quarantine set raw_record = %s where load_id = %s and raw_record <> %s and ")
                + sql.SQL(with_parameters(quarantine_predicate())), (REDACTED, load_id, REDACTED))
    return cur.rowcount
