"""Fixtures of the generator tests: small generated datasets (session-scoped, generated
once) and a reader that yields every physical record of every landing file."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from ingestion.registry import CONTRACTS
from touchpoint.generator import generate

START = dt.date(2026, 11, 2)   # a Monday: the 3-day runs include a Tuesday e-mail campaign


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """300 people x 3 days, no bad rows."""
    out = tmp_path_factory.mktemp("gen_small")
    return out, generate(300, 3, START, 7, out)


@pytest.fixture(scope="session")
def bad_run(tmp_path_factory):
    """300 people x 3 days with --bad-rate 0.05."""
    out = tmp_path_factory.mktemp("gen_bad")
    return out, generate(300, 3, START, 7, out, bad_rate=0.05)


@pytest.fixture(scope="session")
def week_run(tmp_path_factory):
    """2000 people x 7 days: enough volume for rate checks."""
    out = tmp_path_factory.mktemp("gen_week")
    return out, generate(2000, 7, START, 11, out)


def landing_files(out: Path, source: str) -> list[Path]:
    return sorted((out / "landing" / source).glob("*/*"))


def read_physical_records(path: Path, source: str):
    """Yield (line_number, record | None, error | None); line numbers are 1-based data rows."""
    contract = CONTRACTS[source]
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    assert lines[-1] == b"", f"{path} must end with a newline"
    lines = lines[:-1]
    if contract.file_format == "csv":
        header, lines = lines[0].decode(), lines[1:]
        assert header.split(",") == contract.field_names, f"{path}: header {header!r}"
    for n, b in enumerate(lines, start=1):
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield n, None, f"utf8: {exc}"
            continue
        if contract.file_format == "csv":
            values = next(csv.reader(io.StringIO(text)))
            if len(values) != len(contract.field_names):
                yield n, None, "column count"
                continue
            yield n, dict(zip(contract.field_names, values)), None
        else:
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as exc:
                yield n, None, f"json: {exc}"
                continue
            yield n, rec, None


def _is_int(v, is_csv: bool) -> bool:
    if is_csv:
        try:
            int(v)
            return True
        except ValueError:
            return False
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v, is_csv: bool):
    if is_csv:
        try:
            return float(v)
        except ValueError:
            return None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def contract_errors(source: str, rec: dict) -> list[str]:
    """Why ``rec`` breaks its contract (empty when valid). Mirrors what the loader checks."""
    contract = CONTRACTS[source]
    is_csv = contract.file_format == "csv"
    errors = []
    if set(rec) != set(contract.field_names):
        errors.append(f"fields {sorted(set(rec) ^ set(contract.field_names))}")
    for f in contract.fields:
        v = rec.get(f.name)
        if v is None or (is_csv and v == ""):
            if f.required:
                errors.append(f"{f.name} missing")
            continue
        if f.type == "string":
            ok = isinstance(v, str)
        elif f.type in ("integer", "timestamp_micros"):
            ok = _is_int(v, is_csv)
        elif f.type == "numeric":
            ok = _number(v, is_csv) is not None
        elif f.type == "boolean":
            ok = v in ("true", "false") if is_csv else isinstance(v, bool)
        elif f.type == "date":
            try:
                dt.datetime.strptime(v, "%Y%m%d" if len(v) == 8 else "%Y-%m-%d")
                ok = True
            except (TypeError, ValueError):
                ok = False
        elif f.type == "timestamp":
            try:
                parsed = dt.datetime.fromisoformat(v)
                naive_ok = source == "store_transactions" and f.name == "transaction_local_time"
                ok = (parsed.tzinfo is None) if naive_ok else (parsed.utcoffset() == dt.timedelta(hours=9))
            except (TypeError, ValueError):
                ok = False
        else:  # json
            ok = isinstance(v, (dict, list))
        if not ok:
            errors.append(f"{f.name} not {f.type}: {v!r}")
            continue
        if f.enum and v.strip() not in f.enum:
            errors.append(f"{f.name} not in enum: {v!r}")
        if f.minimum is not None or f.maximum is not None:
            x = _number(v, is_csv)
            if (f.minimum is not None and x < f.minimum) or (f.maximum is not None and x > f.maximum):
                errors.append(f"{f.name} out of range: {v!r}")
    return errors


@pytest.fixture(scope="session")
def validate():
    return contract_errors


@pytest.fixture(scope="session")
def records():
    """records(out, source) -> list of (relative file, line_number, record|None, error|None)."""
    def read(out: Path, source: str):
        rows = []
        for path in landing_files(out, source):
            rel = path.relative_to(out / "landing").as_posix()
            rows.extend((rel, n, rec, err) for n, rec, err in read_physical_records(path, source))
        return rows
    return read
