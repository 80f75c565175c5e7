"""The loader: landing files -> raw.<source>, one transaction per file.

``touchpoint ingest --date YYYY-MM-DD [--source S ...] [--landing DIR]`` and the DAG's ingest
tasks call :func:`ingest`; :func:`load_file` loads one file.  Semantics (manifest, replace on
change, quarantine reasons, reconciliation, timezones, crash safety) are documented in
docs/loading.md.

Speed: files are streamed in 4 MiB chunks; records are validated by code generated from the
contract (ingestion/convert.py: a typed msgspec Struct for JSON lines, a pass-through check
for CSV rows PostgreSQL reads as written, a full converter for everything else) and written
to PostgreSQL with COPY in large pre-formatted text chunks from a writer thread; rejected
records go to raw.quarantine in a second COPY.  bench/bench_loader.py measures it against
``psql \\copy``.
"""
from __future__ import annotations

import argparse
import csv
import gc
import gzip
import hashlib
import logging
import sys
import tempfile
import time
import uuid
from binascii import hexlify
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

import psycopg
from psycopg.copy import QueuedLibpqWriter
from psycopg.types.json import Jsonb

from ingestion.contract import LINEAGE_COLUMNS, Contract
from ingestion.convert import (
    NULL,
    STRICT_UNICODE,
    Bad,
    compile_converter,
    compile_line_match,
    compile_passthrough,
    compile_struct_converter,
    copy_escape,
    json_decode,
    json_encode,
    record_digest,
    record_hash,
    record_struct,
)
from ingestion.decoding import READ_ERRORS, SNIFF_BYTES, UTF8, Encoding, read_failure, sniff, to_utf8
from ingestion.plausibility import Window, window_for
from ingestion.profile import forget_load, profile_load
from ingestion.registry import CONTRACTS, SOURCE_NAMES
from ingestion.suppression import drop_suppressed_rows, redact_suppressed_quarantine, share_erasure_lock

log = logging.getLogger("touchpoint.ingest")

FILE_SUFFIXES = {".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".csv": "csv", ".csv.gz": "csv"}
READ_CHUNK = 4 << 20      # bytes read from the file at a time
COPY_BATCH = 4000         # rows per COPY write
JSONL_BATCH = 256         # JSON lines per fast-path batch (one comprehension)
QUARANTINE_SPOOL = 16 << 20  # quarantine rows kept in memory before spilling to a temp file
MAX_LOGGED_REJECTS = 20   # per file, in the log (line number + reason only, never the record)

csv.field_size_limit(1 << 30)

# The lineage columns the loader fills (see _RawWriter.configure; _loaded_at by its default now()).
_LINEAGE_FILLED = ("_line_number", "_record_hash", "_extra", "_load_id", "_file_path", "_logical_date", "_loaded_at")
assert sorted(_LINEAGE_FILLED) == sorted(name for name, _, _ in LINEAGE_COLUMNS), "LINEAGE_COLUMNS changed"

_QUARANTINE_COLUMNS = "source, file_path, line_number, raw_record, reason, load_id, logical_date"


class LoadError(Exception):
    """A file (or a run) could not be loaded; the message names the file and the cause."""

    def __init__(self, message: str, *, results: list[FileResult] | None = None,
                 errors: list[LoadError] | None = None):
        super().__init__(message)
        self.results = results or []
        self.errors = errors or []


@dataclass
class FileResult:
    source: str
    logical_date: date
    file_path: str
    checksum: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    load_id: str
    status: str  # 'loaded' | 'skipped' (unchanged) | 'replaced'
    extra_fields: dict[str, int] = field(default_factory=dict)
    replaced_load_id: str | None = None
    seconds: float = 0.0
    careful: bool = False  # PostgreSQL refused data in the fast path; loaded in careful mode
    rows_suppressed: int = 0  # rows of an erased person, dropped (ingestion/suppression.py)
    encoding: str = "utf-8"  # as delivered (ingestion/decoding.py), e.g. "utf-8 (BOM removed)"


# --------------------------------------------------------------------------------------------
# Reading


# hashlib releases the GIL on large buffers: the file checksum is computed on this thread
# while the parser runs, on the core the COPY backend leaves partly idle.
_HASH_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="touchpoint-checksum")


class _HashingReader:
    """A binary file whose bytes, as delivered (compressed for .gz), feed a hash as they are
    read; the hash is updated on a helper thread, in order, and complete once closed."""

    def __init__(self, path: Path, hasher):
        self._fh = open(path, "rb")
        self._hasher = hasher
        self._last: Future | None = None

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        if data:
            self._last = _HASH_THREAD.submit(self._hasher.update, data)
        return data

    def close(self) -> None:
        self._fh.close()
        if self._last is not None:
            self._last.result()  # a single worker runs updates in order: this is the last one


def _open(path: Path, hasher=None):
    raw = _HashingReader(path, hasher) if hasher is not None else open(path, "rb")
    if path.name.endswith(".gz"):
        return _GzipClosing(raw)
    return raw


