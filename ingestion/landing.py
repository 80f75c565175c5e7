"""Writing landing files in a source's format: one record per line (JSONL), or a header and one
row per record (CSV). Used by the loader tests and bench/bench_loader.py."""
from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import date
from pathlib import Path

from ingestion.registry import CONTRACTS


def csv_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def record_bytes(source: str, record: dict, columns: list[str] | None = None) -> bytes:
    """One record as a line of the source's format (CSV: the data row only)."""
    contract = CONTRACTS[source]
    if contract.file_format == "jsonl":
        return json.dumps(record, ensure_ascii=False).encode()
    cols = columns or list(record)
    buf = io.StringIO()
    # "\r\n" as terminator makes the writer quote values holding either character.
    csv.writer(buf, lineterminator="\r\n").writerow([csv_value(record.get(c)) for c in cols])
    return buf.getvalue()[:-2].encode()


def write_file(landing: Path, source: str, day: date, name: str, records: list[dict | bytes],
               columns: list[str] | None = None, gz: bool = False) -> Path:
    """Write records (dicts, or raw bytes lines written verbatim) to <landing>/<source>/<day>/<name>."""
    contract = CONTRACTS[source]
    folder = landing / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    ext = contract.file_format + (".gz" if gz else "")
    path = folder / f"{name}.{ext}"
    lines: list[bytes] = []
    if contract.file_format == "csv":
        cols = columns or contract.field_names
        lines.append(",".join(cols).encode())
    else:
        cols = None
    for rec in records:
        lines.append(rec if isinstance(rec, bytes) else record_bytes(source, rec, cols))
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if gz else data)
    return path
