"""Declarative source contracts.

A contract names a source's fields, their types, which are required, which form the
record key, which carry PII, and how timestamps are to be read.  The loader validates
every record against it, the generator writes records that satisfy it, the raw table
DDL and docs/sources.md are rendered from it.  One module per source under
``ingestion/`` declares ``CONTRACT``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal[
    "string",       # free text or identifier, stored as text
    "integer",      # whole number, stored as bigint
    "numeric",      # decimal (money in KRW, rates), stored as numeric
    "boolean",      # true/false (also 1/0, yes/no, t/f in CSV)
    "date",         # YYYY-MM-DD (or YYYYMMDD for GA4's event_date)
    "timestamp",    # ISO-8601; an offset is honoured, a naive value is read in the source's timezone
    "timestamp_micros",  # integer microseconds since the Unix epoch, UTC (GA4)
    "json",         # nested object or array, stored as jsonb
]

PG_TYPES: dict[str, str] = {
    "string": "text",
    "integer": "bigint",
    "numeric": "numeric",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamptz",
    "timestamp_micros": "timestamptz",
    "json": "jsonb",
}

# The staging macro (dbt_project/macros/staging/normalize_identifiers.sql) that
# normalises each identifier type; the identity graph matches on its output.
IDENTIFIER_MACROS: dict[str, str] = {
    "email": "normalize_email",
    "phone": "normalize_phone_e164",
    "account_id": "normalize_account_id",
    "loyalty_member_id": "normalize_loyalty_member_id",
    "loyalty_card": "normalize_loyalty_card",
    "cookie_id": "normalize_device_id",
    "app_instance_id": "normalize_device_id",
    "social_handle": "normalize_social_handle_combined",
}

# Longest value a field may hold unless it declares its own max_length: generous for ids,
# codes, names and nested JSON, but finite, so a runaway export (a 5 MB name) is quarantined
# as too_long instead of reaching the marts.
DEFAULT_MAX_LENGTH: dict[str, int] = {"string": 1_000, "json": 1_000_000}

# Columns every raw table carries in addition to the contract's fields.
LINEAGE_COLUMNS: list[tuple[str, str, str]] = [
    ("_load_id", "text not null", "Load (one per file version) that wrote the row; joins ops.load_manifest.load_id."),
    ("_file_path", "text not null", "Landing file the row came from, relative to the landing directory."),
    ("_line_number", "integer not null", "Physical record number in the file (1-based; CSV data rows exclude the header)."),
    ("_logical_date", "date not null", "Delivery date: the landing folder the file sat in."),
    ("_record_hash", "text not null", "xxh3-128 (32 hex digits) of the raw record bytes; equal hashes are exact duplicate re-sends."),
    ("_extra", "jsonb", "Fields present in the record but not in the contract, kept verbatim."),
    ("_loaded_at", "timestamptz not null", "When the loader committed the row (UTC)."),
]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    description: str
    required: bool = False
    pii: bool = False
    # Allowed values for categorical fields (compared case-sensitively after strip).
    enum: tuple[str, ...] | None = None
    # Inclusive numeric bounds; values outside are "absurd" and quarantined.
    minimum: float | None = None
    maximum: float | None = None
    # Free-form format hint shown in docs (e.g. "E.164 or local KR phone").
    format: str | None = None
    # Identity: the identifier type the field holds (a node type of the identity graph,
    # docs/identity.md) and, when it is not the type's own macro on this field alone,
    # the dbt macro call staging normalises it with. Erasure and the loader's
    # suppression list find a person's raw rows through these (touchpoint/erase.py).
    identifier: str | None = None
    identifier_sql: str | None = None
    # Longest value in characters (strings; JSON: its text); None takes DEFAULT_MAX_LENGTH.
    max_length: int | None = None

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]

    @property
    def length_limit(self) -> int | None:
        """Characters a value may have (string and json fields), else None."""
        return self.max_length if self.max_length is not None else DEFAULT_MAX_LENGTH.get(self.type)


@dataclass(frozen=True)
class Contract:
    source: str
    description: str
    file_format: Literal["jsonl", "csv"]
    fields: tuple[Field, ...]
    # Field names identifying one version of one record; staging dedups on these.
    key: tuple[str, ...]
    # Field whose latest value wins when one entity is delivered several times
    # (e.g. order updated_at); None when every key is immutable.
    version_field: str | None = None
    # IANA zone used to read naive timestamps of this source.
    naive_timezone: str = "Asia/Seoul"
    # Field that says when the event happened; used for freshness and late-arrival docs.
    event_time_field: str | None = None
    # Delivery expectation, checked before publication (touchpoint/source_checks.py):
    # "daily": a file every night, its absence blocks; "optional": may be absent.
    delivery: Literal["daily", "optional"] = "daily"
    # False where a night without rows means something broke (web analytics always has
    # traffic); True where a quiet night is normal (no review today).
    may_be_empty: bool = True
    # Identifier fields whose non-null share per delivery the anomaly checks watch (a
    # delivery where every email is missing breaks identity resolution without a single
    # bad row), and money fields whose average they watch (amounts x100).
    watched_fields: tuple[str, ...] = ()
    amount_fields: tuple[str, ...] = ()
    timezone_note: str = "Offsets are honoured; naive timestamps are read as Asia/Seoul local time."
    example: dict = field(default_factory=dict)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def pii_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.pii]

    @property
    def identifier_fields(self) -> list[tuple[str, str]]:
        """(identifier type, dbt macro call normalising it) of each identifier field."""
        return [(f.identifier, f.identifier_sql or f"{IDENTIFIER_MACROS[f.identifier]}('{f.name}')")
                for f in self.fields if f.identifier]

    @property
    def profiled_fields(self) -> list[str]:
        """Fields whose non-null count every delivery profile records."""
        return list(self.watched_fields)

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.source} has no field {name!r}")

    def raw_table_ddl(self, schema: str = "raw") -> str:
        cols = [f'    "{f.name}" {f.pg_type}' for f in self.fields]
        cols += [f"    {name} {ddl}" for name, ddl, _ in LINEAGE_COLUMNS]
        return f"create table if not exists {schema}.{self.source} (\n" + ",\n".join(cols) + "\n)"