class _GzipClosing(gzip.GzipFile):
    """GzipFile that also closes the file object it reads from."""

    def __init__(self, raw):
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def _chunks(path: Path, hasher=None, utf8: bool = False,
            encoding: Encoding = UTF8) -> Iterator[tuple[list[bytes], bool, bool, int]]:
    """Physical lines of the file (without the ``\\n``; a trailing ``\\r`` removed), by chunk,
    with two flags for the whole chunk (memchr-fast): does it hold a double quote, and does it
    hold a character COPY text format must escape (backslash, tab, CR, NUL)?

    The final line terminator does not start another line.  ``hasher`` (hashlib object) is fed
    the file's bytes as delivered, so new files are read once: checksum and parse in one pass.
    With ``utf8`` a fourth value says whether the whole chunk is ASCII (2), other valid UTF-8 (1)
    or not valid UTF-8 (0; always 0 without ``utf8``).  ``encoding`` (sniffed from the file's
    start) says what to remove or decode to get UTF-8."""
    if not utf8:
        yield from _line_chunks(path, hasher, encoding)
        return
    carry = b""
    for data in _reads(path, hasher, encoding):
        if carry:
            data = carry + data
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1:]
        data = data[:cut]
        yield _split(data, utf8)
    if carry:
        yield _split(carry, utf8)


def _reads(path: Path, hasher=None, encoding: Encoding = UTF8) -> Iterator[bytes]:
    """The file's bytes (decompressed for .gz, as UTF-8) in READ_CHUNK reads; the hasher sees
    every byte as delivered, also those after the last read the caller asked for."""
    fh = _open(path, hasher)
    try:
        reads = iter(lambda: fh.read(READ_CHUNK), b"")
        yield from (reads if encoding is UTF8 else to_utf8(reads, encoding))
        if hasher is not None:
            while fh.read(1 << 20):  # anything the parser did not need still counts
                pass
    finally:
        fh.close()


def _line_chunks(path: Path, hasher=None, encoding: Encoding = UTF8) -> Iterator[tuple[list[bytes], bool, bool, int]]:
    """_chunks without the UTF-8 flag, with no copy of the 4 MiB read: the read is split as
    it is and its unfinished last line carried into the next read's first line.  The flags
    are those of the read plus the carried part (a flag may be set by a line the chunk does
    not hold yet: that only sends the chunk down the slower, escaping path)."""
    carry = b""
    for data in _reads(path, hasher, encoding):
        lines = data.split(b"\n")
        tail = lines.pop()  # after the last newline: the start of a line the next read ends
        if not lines:
            carry += tail
            continue
        if carry:
            lines[0] = carry + lines[0]
        cr = b"\r" in data or b"\r" in carry
        if cr:
            lines = [ln[:-1] if ln[-1:] == b"\r" else ln for ln in lines]
        special = cr or _csv_special(data) or _csv_special(carry)
        yield lines, b'"' in data or b'"' in carry, special, 0
        carry = tail
    if carry:
        yield _split(carry)


def _split(data: bytes, utf8: bool = False) -> tuple[list[bytes], bool, bool, int]:
    lines = data.split(b"\n")
    cr = b"\r" in data
    if cr:
        lines = [ln[:-1] if ln[-1:] == b"\r" else ln for ln in lines]
    special = cr or b"\\" in data or b"\t" in data or b"\x00" in data
    valid = 0
    if utf8:
        if data.isascii():
            valid = 2
        else:
            try:
                data.decode("utf-8")
                valid = 1
            except UnicodeDecodeError:
                pass
    return lines, b'"' in data, special, valid


def _csv_special(raw: bytes) -> bool:
    return b"\\" in raw or b"\t" in raw or b"\r" in raw or b"\x00" in raw


def sniff_encoding(path: Path) -> Encoding:
    """The encoding of the file's text, from its first bytes (decompressed)."""
    fh = _open(path)
    try:
        return sniff(fh.read(SNIFF_BYTES))
    finally:
        fh.close()


