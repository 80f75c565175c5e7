"""Right to erasure (PIPA art. 36, GDPR art. 17): `touchpoint erase` (issue 10).

Given one identifier (email, phone, CRM account id or customer id), erase the person
everywhere the warehouse holds them, in one transaction under the run lock:

1. **Who.** The identifier is normalised with staging's own macros
   (touchpoint/normalize.py) and looked up in `identity.identifier_map`; a customer id
   follows `identity.customer_id_merges` to the id in use. The person is every customer
   id found, the ids merged into them, and every identifier those customers hold
   (emails, phones, account ids, cookies, app installs, cards, member ids, handles), so
   rows are found where they carry another identifier than the one given.
2. **Suppress.** A keyed hash (the erasure key, touchpoint/pseudonyms.py) of each
   identifier goes to `ops.erasure_suppression`; the loader drops rows carrying one
   (ingestion/suppression.py). The raw rows to erase are found with that same predicate
   over each contract's identifier fields, plus the raw rows behind every staging or
   intermediate row that names the person (lineage `_load_id`, `_line_number`), plus
   the other versions of a versioned record found (an old CRM version of the account).
3. **Delete** those raw rows (the manifest counts them in `rows_erased`), **redact** the
   raw text of quarantined lines naming the person (the rows stay, so quarantine counts
   reconcile), and delete, in every table of staging, intermediate, identity, the
   candidate marts and `marts_history` (found in the catalog, so a new model is covered
   without an edit), each row that has a text column equal to one of the person's
   customer ids, normalised identifiers or published pseudonyms, or that derives from an
   erased raw row. Deleting from `marts_history` removes the person from every kept
   version, so from the `marts` views and from any rollback; the publication state's
   current row count is lowered to match, so the next night publishes normally.
4. **Report.** `ops.erasure_log` gets one row: kind, counts per table, the landing
   files still holding the person (found by scanning `--landing`), dry-run or not; no
   PII. The landing files are the brand's: they are listed, never changed.

A dry run does all of it, reports the counts and rolls back; only its log row stays.
"""
from __future__ import annotations

import gzip
import sys
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ingestion.registry import CONTRACTS
from ingestion.suppression import (
    REDACTED,
    quarantine_predicate,
    row_predicate,
    take_erasure_lock,
)
from touchpoint.config import settings
from touchpoint.normalize import normalize, with_parameters
from touchpoint.pseudonyms import erasure_pads, pseudonym, warehouse_pads

log = logging.getLogger(__name__)

KINDS = ("email", "phone", "account_id", "customer_id")
TEXT_TYPES = ("text", "character varying")
# Schemas whose tables are searched generically (with raw's tables outside the contracts).
DERIVED_SCHEMAS = ("staging", "intermediate", "identity")
HISTORY_SCHEMA = "marts_history"
VALID_TO = "_valid_to_version"
# A landing file is scanned for literal values at least this long (shorter ones would
# match by chance).
MIN_NEEDLE = 6


class ErasureError(RuntimeError):
    """The request cannot be carried out; the message says why (no traceback needed)."""


@dataclass
class ErasureResult:
    erasure_id: int
    dry_run: bool
    identifier_kind: str
    customers_affected: int
    identifiers_suppressed: int
    rows_deleted: dict[str, int] = field(default_factory=dict)
    rows_redacted: dict[str, int] = field(default_factory=dict)
    landing_files: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows_deleted.values()) + sum(self.rows_redacted.values())


@dataclass
class Person:
    customer_ids: list[str]  # in use now
    all_customer_ids: list[str]  # with the ids merged into them
    identifiers: list[tuple[str, str]]  # (type, normalised value)


def _given(email, phone, account_id, customer_id) -> tuple[str, str]:
    given = [(kind, value) for kind, value in zip(KINDS, (email, phone, account_id, customer_id))
             if value is not None]
    if len(given) != 1:
        raise ErasureError("give exactly one of --email, --phone, --account-id, --customer-id")
    kind, value = given[0]
    if not str(value).strip():
        raise ErasureError(f"the {kind} given is empty")
    return kind, str(value)


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _is_blocked(conn: psycopg.Connection, kind: str, value: str) -> bool:
    """A block-listed placeholder (test@test.com) is shared by many people, not one."""
    if not _exists(conn, "staging.identifier_blocklist"):
        return False
    return conn.execute(
        "select exists (select from staging.identifier_blocklist where (identifier_type = %s and identifier_value = %s)"
        " or (%s = 'email' and identifier_type = 'email_local_part' and identifier_value = split_part(%s, '@', 1)))",
        (kind, value, kind, value)).fetchone()[0]


