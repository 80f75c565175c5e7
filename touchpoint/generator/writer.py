"""Delivery of records into landing files, with the always-on realism faults.

One ``SourceWriter`` per source.  Records are added with their event day; the writer
decides the delivery day (late arrivals: 1-3 days later), adds exact duplicate
re-sends, inserts --bad-rate broken rows, and writes
``landing/<source>/<YYYY-MM-DD>/<source>_<YYYYMMDD>.<ext>`` once no more records
can arrive for that day.  Field order always follows the contract.

Day indexes before ``first`` (the history window of --history-days) have no delivery
of their own: whatever would be delivered on them goes into the first delivery, one
initial backfill, with its event timestamps unchanged.  Late arrivals and re-sends are
drawn exactly as on any other day, then moved to the first delivery when still early.
A delivery that grows past ``SPILL_LINES`` before it is complete (the backfill of a long
history) is written in parts as it grows, with the same bytes as in one piece.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from ingestion.registry import CONTRACTS
from touchpoint.generator import rates as R
from touchpoint.generator.faults import corrupt, csv_line_writer

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
SPILL_LINES = 100_000   # a pending delivery larger than this is written out at the next day boundary


def csv_cell(v) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        if "\n" in v or "\r" in v:
            return v.replace("\r", "\\r").replace("\n", "\\n")
        return v
    if isinstance(v, (dict, list)):
        return _dumps(v)
    return str(v)


class SourceWriter:
    def __init__(self, source: str, landing: Path, dates: list, seed: int, bad_rate: float,
                 late: bool = True, first: int = 0):
        self.source = source
        self.contract = CONTRACTS[source]
        self.fields = self.contract.field_names
        self.is_csv = self.contract.file_format == "csv"
        self.landing = landing
        self.dates = dates
        self.last = len(dates) - 1
        self.first = first  # index of the first delivery day; earlier days are backfilled into it
        self.bad_rate = bad_rate
        self.late_enabled = late
        self.rng = random.Random(f"{seed}/{source}/delivery")
        self.bad_rng = random.Random(f"{seed}/{source}/bad")
        self.buckets: list[list] = [[] for _ in dates]
        self.resends: list[list] = [[] for _ in dates]
        self.flushed = 0
        self.rows = self.duplicates = self.late = self.bad = 0
        self.bad_rows: list[tuple[str, str, int, str]] = []
        self.files: list[str] = []
        self._part: list | None = None   # [day, file, records written] of a delivery being written in parts
        self._csv = csv_line_writer()

    # ------------------------------------------------------------------ adding
    def line_of(self, rec: dict) -> str:
        if self.is_csv:
            return self._csv([csv_cell(rec.get(f)) for f in self.fields])
        return _dumps({f: rec.get(f) for f in self.fields}) + "\n"

    def add(self, rec: dict, day: int) -> None:
        self.add_line(self.line_of(rec), day)

    def add_line(self, line: str, day: int) -> None:
        """``line`` ends with a newline.  ``day`` is the event day index."""
        if day > self.last or day < self.flushed:
            if day > self.last:
                return
            day = self.flushed  # never write into a closed file
        rng = self.rng
        deliver = day
        if self.late_enabled and day < self.last and rng.random() < R.LATE_RATE:
            deliver = min(self.last, day + rng.choices((1, 2, 3), R.LATE_DAYS_WEIGHTS)[0])
            if deliver > self.first:  # later than the delivery it belongs in
                self.late += 1
        if deliver < self.first:
            deliver = self.first  # the initial backfill
        self.buckets[deliver].append(line)
        if rng.random() < R.DUPLICATE_RATE:
            again = min(self.last, deliver + rng.choice((0, 0, 1, 2)))
            self.resends[again].append(line)
            self.duplicates += 1

    # ------------------------------------------------------------------ writing
    def relpath(self, d: int) -> str:
        date = self.dates[d]
        ext = "csv" if self.is_csv else "jsonl"
        return f"{self.source}/{date.isoformat()}/{self.source}_{date:%Y%m%d}.{ext}"

    def flush_before(self, day: int) -> None:
        """Write the deliveries before ``day``: no record can arrive for them any more."""
        while self.flushed < min(day, self.last + 1):
            if self.flushed >= self.first:
                self._write(self.flushed)
            else:  # history window: no delivery folder, nothing was put here
                self.buckets[self.flushed] = self.resends[self.flushed] = None
            self.flushed += 1
        # The next delivery to write may already be large (the backfill of a long history):
        # write what it has so far.  Only that one, so that the bad-row draws keep their order.
        d = max(self.flushed, self.first)
        if d <= self.last and len(self.buckets[d]) >= SPILL_LINES:
            lines, self.buckets[d] = self.buckets[d], []
            self._append(d, lines)

    def close(self) -> None:
        self.flush_before(self.last + 1)

    def _write(self, d: int) -> None:
        lines = self.buckets[d]
        lines.extend(self.resends[d])
        self.buckets[d] = self.resends[d] = None  # free memory
        self._append(d, lines)
        self._part[1].close()
        self._part = None
        self.files.append(self.relpath(d))

    def _append(self, d: int, lines: list) -> None:
        """Write ``lines`` (with --bad-rate broken copies) to delivery ``d``'s file, opened on first use."""
        rel = self.relpath(d)
        if self._part is None:
            path = self.landing / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            self._part = [d, open(path, "wb", buffering=1 << 20), 0]
            if self.is_csv:
                self._part[1].write((",".join(self.fields) + "\n").encode())
        part = self._part
        assert part[0] == d, "deliveries are written one at a time, in order"
        self.rows += len(lines)
        if self.bad_rate > 0 and lines:
            lines = self._with_bad_rows(lines, rel, part[2])
        part[1].write(b"".join(line.encode("utf-8") if isinstance(line, str) else line for line in lines))
        part[2] += len(lines)

    def _with_bad_rows(self, lines: list, rel: str, before: int = 0) -> list:
        """``before``: physical records already in the file (line numbers continue from it)."""
        out: list = []
        rng = self.bad_rng
        rate = self.bad_rate
        for line in lines:
            out.append(line)
            if rng.random() < rate:
                broken, fault = corrupt(line.rstrip("\n"), self.contract, rng)
                out.append(broken + ("\n" if isinstance(broken, str) else b"\n"))
                self.bad += 1
                self.bad_rows.append((self.source, rel, before + len(out), fault))
        return out

    def stats(self) -> dict:
        return {"rows": self.rows, "duplicates": self.duplicates, "late": self.late, "bad_rows": self.bad,
                "files": len(self.files)}