def file_checksum(path: Path) -> str:
    """sha256 of the file's bytes as delivered (compressed bytes for .gz), as ``sha256:<hex>``."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return "sha256:" + h.hexdigest()


def file_format(path: Path) -> str | None:
    for suffix, fmt in FILE_SUFFIXES.items():
        if path.name.endswith(suffix):
            return fmt
    return None


def discover(landing_dir: Path, source: str, logical_date: date) -> list[Path]:
    """Landing files of one source and delivery date, sorted by name."""
    folder = landing_dir / source / logical_date.isoformat()
    if not folder.is_dir():
        return []
    files = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        if file_format(p) is None:
            log.warning("%s: ignoring %s (not .jsonl/.csv[.gz])", source, p.name)
            continue
        files.append(p)
    return files


# --------------------------------------------------------------------------------------------
# Writing


class _Quarantine:
    """Rejected records, formatted as COPY text for raw.quarantine and spooled."""

    def __init__(self, source: str, file_path: str, load_id: str, logical_date: date):
        self.suffix = f"\t{copy_escape(load_id)}\t{logical_date.isoformat()}\n"
        self.prefix = f"{copy_escape(source)}\t{copy_escape(file_path)}\t"
        self.spool = tempfile.SpooledTemporaryFile(max_size=QUARANTINE_SPOOL)
        self.count = 0
        self.reasons: Counter[str] = Counter()
        self.examples: list[tuple[int, str]] = []

    def add(self, line_number: int, raw: bytes, reason: str) -> None:
        text = raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
        row = f"{self.prefix}{line_number}\t{copy_escape(text)}\t{copy_escape(reason)}{self.suffix}"
        self.spool.write(row.encode("utf-8", "backslashreplace"))
        self.count += 1
        self.reasons[reason.split(" (")[0]] += 1
        if len(self.examples) < MAX_LOGGED_REJECTS:
            self.examples.append((line_number, reason))

    def copy_into(self, cur: psycopg.Cursor) -> int:
        if not self.count:
            return 0
        self.spool.seek(0)
        with cur.copy(f"copy raw.quarantine ({_QUARANTINE_COLUMNS}) from stdin") as cp:
            while block := self.spool.read(1 << 20):
                cp.write(block)
        return cur.rowcount

    def close(self) -> None:
        self.spool.close()


class _RawWriter:
    """Writes raw rows with COPY.

    Normal mode: one COPY per file for the rows, opened when the runner has fixed the
    columns (CSV: the header order), written in large pre-formatted chunks from a writer
    thread (so parsing and PostgreSQL overlap); JSONL rows carrying unknown fields are
    spooled and copied afterwards with the _extra column (so the main COPY omits it).

    Careful mode (after PostgreSQL refused data in a normal COPY, which validation is meant
    to make impossible): each batch is copied inside a savepoint and, when a batch fails, its
    rows one by one; rows PostgreSQL refuses are quarantined as ``rejected_by_postgres``
    (SQLSTATE only, never the value)."""

    def __init__(self, conn: psycopg.Connection, cur: psycopg.Cursor, source: str, lineage_tail: list[str],
                 q: _Quarantine, careful: bool):
        self.conn, self.cur, self.source, self.q, self.careful = conn, cur, source, q, careful
        self.lineage_tail = lineage_tail  # constant lineage columns, in `const` order
        self.main_sql: str | None = None
        self.extra_sql: str | None = None
        self.loaded = 0
        self._cm = None
        self._cp = None
        self._spool = None

    def configure(self, columns: list[str], null: str, extra_in_main: bool) -> None:
        data = [f'"{c}"' for c in columns]
        opts = " with (null '')" if null == "" else ""
        main = data + ["_line_number", "_record_hash"] + (["_extra"] if extra_in_main else []) + self.lineage_tail
        extra = data + ["_line_number", "_record_hash", "_extra"] + self.lineage_tail
        self.main_sql = f"copy raw.{self.source} ({', '.join(main)}) from stdin{opts}"
        self.extra_sql = f"copy raw.{self.source} ({', '.join(extra)}) from stdin{opts}"

    # -- normal mode
    def write(self, rows: list[str], meta: list[tuple[int, bytes]] | None) -> None:
        if self.careful:
            self._careful(self.main_sql, rows, meta)
            return
        if self._cp is None:
            self._cm = self.cur.copy(self.main_sql, writer=_SliceWriter(self.cur))
            self._cp = self._cm.__enter__()
        self._cp.write(b"".join(rows) if rows[0].__class__ is bytes else "".join(rows).encode("utf-8"))

    def write_extra(self, row: str, line_number: int, raw: bytes) -> None:
        if self.careful:
            self._careful(self.extra_sql, [row], [(line_number, raw)])
            return
        if self._spool is None:
            self._spool = tempfile.SpooledTemporaryFile(max_size=QUARANTINE_SPOOL)
        self._spool.write(row.encode("utf-8"))

    def finish(self) -> int:
        if self._cm is not None:
            cm, self._cm, self._cp = self._cm, None, None
            cm.__exit__(None, None, None)
            self.loaded += self.cur.rowcount
        if self._spool is not None:
            self._spool.seek(0)
            with self.cur.copy(self.extra_sql) as cp:
                while block := self._spool.read(1 << 20):
                    cp.write(block)
            self.loaded += self.cur.rowcount
        return self.loaded

    def abort(self, exc: BaseException) -> None:
        if self._cm is not None:
            cm, self._cm, self._cp = self._cm, None, None
            try:
                cm.__exit__(type(exc), exc, exc.__traceback__)
            except Exception:  # the original error is the one to report
                pass

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    # -- careful mode
    def _copy(self, sql: str, data: str | bytes) -> int:
        with self.conn.transaction():
            with self.conn.cursor() as cur:
                with cur.copy(sql) as cp:
                    cp.write(data if data.__class__ is bytes else data.encode("utf-8"))
                return cur.rowcount

    def _careful(self, sql: str, rows: list[str], meta: list[tuple[int, bytes]] | None) -> None:
        assert meta is not None
        try:
            self.loaded += self._copy(sql, b"".join(rows) if rows[0].__class__ is bytes else "".join(rows))
            return
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError, UnicodeEncodeError):
            pass
        for row, (line_number, raw) in zip(rows, meta):
            try:
                self.loaded += self._copy(sql, row)
            except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
                self.q.add(line_number, raw, f"rejected_by_postgres (SQLSTATE {exc.sqlstate})")
            except UnicodeEncodeError:
                self.q.add(line_number, raw, "invalid_unicode (lone surrogate)")


class _SliceWriter(QueuedLibpqWriter):
    """psycopg's queued COPY writer, but a large buffer is queued as memoryview slices of it
    rather than copies (the whole COPY stream would otherwise be copied once more)."""

    def write(self, data) -> None:
        if len(data) <= _COPY_PIECE:
            super().write(data)
            return
        view = memoryview(data)
        for i in range(0, len(data), _COPY_PIECE):
            super().write(view[i:i + _COPY_PIECE])


_COPY_PIECE = 128 * 1024  # psycopg's MAX_BUFFER_SIZE: larger pieces make libpq slower


class _Blanks:
    """Blank lines are records only when a later record follows (trailing ones are dropped)."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, bytes]] = []
        self.dropped = 0

    def flush(self, q: _Quarantine) -> None:
        for n, raw in self.pending:
            q.add(n, raw, "blank_line")
        self.pending.clear()


