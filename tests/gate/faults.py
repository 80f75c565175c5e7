"""The faults of issue 9's matrix, injected into one night's landing files.

Each fault rewrites the delivery of `day` under a landing directory in place, the way a
broken upstream system would deliver it: nothing here knows about Touchpoint's checks.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

from ingestion.registry import CONTRACTS


def _files(landing: Path, source: str, day: date) -> list[Path]:
    return sorted(p for p in (landing / source / day.isoformat()).glob("*") if p.is_file())


def _read(path: Path) -> str:
    data = path.read_bytes()
    return gzip.decompress(data).decode() if path.suffix == ".gz" else data.decode()


def _write(path: Path, text: str) -> None:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def rewrite(landing: Path, source: str, day: date, change) -> int:
    """Apply `change(records) -> records` to every file of the source's delivery; returns rows written."""
    written = 0
    for path in _files(landing, source, day):
        text = _read(path)
        if ".csv" in path.name:
            reader = csv.DictReader(io.StringIO(text))
            fields = reader.fieldnames or []
            records = change(list(reader))
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
            _write(path, out.getvalue())
        else:
            records = change([json.loads(line) for line in text.splitlines() if line.strip()])
            _write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        written += len(records)
    return written


def _times(value, factor):
    if value in (None, ""):
        return value
    return type(value)(float(value) * factor) if not isinstance(value, str) else str(round(float(value) * factor))


def duplicate_online_orders(landing: Path, day: date) -> None:
    """Every online order delivered twice, the copy under a new order id (revenue doubles)."""
    def change(records):
        copies = [{**r, "order_id": "DUP" + r["order_id"], "order_number": (r.get("order_number") or 0) + 9_000_000}
                  for r in records]
        return records + copies
    rewrite(landing, "ecommerce_orders", day, change)


def order_amounts_times_100(landing: Path, day: date) -> None:
    def change(records):
        for r in records:
            for key in ("subtotal_price", "total_discounts", "shipping_price", "total_price"):
                r[key] = _times(r.get(key), 100)
            for item in r.get("line_items") or []:
                item["price"] = _times(item.get("price"), 100)
            for item in (r.get("refunds") or []) + (r.get("discount_codes") or []):
                item["amount"] = _times(item.get("amount"), 100)
        return records
    rewrite(landing, "ecommerce_orders", day, change)


def receipt_amounts_times_100(landing: Path, day: date) -> None:
    def change(records):
        for r in records:
            for key in ("subtotal_krw", "discount_krw", "total_krw"):
                r[key] = _times(r.get(key), 100)
            items = r.get("line_items")
            parsed = json.loads(items) if isinstance(items, str) and items else items
            for item in parsed or []:
                for key in ("unit_price_krw", "discount_krw"):
                    if key in item:
                        item[key] = _times(item[key], 100)
            if isinstance(items, str) and items:
                r["line_items"] = json.dumps(parsed, ensure_ascii=False)
        return records
    rewrite(landing, "store_transactions", day, change)


def source_missing(landing: Path, day: date, source: str = "email_events") -> None:
    shutil.rmtree(landing / source / day.isoformat())


def crm_emails_null(landing: Path, day: date) -> None:
    def change(records):
        for r in records:
            r["email"] = "" if isinstance(r.get("email"), str) else None  # CSV: an empty cell
        return records
    rewrite(landing, "crm_customers", day, change)


def web_required_keys_null(landing: Path, day: date, share: float = 0.05) -> None:
    """Every 20th web event loses its (required) event name: quarantined, one by one."""
    step = round(1 / share)

    def change(records):
        for index, r in enumerate(records):
            if index % step == 0:
                r["event_name"] = None
        return records
    rewrite(landing, "web_events", day, change)


def web_files_empty(landing: Path, day: date) -> None:
    for path in _files(landing, "web_events", day):
        _write(path, "")


def half_of_orders_missing(landing: Path, day: date) -> None:
    rewrite(landing, "ecommerce_orders", day, lambda records: records[::2])


def _shift(value, field_type: str):
    if value in (None, ""):
        return value
    if field_type == "timestamp_micros":
        return int(value) + 365 * 86_400_000_000
    if field_type == "date":
        text = str(value)
        if len(text) == 8 and text.isdigit():
            return (datetime.strptime(text, "%Y%m%d") + timedelta(days=365)).strftime("%Y%m%d")
        return (date.fromisoformat(text) + timedelta(days=365)).isoformat()
    moved = datetime.fromisoformat(str(value).replace("Z", "+00:00")) + timedelta(days=365)
    return moved.isoformat()


def timestamps_a_year_ahead(landing: Path, day: date) -> None:
    """Every timestamp of the night, in every source, a year in the future."""
    for source, contract in CONTRACTS.items():
        typed = {f.name: f.type for f in contract.fields if f.type in ("timestamp", "timestamp_micros", "date")}

        def change(records, typed=typed):
            for r in records:
                for name, field_type in typed.items():
                    if name in r:
                        r[name] = _shift(r[name], field_type)
            return records
        rewrite(landing, source, day, change)


FAULTS = {
    "online orders duplicated under new ids": duplicate_online_orders,
    "order amounts x100": order_amounts_times_100,
    "store receipt amounts x100": receipt_amounts_times_100,
    "a source's delivery missing": source_missing,
    "every CRM email null": crm_emails_null,
    "5% of web events without a required key": web_required_keys_null,
    "web events delivered as empty files": web_files_empty,
    "half of the night's orders missing": half_of_orders_missing,
    "every timestamp a year in the future": timestamps_a_year_ahead,
}