def find_person(conn: psycopg.Connection, kind: str, value: str) -> Person:
    """The customers an identifier (normalised) belongs to, and all of their identifiers."""
    if not _exists(conn, "identity.identifier_map"):
        return Person([], [], [] if kind == "customer_id" else [(kind, value)])
    merges = _exists(conn, "identity.customer_id_merges")
    if kind == "customer_id":
        start = [value]
        if merges:  # an absorbed id: follow it to the id in use
            start = [r[0] for r in conn.execute(
                "with recursive chain (customer_id) as (select %s::text union "
                "select merges.new_customer_id from identity.customer_id_merges as merges "
                "join chain on merges.old_customer_id = chain.customer_id) select customer_id from chain", (value,))]
        current = [r[0] for r in conn.execute(
            "select distinct customer_id from identity.identifier_map where customer_id = any(%s)", (start,))]
    else:
        current = [r[0] for r in conn.execute(
            "select distinct customer_id from identity.identifier_map "
            "where identifier_type = %s and identifier_value = %s", (kind, value))]
    all_ids = set(current) | ({value} if kind == "customer_id" else set())
    if merges and current:
        all_ids |= {r[0] for r in conn.execute(
            "with recursive absorbed (customer_id) as (select unnest(%s::text[]) union "
            "select merges.old_customer_id from identity.customer_id_merges as merges "
            "join absorbed on merges.new_customer_id = absorbed.customer_id) select customer_id from absorbed",
            (current,))}
    identifiers = {(t, v) for t, v in conn.execute(
        "select identifier_type, identifier_value from identity.identifier_map where customer_id = any(%s)",
        (current,))}
    if kind != "customer_id":
        identifiers.add((kind, value))
    return Person(sorted(current), sorted(all_ids), sorted(identifiers))


def _tables(conn: psycopg.Connection, schema: str) -> dict[str, dict[str, str]]:
    """Base tables of a schema with their columns and types, from the catalog."""
    tables: dict[str, dict[str, str]] = {}
    for table, column, data_type in conn.execute(
            "select columns.table_name, columns.column_name, columns.data_type from information_schema.columns "
            "join information_schema.tables on tables.table_schema = columns.table_schema "
            "and tables.table_name = columns.table_name and tables.table_type = 'BASE TABLE' "
            "where columns.table_schema = %s order by columns.table_name, columns.ordinal_position", (schema,)):
        tables.setdefault(table, {})[column] = data_type
    return tables


def _naming_person(columns: dict[str, str]) -> sql.Composable | None:
    """Predicate: a text column equals one of the person's tokens, or the row derives
    from an erased raw row (lineage columns)."""
    parts = [sql.SQL("{} = any(%(tokens)s)").format(sql.Identifier(name))
             for name, data_type in columns.items() if data_type in TEXT_TYPES]
    if "_load_id" in columns and "_line_number" in columns:
        parts.append(sql.SQL("exists (select from pg_temp.erased_raw as erased where erased.load_id = _load_id::text"
                             " and erased.line_number = _line_number)"))
    return sql.SQL(" or ").join(parts) if parts else None