def _jsonl_reason(line: bytes, exc: BaseException) -> str:
    if isinstance(exc, Bad):
        return exc.reason
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"invalid_utf8 (byte {e.start})"
    if b"\x00" in line:
        return "nul_byte (NUL character; PostgreSQL text cannot store it)"
    try:
        d = json_decode(line)
    except Exception as e:  # msgspec / json messages carry positions, not values
        return f"malformed_json ({str(e).splitlines()[0][:120]})"
    if not isinstance(d, dict):
        return f"not_an_object (JSON {type(d).__name__})"
    return f"invalid_record ({type(exc).__name__})"


def _run_jsonl(contract: Contract, path: Path, const: str, w: _RawWriter, q: _Quarantine, blanks: _Blanks,
               extra_counts: Counter, careful: bool, hasher=None, encoding: Encoding = UTF8,
               window: Window | None = None) -> int:
    """JSON lines.  Fast path: decode into a msgspec Struct (json fields kept raw, unknown
    fields refused); any record the fast path does not accept is redone on the dict path,
    which is authoritative (it yields the same row, keeps unknown fields, or names the
    violation)."""
    w.configure(contract.field_names, NULL, extra_in_main=False)
    plain = compile_converter(contract, "jsonl", escape=False, window=window)
    escaping = compile_converter(contract, "jsonl", escape=True, window=window)
    struct = None if careful else record_struct(contract, window)
    if struct is not None:
        import msgspec

        sdecode = msgspec.json.Decoder(struct).decode
        splain = compile_struct_converter(contract, escape=False, tail=const, window=window)
        sescaping = compile_struct_converter(contract, escape=True, tail=const, window=window)
    known = frozenset(contract.field_names)
    rhash = record_hash
    pending = blanks.pending
    n = 0
    rows: list[str] = []
    meta: list[tuple[int, bytes]] | None = [] if careful else None

    def slow(n: int, line: bytes) -> None:
        try:
            d = json_decode(line)
            if d.__class__ is not dict:
                raise TypeError
            if b"\\" in line:
                row = escaping(d)
                if not STRICT_UNICODE:
                    json_encode(d).encode("utf-8")  # lone surrogates
            else:
                row = plain(d)
        except Exception as exc:
            if not line.strip():
                pending.append((n, line))
                return
            if pending:
                blanks.flush(q)
            try:
                reason = _jsonl_reason(line, exc)
            except Bad as b:
                reason = b.reason
            q.add(n, line, reason)
            return
        if pending:
            blanks.flush(q)
        if d.keys() <= known:
            rows.append(f"{row}\t{n}\t{rhash(line)}{const}")
            if meta is not None:
                meta.append((n, line))
        else:
            ex = {k: v for k, v in d.items() if k not in known}
            extra_counts.update(k for k, v in ex.items() if v is not None)
            w.write_extra(f"{row}\t{n}\t{rhash(line)}\t{copy_escape(json_encode(ex))}{const}", n, line)

    for lines, _quotes, specials, _utf8 in _chunks(path, hasher, encoding=encoding):
        if struct is None:
            for line in lines:
                n += 1
                slow(n, line)
        elif not specials:
            # Batches of lines in one comprehension; a batch with a line the fast path refuses
            # is redone line by line.
            append = rows.append
            for start in range(0, len(lines), JSONL_BATCH):
                batch = lines[start:start + JSONL_BATCH]
                try:
                    rows += [splain(sdecode(line), k, line) for k, line in enumerate(batch, n + 1)]
                except Exception:
                    for line in batch:
                        n += 1
                        try:
                            append(splain(sdecode(line), n, line))
                        except Exception:
                            slow(n, line)
                            continue
                        if pending:
                            blanks.flush(q)
                    continue
                n += len(batch)
                if pending:
                    blanks.flush(q)
        else:
            for line in lines:
                n += 1
                try:
                    r = sdecode(line)
                    rows.append(sescaping(r, n, line) if b"\\" in line or b"\t" in line else splain(r, n, line))
                except Exception:
                    slow(n, line)
                    continue
                if pending:
                    blanks.flush(q)
        if len(rows) >= COPY_BATCH or careful:
            w.write(rows, meta)
            rows = []
            meta = [] if careful else None
    if rows:
        w.write(rows, meta)
    return n


_SENTINEL = "\x00touchpoint:end-of-chunk\x00"
MAX_RECORD_LINES = 1000  # a quoted field open for longer is taken as unterminated


def _decode_lines(blines: list[bytes]) -> tuple[list[str], set[int] | None]:
    """Text of each physical line; indexes of lines that are not valid UTF-8 (or None)."""
    try:
        return [b.decode("utf-8") for b in blines], None
    except UnicodeDecodeError:
        pass
    out, bad = [], set()
    for i, b in enumerate(blines):
        try:
            out.append(b.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(b.decode("utf-8", "surrogateescape"))
            bad.add(i)
    return out, bad


def _check_header(contract: Contract, rel: str, header: list[str]) -> list[str]:
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:].strip()
    if not any(header):
        raise LoadError(f"{rel}: CSV header is empty")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise LoadError(f"{rel}: CSV header repeats column(s) {', '.join(dupes)}")
    missing = [f for f in contract.required_fields if f not in header]
    if missing:
        raise LoadError(f"{rel}: CSV header lacks required column(s) {', '.join(missing)}; nothing loaded")
    return header


