"""Deliberately broken rows for --bad-rate.

Each broken row is a corrupted copy of a valid line, kept to ONE physical record:
a truncated JSON line, a CSV row missing trailing columns, a wrong type, a missing
required field, invalid UTF-8 bytes, an absurd value, or an injection-looking string
in a typed field.  The loader must quarantine every one of them.
"""
from __future__ import annotations

import csv
import io
import json
import random

from ingestion.contract import Contract

FAULTS = ("malformed", "wrong_type", "missing_required", "invalid_utf8", "absurd_value", "injection_in_typed_field")
TYPED = ("integer", "numeric", "timestamp_micros", "boolean", "date", "timestamp")
WRONG_VALUES = {"integer": "abc", "numeric": "12,9OO원", "timestamp_micros": "abc", "boolean": "maybe",
                "date": "2026-13-45", "timestamp": "not a timestamp"}
INJECTIONS = ("'; drop table raw.crm_customers; --", "<script>alert(1)</script>", "1; DELETE FROM ops.load_manifest")
BAD_UTF8_MARK = "__TOUCHPOINT_BAD_UTF8__"


class _LineSink:
    line = ""

    def write(self, s: str) -> None:
        self.line = s


def csv_line_writer():
    sink = _LineSink()
    writer = csv.writer(sink, lineterminator="\n")

    def line(values: list) -> str:
        writer.writerow(values)
        return sink.line
    return line


def _absurd(field, value):
    if field.name == "birth_year":
        return 3000
    if field.maximum is not None and field.maximum <= 100:
        return 42
    if field.minimum is not None and field.minimum >= 0:
        try:
            return -abs(int(float(value))) - 19900
        except (TypeError, ValueError):
            return -19900
    return int((field.maximum or 10 ** 9) * 10)


def corrupt(line: str, contract: Contract, rng: random.Random) -> tuple[str | bytes, str]:
    """Return (broken line without newline, fault name)."""
    is_csv = contract.file_format == "csv"
    fault = rng.choice(FAULTS)
    fields = contract.fields
    if is_csv:
        values = next(csv.reader(io.StringIO(line)))
        record = dict(zip(contract.field_names, values))
    else:
        record = json.loads(line)
    typed = [f for f in fields if f.type in TYPED]
    bounded = [f for f in fields if f.minimum is not None or f.maximum is not None]
    strings = [f for f in fields if f.type == "string" and record.get(f.name)]
    if fault == "absurd_value" and not bounded:
        fault = "wrong_type"
    if fault == "invalid_utf8" and not strings:
        fault = "wrong_type"

    if fault == "malformed":
        if is_csv:
            keep = max(1, len(values) - rng.randint(2, max(2, len(values) // 2)))
            return csv_line_writer()(values[:keep]).rstrip("\n"), "malformed"
        cut = rng.randint(len(line) // 4, max(len(line) // 4, 3 * len(line) // 4))
        return line[:cut], "malformed"
    if fault == "wrong_type":
        f = rng.choice(typed)
        record[f.name] = WRONG_VALUES[f.type]
    elif fault == "injection_in_typed_field":
        f = rng.choice(typed)
        record[f.name] = rng.choice(INJECTIONS)
    elif fault == "missing_required":
        f = rng.choice([f for f in fields if f.required])
        if is_csv:
            record[f.name] = ""
        else:
            record.pop(f.name, None)
    elif fault == "absurd_value":
        f = rng.choice(bounded)
        record[f.name] = _absurd(f, record.get(f.name))
    elif fault == "invalid_utf8":
        f = rng.choice(strings)
        record[f.name] = BAD_UTF8_MARK
    if is_csv:
        out = csv_line_writer()([_csv_cell(record.get(n)) for n in contract.field_names]).rstrip("\n")
    else:
        out = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    if fault == "invalid_utf8":
        return out.encode("utf-8").replace(BAD_UTF8_MARK.encode(), b"caf\xe9 \xff\xfe"), fault
    return out, fault


def _csv_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