def _collect_raw(conn: psycopg.Connection, tokens: list[str], schemas: list[str]) -> None:
    """Fill pg_temp.erased_raw with the (source, load, line) of every raw row to erase."""
    conn.execute("create temp table erased_raw (source text, load_id text, line_number integer) on commit drop")
    for source, contract in CONTRACTS.items():
        if _exists(conn, f"raw.{source}"):
            conn.execute(sql.SQL("insert into erased_raw select {}, _load_id, _line_number from {} where ").format(
                sql.Literal(source), sql.Identifier("raw", source)) + sql.SQL(row_predicate(contract)))
    # The raw rows behind derived rows that name the person (an identifier staging
    # derives but the contract does not declare is still found).
    for schema in schemas:
        for table, columns in _tables(conn, schema).items():
            if "_load_id" not in columns or "_line_number" not in columns:
                continue
            texts = [sql.SQL("derived.{} = any(%(tokens)s)").format(sql.Identifier(name))
                     for name, data_type in columns.items() if data_type in TEXT_TYPES and name != "_load_id"]
            if not texts:
                continue
            conn.execute(sql.SQL(
                "insert into erased_raw select manifest.source, derived._load_id::text, derived._line_number "
                "from {} as derived join ops.load_manifest as manifest on manifest.load_id = derived._load_id::text "
                "where {}").format(sql.Identifier(schema, table), sql.SQL(" or ").join(texts)), {"tokens": tokens})
    # Every other version of a versioned record found (a CRM account's older versions).
    for source, contract in CONTRACTS.items():
        entity = [name for name in contract.key if name != contract.version_field]
        if contract.version_field is None or not entity or not _exists(conn, f"raw.{source}"):
            continue
        raw = sql.Identifier("raw", source)
        conn.execute(sql.SQL(
            "insert into erased_raw select {source}, other._load_id, other._line_number from {raw} as other "
            "where ({other_key}) in (select {found_key} from {raw} as found join erased_raw as erased "
            "on erased.source = {source} and erased.load_id = found._load_id "
            "and erased.line_number = found._line_number)").format(
            source=sql.Literal(source), raw=raw,
            other_key=sql.SQL(", ").join(sql.Identifier("other", n) for n in entity),
            found_key=sql.SQL(", ").join(sql.Identifier("found", n) for n in entity)))
    conn.execute("create temp table erased_raw_distinct on commit drop as select distinct * from erased_raw")
    conn.execute("truncate erased_raw")
    conn.execute("insert into erased_raw select * from erased_raw_distinct")
    conn.execute("analyze erased_raw")


def _delete_raw(conn: psycopg.Connection, deleted: Counter, files: set[str], literals: set[str]) -> None:
    for source, contract in CONTRACTS.items():
        if not _exists(conn, f"raw.{source}"):
            continue
        returned = [sql.Identifier("raw_row", f.name) for f in contract.fields if f.identifier]
        rows = conn.execute(sql.SQL(
            "delete from {} as raw_row using erased_raw as erased where erased.source = {} "
            "and raw_row._load_id = erased.load_id and raw_row._line_number = erased.line_number "
            "returning raw_row._load_id, raw_row._file_path{}").format(
            sql.Identifier("raw", source), sql.Literal(source),
            sql.SQL("").join(sql.SQL(", ") + r for r in returned))).fetchall()
        if not rows:
            continue
        deleted[f"raw.{source}"] += len(rows)
        per_load = Counter(row[0] for row in rows)
        for load_id, count in per_load.items():
            conn.execute("update ops.load_manifest set rows_erased = rows_erased + %s where load_id = %s",
                         (count, load_id))
        for row in rows:
            files.add(row[1])
            literals.update(str(v).strip() for v in row[2:] if v is not None)


def _redact_quarantine(conn: psycopg.Connection, redacted: Counter, files: set[str]) -> None:
    if not _exists(conn, "raw.quarantine"):
        return
    rows = conn.execute(sql.SQL("update raw.quarantine set raw_record = %s where raw_record <> %s and ")
                        + sql.SQL(with_parameters(quarantine_predicate())) + sql.SQL(" returning file_path"),
                        (REDACTED, REDACTED)).fetchall()
    if rows:
        redacted["raw.quarantine"] += len(rows)
        files.update(r[0] for r in rows)


def _delete_derived(conn: psycopg.Connection, schemas: list[str], tokens: list[str], deleted: Counter) -> None:
    for schema in schemas:
        for table, columns in _tables(conn, schema).items():
            if schema == "raw" and (table in CONTRACTS or table == "quarantine"):
                continue  # done from the contracts
            predicate = _naming_person(columns)
            if predicate is None:
                continue
            is_history = schema == HISTORY_SCHEMA and VALID_TO in columns
            returning = sql.SQL(" returning {} is null").format(sql.Identifier(VALID_TO)) if is_history \
                else sql.SQL(" returning 1")
            rows = conn.execute(sql.SQL("delete from {} where ").format(sql.Identifier(schema, table))
                                + predicate + returning, {"tokens": tokens}).fetchall()
            if not rows:
                continue
            deleted[f"{schema}.{table}"] += len(rows)
            current = sum(1 for (is_current, *_) in rows if is_current is True)
            if is_history and current and _exists(conn, "ops.mart_publication_state"):
                # Publication diffs the candidate against this count (touchpoint/publish.py).
                conn.execute("update ops.mart_publication_state set current_row_count = current_row_count - %s "
                             "where mart = %s", (current, table))