def _run_csv(contract: Contract, path: Path, rel: str, const: str, w: _RawWriter, q: _Quarantine,
             blanks: _Blanks, extra_counts: Counter, careful: bool, hasher=None, encoding: Encoding = UTF8,
             window: Window | None = None) -> int:
    """CSV, chunk by chunk.  A chunk without any quote is split on commas; otherwise
    csv.reader parses it, and a record still open at the end of the chunk (a quoted field
    spanning lines) is carried over and re-parsed with the next chunk.  Rows whose values
    PostgreSQL reads as written pass through as the raw line with commas turned into tabs
    (COPY null ''), the rest through the converter."""
    rhash = record_hash
    rdigest = record_digest
    pending = blanks.pending
    n = 0
    header: list[str] | None = None
    ncols = 0
    plain = escaping = passthrough = None
    extra_idx: list[tuple[int, str]] = []
    rows: list[str] = []
    meta: list[tuple[int, bytes]] | None = [] if careful else None
    chunks = _chunks(path, hasher, utf8=True, encoding=encoding)
    const_b = const.encode("utf-8")
    passthrough_b = None
    match = None
    carry: list[bytes] = []
    eof = False

    def slow(n: int, r: list[str] | None, raw: bytes, multi: bool, err: Exception | None, is_bad: bool) -> None:
        try:
            if err is not None:
                raise Bad("malformed_csv", None, str(err).split(" - ")[0])
            if is_bad:
                raise Bad("invalid_utf8", None, "record is not valid UTF-8")
            if len(r) != ncols:
                if not r or not raw.strip():
                    pending.append((n, raw))
                    return
                raise Bad("malformed_csv", None, f"{len(r)} fields, header has {ncols}")
            if multi:
                # csv.reader joined the physical lines without their newlines: re-read the record.
                r = next(csv.reader([raw.decode("utf-8")]))
                row = escaping(r)
            elif not _csv_special(raw):
                row = plain(r)
            else:
                row = escaping(r)
            if extra_idx:
                ex = {h: r[i] for i, h in extra_idx}
                extra_counts.update(h for h, v in ex.items() if v != "")
                row = f"{row}\t{n}\t{rhash(raw)}\t{copy_escape(json_encode(ex))}{const}"
            else:
                row = f"{row}\t{n}\t{rhash(raw)}{const}"
        except Bad as b:
            if pending:
                blanks.flush(q)
            q.add(n, raw, b.reason)
            return
        if pending:
            blanks.flush(q)
        rows.append(row.encode("utf-8"))
        if meta is not None:
            meta.append((n, raw))

    while True:
        quotes = specials = True
        utf8 = False
        if not eof:
            got = next(chunks, None)
            if got is None:
                eof = True
                blines = []
            else:
                blines, quotes, specials, utf8 = got
        else:
            blines = []
        if carry:
            blines = carry + blines
            carry = []
            quotes = specials = True
        if not blines:
            if eof:
                break
            continue
        if header is None:
            # Only the header's own lines are decoded and parsed here; the rest of the chunk
            # takes the same way as any later chunk.
            head = blines[:MAX_RECORD_LINES + 1]
            tlines, bad = _decode_lines(head)
            reader = csv.reader(tlines + [_SENTINEL])
            try:
                first = next(reader)
            except csv.Error as e:
                raise LoadError(f"{rel}: unreadable CSV header ({e})") from None
            if reader.line_num > len(head):  # header still open at the end of the chunk
                if eof or len(head) > MAX_RECORD_LINES:
                    raise LoadError(f"{rel}: unreadable CSV header (unterminated quoted field)")
                carry = blines
                continue
            if bad and any(i in bad for i in range(reader.line_num)):
                raise LoadError(f"{rel}: CSV header is not valid UTF-8")
            header = _check_header(contract, rel, first)
            ncols = len(header)
            known = set(contract.field_names)
            extra_idx = [(i, h) for i, h in enumerate(header) if h not in known]
            if extra_idx:
                log.info("%s: unknown column(s) kept in _extra: %s", rel, ", ".join(h for _, h in extra_idx))
            columns = [h for h in header if h in known]
            w.configure(columns, "", extra_in_main=bool(extra_idx))
            plain = compile_converter(contract, "csv", escape=False, header=header, columns=columns, null="",
                                      window=window)
            escaping = compile_converter(contract, "csv", escape=True, header=header, columns=columns, null="",
                                         window=window)
            passthrough = None if careful else compile_passthrough(contract, header, window=window)
            passthrough_b = None if careful else compile_passthrough(contract, header, binary=True, window=window)
            match = None if passthrough_b is None else compile_line_match(contract, header, window)
            blines = blines[reader.line_num:]
            if not blines:
                continue
        if passthrough_b is not None and utf8 and not quotes and not specials:
            # Valid UTF-8, no quotes, nothing to escape: one line is one record, split on commas.
            # One regex match accepts the common line; others are checked value by value.
            for b in blines:
                n += 1
                if match is None or match(b) is None:
                    r = b.split(b",")
                    if len(r) != ncols or not passthrough_b(r):
                        slow(n, b.decode("utf-8").split(","), b, False, None, False)
                        continue
                if pending:
                    blanks.flush(q)
                rows.append(b"%b\t%d\t%b%b" % (b.replace(b",", b"\t"), n, hexlify(rdigest(b)), const_b))
            if len(rows) >= COPY_BATCH or (careful and rows):
                w.write(rows, meta)
                rows = []
                meta = [] if careful else None
            continue
        tlines, bad = _decode_lines(blines)
        nreal = len(tlines)
        prev = 0
        reader = csv.reader(tlines + [_SENTINEL])
        while True:
            try:
                r = next(reader)
                err = None
            except StopIteration:
                break
            except csv.Error as e:
                r, err = None, e
            k = reader.line_num
            if k - prev == 1 and k <= nreal:
                n += 1
                t = tlines[prev]
                prev = k
                b = blines[k - 1]
                if (passthrough is not None and err is None and (bad is None or k - 1 not in bad)
                        and '"' not in t and not (specials and _csv_special(b))
                        and ((match is not None and match(b) is not None)
                             or (len(r) == ncols and passthrough(r)))):
                    if pending:
                        blanks.flush(q)
                    rows.append(b"%b\t%d\t%b%b" % (b.replace(b",", b"\t"), n, hexlify(rdigest(b)), const_b))
                else:
                    slow(n, r, blines[k - 1], False, err, bool(bad) and (k - 1) in bad)
                continue
            if k > nreal:
                if k - prev == 1:
                    break  # the sentinel line itself: every record of the chunk is complete
                # A quoted field is still open at the end of the chunk.
                if not eof and nreal - prev <= MAX_RECORD_LINES:
                    carry = blines[prev:]
                    break
                n += 1
                if pending:
                    blanks.flush(q)
                q.add(n, blines[prev], "malformed_csv (unterminated quoted field)")
                carry = blines[prev + 1:]
                break
            n += 1
            is_bad = bool(bad) and any(i in bad for i in range(prev, k))
            slow(n, r, b"\n".join(blines[prev:k]), True, err, is_bad)
            prev = k
        if len(rows) >= COPY_BATCH or (careful and rows):
            w.write(rows, meta)
            rows = []
            meta = [] if careful else None
    if header is None:
        w.configure(contract.field_names, "", extra_in_main=False)
    if rows:
        w.write(rows, meta)
    return n


# --------------------------------------------------------------------------------------------
# Loading


def _relative(path: Path, landing_dir: Path) -> str:
    try:
        return path.resolve().relative_to(landing_dir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _loaded_at_has_default(cur: psycopg.Cursor, source: str) -> bool:
    """ingestion/ddl.py gives raw.<source>._loaded_at the default now() (cheaper than sending it)."""
    cur.execute(
        "select a.atthasdef from pg_attribute a where a.attrelid = %s::regclass and a.attname = '_loaded_at'",
        (f"raw.{source}",))
    row = cur.fetchone()
    return bool(row and row[0])


def _new_load_id(source: str, logical_date: date) -> str:
    return f"{source}:{logical_date:%Y%m%d}:{uuid.uuid4().hex[:16]}"


def load_file(conn: psycopg.Connection, source: str, path: Path, logical_date: date,
              landing_dir: Path) -> FileResult:
    """Load one landing file into raw.<source> in one transaction (see docs/loading.md)."""
    contract = CONTRACTS.get(source)
    if contract is None:
        raise LoadError(f"unknown source {source!r}; known sources: {', '.join(SOURCE_NAMES)}")
    path = Path(path)
    rel = _relative(path, Path(landing_dir))
    started = time.perf_counter()
    load_id = _new_load_id(source, logical_date)
    size = None
    try:
        try:
            if file_format(path) != contract.file_format:
                raise LoadError(f"{rel}: {source} is delivered as .{contract.file_format}[.gz], not {path.name}")
            size = path.stat().st_size
            try:
                return _load(conn, contract, path, rel, logical_date, size, load_id, started, careful=False)
            except _RetryCareful as retry:
                log.warning("%s: PostgreSQL rejected data during COPY (SQLSTATE %s); reloading in careful mode",
                            rel, retry.sqlstate)
                return _load(conn, contract, path, rel, logical_date, size, load_id, started, careful=True)
        except READ_ERRORS as exc:
            # A file that cannot be read fails alone: the run goes on with the next one.
            raise LoadError(f"{rel}: {read_failure(exc, path.name.endswith('.gz'))}; nothing loaded") from None
        except (LoadError, psycopg.Error):
            raise
        except Exception as exc:  # a bug, not the data: keep the traceback in the log, fail this file only
            log.exception("%s: unexpected error while loading", rel)
            raise LoadError(f"{rel}: unexpected error while loading ({type(exc).__name__}: {exc});"
                            " nothing loaded") from None
    except LoadError as exc:
        _record_failure(conn, contract.source, logical_date, rel, _checksum_or_unreadable(path), size, load_id,
                        str(exc))
        raise


def _checksum_or_unreadable(path: Path) -> str:
    try:
        return file_checksum(path)
    except OSError as exc:
        return f"unreadable ({type(exc).__name__})"


class _RetryCareful(Exception):
    def __init__(self, sqlstate: str | None):
        self.sqlstate = sqlstate


def _record_failure(conn, source, logical_date, rel, checksum, size, load_id, message) -> None:
    log.error("%s", message)
    try:
        with conn.transaction():
            conn.execute(
                "insert into ops.load_manifest (load_id, source, logical_date, file_path, checksum, rows_read,"
                " rows_loaded, rows_quarantined, is_current, status, error, file_bytes)"
                " values (%s, %s, %s, %s, %s, 0, 0, 0, false, 'failed', %s, %s)",
                (load_id, source, logical_date, rel, checksum, message, size),
            )
    except psycopg.Error:  # the failure itself is what matters; do not mask it
        log.exception("%s: could not record the failure in ops.load_manifest", rel)


def _load(conn: psycopg.Connection, contract: Contract, path: Path, rel: str, logical_date: date,
          size: int, load_id: str, started: float, careful: bool) -> FileResult:
    source = contract.source
    q = _Quarantine(source, rel, load_id, logical_date)
    blanks = _Blanks()
    extra_counts: Counter[str] = Counter()
    try:
        with conn.transaction():
            cur = conn.cursor()
            # Two loads of the same file never both apply: the second waits, then sees the manifest.
            cur.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                        (f"touchpoint.ingest:{source}:{rel}",))
            share_erasure_lock(cur)  # an erasure in progress finishes first (ingestion/suppression.py)
            cur.execute(
                "select load_id, checksum from ops.load_manifest"
                " where source = %s and file_path = %s and is_current for update",
                (source, rel),
            )
            current = cur.fetchone()
            # A file seen before is hashed first, so an unchanged one is skipped without parsing;
            # a new file is hashed while it is parsed (one read).
            checksum = file_checksum(path) if current else None
            if current and current[1] == checksum:
                row = cur.execute(
                    "select rows_read, rows_loaded, rows_quarantined, coalesce(extra_fields, '{}'::jsonb),"
                    " rows_suppressed from ops.load_manifest where load_id = %s", (current[0],)).fetchone()
                q.close()
                return FileResult(source, logical_date, rel, checksum, row[0], row[1], row[2], current[0],
                                  "skipped", dict(row[3]), seconds=time.perf_counter() - started,
                                  rows_suppressed=row[4])
            encoding = sniff_encoding(path)
            window = window_for(logical_date)
            cur.execute("select set_config('TimeZone', %s, true), set_config('DateStyle', 'ISO, YMD', true),"
                        " set_config('client_encoding', 'UTF8', true), now()", (contract.naive_timezone,))
            loaded_at = cur.fetchone()[3]
            tail = ["_load_id", "_file_path", "_logical_date"]
            const = f"\t{copy_escape(load_id)}\t{copy_escape(rel)}\t{logical_date.isoformat()}"
            if not _loaded_at_has_default(cur, source):
                tail.append("_loaded_at")
                const += f"\t{loaded_at.isoformat()}"
            const += "\n"
            writer = _RawWriter(conn, cur, source, tail, q, careful)
            hasher = hashlib.sha256()
            # The cyclic GC would keep rescanning the many short-lived objects decoding creates.
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                if contract.file_format == "jsonl":
                    rows_read = _run_jsonl(contract, path, const, writer, q, blanks, extra_counts, careful, hasher,
                                           encoding, window)
                else:
                    rows_read = _run_csv(contract, path, rel, const, writer, q, blanks, extra_counts, careful, hasher,
                                         encoding, window)
                rows_loaded = writer.finish()
            except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
                writer.abort(exc)
                if careful:
                    raise
                raise _RetryCareful(exc.sqlstate) from exc
            except UnicodeEncodeError as exc:
                writer.abort(exc)
                if careful:
                    raise
                raise _RetryCareful(None) from exc
            except BaseException as exc:
                writer.abort(exc)
                raise
            finally:
                writer.close()
                if gc_was_enabled:
                    gc.enable()
            parsed = "sha256:" + hasher.hexdigest()
            if checksum is not None and parsed != checksum:
                raise LoadError(f"{rel}: the file changed while it was being loaded; nothing loaded, rerun")
            checksum = parsed
            rows_read -= len(blanks.pending)  # trailing blank lines are not records
            blanks.dropped = len(blanks.pending)
            # An erased person's rows are dropped before commit (right to erasure).
            rows_suppressed = drop_suppressed_rows(cur, contract, load_id, loaded_at)
            rows_loaded -= rows_suppressed
            rows_quarantined = q.copy_into(cur)
            redact_suppressed_quarantine(cur, load_id)
            if rows_read != rows_loaded + rows_quarantined + rows_suppressed:
                raise LoadError(
                    f"{rel}: reconciliation failed: rows_read {rows_read} != rows_loaded {rows_loaded}"
                    f" + rows_quarantined {rows_quarantined} + rows_suppressed {rows_suppressed};"
                    " nothing from the file was loaded")
            replaced = None
            if current:
                replaced = current[0]
                cur.execute(f"delete from raw.{source} where _load_id = %s", (replaced,))
                cur.execute("delete from raw.quarantine where load_id = %s", (replaced,))
                forget_load(cur, replaced)
                cur.execute("update ops.load_manifest set is_current = false, status = 'superseded',"
                            " superseded_by = %s where load_id = %s", (load_id, replaced))
            # Earlier attempts of this file that failed are answered by this load.
            cur.execute("update ops.load_manifest set superseded_by = %s where source = %s and file_path = %s"
                        " and status = 'failed' and superseded_by is null", (load_id, source, rel))
            extras = dict(sorted(extra_counts.items()))
            cur.execute(
                "insert into ops.load_manifest (load_id, source, logical_date, file_path, checksum, rows_read,"
                " rows_loaded, rows_quarantined, extra_fields, is_current, loaded_at, status, replaces_load_id,"
                " file_bytes, duration_ms, rows_suppressed, encoding)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, true, %s, 'loaded', %s, %s, %s, %s, %s)",
                (load_id, source, logical_date, rel, checksum, rows_read, rows_loaded, rows_quarantined,
                 Jsonb(extras) if extras else None, loaded_at, replaced, size,
                 int((time.perf_counter() - started) * 1000), rows_suppressed, encoding.label),
            )
            profile_load(cur, contract, load_id, logical_date, loaded_at)
    finally:
        q.close()
    seconds = time.perf_counter() - started
    log.info("%s: read %d, loaded %d, quarantined %d%s%s (%.2fs, %s)", rel, rows_read, rows_loaded,
             rows_quarantined, f", suppressed {rows_suppressed} (erased people)" if rows_suppressed else "",
             f", replaced {replaced}" if replaced else "", seconds, load_id)
    if blanks.dropped:
        log.info("%s: ignored %d blank line(s) at the end of the file", rel, blanks.dropped)
    if encoding is not UTF8:
        log.warning("%s: delivered as %s", rel, encoding.label)
    if extras:
        log.warning("%s: unknown field(s) kept in _extra: %s", rel,
                    ", ".join(f"{k} ({v})" for k, v in extras.items()))
    if rows_quarantined:
        log.warning("%s: quarantined %d row(s): %s", rel, rows_quarantined,
                    ", ".join(f"{k} x{v}" for k, v in q.reasons.most_common()))
        for line_number, reason in q.examples:
            log.warning("%s: line %d quarantined: %s", rel, line_number, reason)
    return FileResult(source, logical_date, rel, checksum, rows_read, rows_loaded, rows_quarantined, load_id,
                      "replaced" if replaced else "loaded", extras, replaced, seconds, careful, rows_suppressed,
                      encoding.label)