def landing_files_holding(landing_dir: Path, needles: set[str]) -> list[str]:
    """Landing files (relative paths) whose text holds any of the values, case-insensitively."""
    wanted = sorted({n.lower().encode("utf-8") for n in needles if len(n) >= MIN_NEEDLE})
    if not wanted or not landing_dir.is_dir():
        return []
    found = []
    for path in sorted(p for p in landing_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rb") as fh:
                text = fh.read().lower()
        except OSError as exc:
            log.warning("could not scan %s: %s", path, exc)
            continue
        if any(needle in text for needle in wanted):
            found.append(path.relative_to(landing_dir).as_posix())
    return found


def erase(url: str, *, email: str | None = None, phone: str | None = None, account_id: str | None = None,
          customer_id: str | None = None, dry_run: bool = False, landing_dir: Path | None = None,
          requested_by: str | None = None, wait_seconds: float | None = None) -> ErasureResult:
    """Erase one person from the warehouse (see the module docstring); raises ErasureError
    when nobody matches, and touchpoint.runlock.RunLockHeld while a night is running."""
    from touchpoint.bootstrap import ensure_warehouse
    from touchpoint.publish import operator_name
    from touchpoint.runlock import exclusive_run

    kind, given = _given(email, phone, account_id, customer_id)
    operator = requested_by or operator_name()
    landing = Path(landing_dir) if landing_dir is not None else settings().landing_dir
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            ensure_warehouse(conn)  # ops.erasure_log, and the ops schema the run lock needs
    with exclusive_run(url, f"touchpoint erase by {operator}", wait_seconds=wait_seconds), \
            psycopg.connect(url, autocommit=True) as conn:
        erasure_id = conn.execute("select nextval(pg_get_serial_sequence('ops.erasure_log', 'erasure_id'))").fetchone()[0]
        result = ErasureResult(erasure_id, dry_run, kind, 0, 0)
        subject, needles = None, set()
        try:
            with conn.transaction():
                subject, needles = _erase_in_transaction(conn, kind, given, result)
                if dry_run:
                    raise psycopg.Rollback()
        except _NobodyMatches as exc:
            raise ErasureError(str(exc)) from None
        # After commit: loads wait on the erasure lock only as long as the erasure itself.
        result.landing_files = landing_files_holding(landing, needles)
        with conn.transaction():
            conn.execute(
                "insert into ops.erasure_log (erasure_id, requested_by, identifier_kind, subject_hmac,"
                " customers_affected, identifiers_suppressed, rows_deleted, rows_redacted, landing_files, dry_run)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (erasure_id, operator, kind, subject, result.customers_affected, result.identifiers_suppressed,
                 Jsonb(result.rows_deleted), Jsonb(result.rows_redacted), Jsonb(result.landing_files), dry_run))
    log.info("erasure %s (%s%s): %d customers, %d rows", erasure_id, kind, ", dry run" if dry_run else "",
             result.customers_affected, result.total_rows)
    return result


class _NobodyMatches(Exception):
    pass


def _erase_in_transaction(conn: psycopg.Connection, kind: str, given: str,
                          result: ErasureResult) -> tuple[str, set[str]]:
    """The erasure inside the caller's transaction; returns the subject's keyed hash and
    the person's values as found in raw and normalised (to scan the landing files for)."""
    take_erasure_lock(conn)  # loads in progress commit first; new ones wait (ingestion/suppression.py)
    value = normalize(conn, kind, given)
    if value is None:
        raise _NobodyMatches(f"the {kind.replace('_', ' ')} given is not a valid one (staging would not accept it)")
    if _is_blocked(conn, kind, value):
        raise _NobodyMatches(f"that {kind.replace('_', ' ')} is on the identifier block list (a placeholder "
                             "shared by many people); erase the person by another identifier")
    key = erasure_pads(conn)
    person = find_person(conn, kind, value)
    conn.cursor().executemany(
        "insert into ops.erasure_suppression (identifier_type, identifier_hmac, erasure_id) values (%s, %s, %s)"
        " on conflict (identifier_type, identifier_hmac) do nothing",
        [(t, pseudonym(v, key), result.erasure_id) for t, v in person.identifiers])
    published = warehouse_pads(conn)
    tokens = sorted(set(person.all_customer_ids) | {v for _, v in person.identifiers}
                    | {pseudonym(v, published) for _, v in person.identifiers})
    candidate = settings().candidate_schema
    schemas = [s for s in (*DERIVED_SCHEMAS, candidate, HISTORY_SCHEMA)
               if conn.execute("select exists (select from pg_namespace where nspname = %s)", (s,)).fetchone()[0]]
    _collect_raw(conn, tokens, schemas)
    deleted: Counter[str] = Counter()
    redacted: Counter[str] = Counter()
    files: set[str] = set()
    literals: set[str] = set()
    _delete_raw(conn, deleted, files, literals)
    _redact_quarantine(conn, redacted, files)
    _delete_derived(conn, ["raw", *schemas], tokens, deleted)
    if not person.customer_ids and not deleted and not redacted:
        raise _NobodyMatches(f"nobody matches that {kind.replace('_', ' ')}: no customer in identity.identifier_map "
                             "and no row in raw")
    result.customers_affected = len(person.customer_ids)
    result.identifiers_suppressed = len(person.identifiers)
    result.rows_deleted = dict(sorted(deleted.items()))
    result.rows_redacted = dict(sorted(redacted.items()))
    return pseudonym(f"{kind}:{value}", key), literals | {v for _, v in person.identifiers}


# --------------------------------------------------------------------------------------------
# Command line: `touchpoint erase` (wired in touchpoint/cli.py)


def add_arguments(parser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="an email of the person (any case or spacing)")
    who.add_argument("--phone", help="a phone number of the person (any common KR format)")
    who.add_argument("--account-id", help="the person's CRM account id")
    who.add_argument("--customer-id", help="the person's Touchpoint customer id (C + 9 digits; a merged id is followed)")
    parser.add_argument("--dry-run", action="store_true",
                        help="report what would be erased and change nothing (the request is still logged)")
    parser.add_argument("--landing", type=Path,
                        help="landing directory to scan for files that still hold the person "
                             "(default TOUCHPOINT_LANDING_DIR)")
    parser.add_argument("--wait", type=float, metavar="SECONDS",
                        help="if a run holds the warehouse, wait up to SECONDS for it (default TOUCHPOINT_RUN_LOCK_WAIT)")


def run(args) -> int:
    from touchpoint import warehouse
    from touchpoint.runlock import RunLockHeld

    try:
        result = erase(warehouse.url(), email=args.email, phone=args.phone, account_id=args.account_id,
                       customer_id=args.customer_id, dry_run=args.dry_run, landing_dir=args.landing,
                       wait_seconds=args.wait)
    except (ErasureError, RunLockHeld) as exc:
        print(f"touchpoint erase: nothing erased: {exc}", file=sys.stderr)
        return 1
    print(describe(result))
    return 0


def describe(result: ErasureResult) -> str:
    verb = "would delete" if result.dry_run else "deleted"
    lines = [f"{'dry run, nothing changed: ' if result.dry_run else ''}erasure {result.erasure_id} "
             f"({result.identifier_kind}): {result.customers_affected} customer(s), "
             f"{result.identifiers_suppressed} identifier(s) {'to suppress' if result.dry_run else 'suppressed'}",
             f"{verb} {sum(result.rows_deleted.values())} row(s):"]
    lines += [f"  {table:<55} {count}" for table, count in result.rows_deleted.items()]
    if result.rows_redacted:
        lines.append(f"{'would redact' if result.dry_run else 'redacted'} (raw text of quarantined lines):")
        lines += [f"  {table:<55} {count}" for table, count in result.rows_redacted.items()]
    if result.landing_files:
        lines.append("landing files that still hold the person (the brand's copies; Touchpoint does not change "
                     "them, later loads drop the person's rows):")
        lines += [f"  {path}" for path in result.landing_files]
    else:
        lines.append("no landing file holds the person")
    lines.append("logged in ops.erasure_log (no personal data)")
    return "\n".join(lines)