def ingest(logical_date: date, sources: list[str] | None = None, landing_dir: Path | None = None,
           url: str | None = None, *, on_result: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    """Load every landing file of ``logical_date`` for ``sources`` (default: all twelve).

    Every file is attempted; if any fails, LoadError is raised at the end (carrying the
    results of the files that loaded and the individual errors)."""
    from touchpoint.bootstrap import ensure_warehouse
    from touchpoint.config import settings
    from touchpoint.db import connect

    landing = Path(landing_dir) if landing_dir is not None else settings().landing_dir
    names = list(sources) if sources else list(SOURCE_NAMES)
    unknown = [s for s in names if s not in CONTRACTS]
    if unknown:
        raise LoadError(f"unknown source(s) {', '.join(unknown)}; known sources: {', '.join(SOURCE_NAMES)}")
    results: list[FileResult] = []
    errors: list[LoadError] = []
    with connect(url, autocommit=True) as conn:
        with conn.transaction():
            ensure_warehouse(conn)
        for source in names:
            files = discover(landing, source, logical_date)
            if not files:
                log.info("%s: no files in %s", source, landing / source / logical_date.isoformat())
                continue
            for path in files:
                try:
                    result = load_file(conn, source, path, logical_date, landing)
                except LoadError as exc:
                    errors.append(exc)
                    continue
                results.append(result)
                if on_result:
                    on_result(result)
    if errors:
        raise LoadError(f"{len(errors)} file(s) failed to load: " + "; ".join(str(e) for e in errors),
                        results=results, errors=errors)
    return results


# --------------------------------------------------------------------------------------------
# CLI


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", required=True, type=_date_arg, help="delivery date (landing folder), YYYY-MM-DD")
    parser.add_argument("--source", action="append", choices=SOURCE_NAMES, metavar="SOURCE",
                        help="source to load (repeatable; default: all)")
    parser.add_argument("--landing", type=Path, default=None,
                        help="landing directory (default: $TOUCHPOINT_LANDING_DIR or ./landing)")


def _line(r: FileResult) -> str:
    return (f"{r.status:<8} {r.file_path}  read={r.rows_read} loaded={r.rows_loaded} "
            f"quarantined={r.rows_quarantined}" + (f" extra_fields={r.extra_fields}" if r.extra_fields else ""))


def run(args: argparse.Namespace) -> int:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    results: list[FileResult] = []

    def show(r: FileResult) -> None:
        results.append(r)
        print(_line(r), flush=True)

    code, failed = 0, 0
    try:
        ingest(args.date, args.source, args.landing, on_result=show)
    except LoadError as exc:
        for e in exc.errors or [exc]:
            print(f"FAILED   {e}", file=sys.stderr, flush=True)
        failed = len(exc.errors) or 1
        code = 1
    statuses = Counter(r.status for r in results)
    print(f"total: {len(results)} file(s): loaded {statuses['loaded']}, replaced {statuses['replaced']}, "
          f"skipped {statuses['skipped']}, failed {failed}; rows read {sum(r.rows_read for r in results)}, "
          f"loaded {sum(r.rows_loaded for r in results)}, quarantined {sum(r.rows_quarantined for r in results)}")
    return code


def main(argv: list[str] | None = None) -> int:  # python -m ingestion.loader
    parser = argparse.ArgumentParser(prog="touchpoint ingest", description=__doc__.splitlines()[0])
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
