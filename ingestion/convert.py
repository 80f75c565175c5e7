"""Per-source record validation and conversion, generated from the contracts.

Three kinds of function are generated, each with the contract's fields unrolled (no
per-field dispatch at run time):

* :func:`compile_converter` -- the authoritative converter: one decoded record (a dict for
  JSONL, a list of strings for CSV) to one line of PostgreSQL COPY text (tab-separated, the
  COPY null marker for null), or :class:`Bad` naming the violation.  A *plain* variant for
  records whose raw text holds nothing COPY must escape (the common case) and an *escaping* one.
* :func:`compile_struct_converter` with :func:`record_struct` -- the JSONL fast path: msgspec
  decodes a line straight into a Struct typed from the contract (types, enums, bounds and
  required fields checked in C, nested json kept raw); the converter only formats.
* :func:`compile_passthrough` -- the CSV fast path: is every value one PostgreSQL reads as
  written (then the raw line itself is the COPY row)?

The fast paths only ever accept a subset of what the converter accepts, and produce the same
values; anything they refuse is redone by the converter.  Every value handed to PostgreSQL
has been checked to be one PostgreSQL accepts, so a COPY does not fail on data: timestamps
are checked for shape and calendar (``datetime.fromisoformat``) and sent as written
(PostgreSQL reads offsets, and naive values in the session TimeZone, which the loader sets to
the contract's ``naive_timezone``); GA4 micros become a UTC ISO string; numbers are
range-checked against the contract and bigint.
"""
from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from ingestion.contract import Contract, Field
from ingestion.plausibility import Window

from xxhash import xxh3_128_digest, xxh3_128_hexdigest

# _record_hash of one raw record: xxh3-128, hex (32 characters).  One C call per record, a
# seventh of md5's cost; it identifies exact re-sends, it is not a security hash.
record_hash = xxh3_128_hexdigest
record_digest = xxh3_128_digest

try:  # msgspec ships with Airflow; ~3x faster decode and ~10x faster encode than json.
    import msgspec

    # JSON numbers with a fraction or exponent are read as Decimal, so a numeric field keeps
    # every digit as written (a double keeps 17); encoded back as numbers, never strings.
    _dec = msgspec.json.Decoder(float_hook=Decimal).decode
    _enc_bytes = msgspec.json.Encoder(decimal_format="number").encode

    def json_decode(data: bytes | str) -> Any:
        return _dec(data)

    def json_encode(obj: Any) -> str:
        return _enc_bytes(obj).decode()

    JSON_BACKEND = "msgspec"
    STRICT_UNICODE = True  # msgspec rejects lone surrogates (\ud800) while decoding
except ImportError:  # pragma: no cover - exercised only without msgspec
    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    _json_dec = json.JSONDecoder(parse_constant=_no_constants)

    def json_decode(data: bytes | str) -> Any:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        return _json_dec.decode(data)

    def json_encode(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    JSON_BACKEND = "json"
    STRICT_UNICODE = False

NULL = "\\N"


class Bad(Exception):
    """A record breaks the contract; ``reason`` is ``code`` or ``code: field (detail)``.

    Reasons never contain field values (they may be PII)."""

    def __init__(self, code: str, field: str | None = None, detail: str | None = None):
        reason = code if field is None else f"{code}: {field}"
        if detail:
            reason += f" ({detail})"
        super().__init__(reason)
        self.code = code
        self.reason = reason


def copy_escape(s: str) -> str:
    """Escape text for COPY text format; NUL cannot be stored in PostgreSQL text."""
    if "\x00" in s:
        raise Bad("nul_byte", None, "NUL character; PostgreSQL text cannot store it")
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _esc_field(name: str) -> Callable[[str], str]:
    def esc(s: str) -> str:
        if "\x00" in s:
            raise Bad("nul_byte", name, "NUL character; PostgreSQL text cannot store it")
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return esc


def _esc_json_field(name: str) -> Callable[[str], str]:
    def esc(s: str) -> str:
        # Encoded JSON has no raw control characters; only backslashes need doubling.
        if "\\u0000" in s:
            raise Bad("nul_byte", name, "\\u0000 in JSON; PostgreSQL jsonb cannot store it")
        return s.replace("\\", "\\\\")
    return esc


UINT_RE = re.compile(r"[0-9]+")
NUM_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DATE_RE = re.compile(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})")
# ISO-8601 date-time as PostgreSQL and datetime.fromisoformat both read it; group 1 is the
# offset's hours (PostgreSQL accepts offsets below 16 hours).
TS_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-]([0-9]{2})(?::?[0-9]{2})?)?"
)
BOOLS = {
    "true": "t", "t": "t", "1": "t", "yes": "t", "y": "t",
    "false": "f", "f": "f", "0": "f", "no": "f", "n": "f",
}
BOOLS.update({k.upper(): v for k, v in list(BOOLS.items())})
BOOLS.update({k.capitalize(): v for k, v in list(BOOLS.items())})

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROS_MAX = 253402300800 * 1_000_000  # 10000-01-01T00:00:00Z


def _parse_date(v: Any, name: str, cache: dict) -> str:
    if v.__class__ is not str:
        raise Bad("wrong_type", name, "expected a date string")
    m = DATE_RE.fullmatch(v.strip())
    if m is None or (len(v.strip()) == 9):  # reject mixed YYYY-MMDD forms
        _refuse_non_ascii_digits(v, name)
        raise Bad("wrong_type", name, "expected YYYY-MM-DD or YYYYMMDD")
    try:
        out = date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        raise Bad("wrong_type", name, "not a calendar date") from None
    if len(cache) < 10_000:
        cache[v] = out
    return out


def _refuse_non_ascii_digits(v: str, name: str) -> None:
    """Full-width (１０) or other non-ASCII digits: Python's int() and float() read them,
    PostgreSQL does not, and a export writing them is broken; quarantined, not normalised."""
    if not v.isascii() and any(c.isdigit() and not c.isascii() for c in v):
        raise Bad("non_ascii_digits", name)


def _implausible(name: str, window: Window, day: str, kind: str = "timestamp") -> Bad:
    return Bad(f"implausible_{kind}", name, window.detail(day))


def _parse_ts(v: Any, name: str) -> str:
    if v.__class__ is not str:
        raise Bad("wrong_type", name, "expected an ISO-8601 timestamp string")
    m = TS_RE.fullmatch(v)
    if m is None:
        v = v.strip()
        m = TS_RE.fullmatch(v)
        if m is None:
            _refuse_non_ascii_digits(v, name)
            raise Bad("wrong_type", name, "expected an ISO-8601 timestamp")
    try:
        datetime.fromisoformat(v)
    except ValueError:
        raise Bad("wrong_type", name, "not a valid date-time") from None
    oh = m[1]
    if oh is not None and oh > "15":
        raise Bad("out_of_range", name, "UTC offset of 16 hours or more")
    return v


# Offsets seen and found below 16 hours (PostgreSQL's limit); None (naive) is always fine.
_TZ_OK: set = {None}
# A date-time's separators at positions 4, 7, 10 and 13 (``v[4:14:3]``), as PostgreSQL needs them.
_TS_SEPARATORS = frozenset({"--T:", "-- :"})
# Offsets written +HH:MM / -HH:MM below 16 hours: a date-time ending in one that
# datetime.fromisoformat reads needs no look at its tzinfo (saves building a timezone per value).
_TS_OFFSETS = frozenset(f"{sign}{h:02d}:{m:02d}" for sign in "+-" for h in range(16) for m in range(60))


def _check_tz(tz, name: str) -> None:
    offset = tz.utcoffset(None)
    if offset is None or abs(offset) >= timedelta(hours=16):
        raise Bad("out_of_range", name, "UTC offset of 16 hours or more")
    if offset.microseconds:
        raise Bad("wrong_type", name, "fractional seconds in the UTC offset")
    if len(_TZ_OK) < 1000:
        _TZ_OK.add(tz)


def _ts_fast(out: str, n: str, window: Window | None) -> list[str]:
    """Code checking a timestamp string ``v`` the fast way: the separators PostgreSQL needs
    (YYYY-MM-DD, T or space, HH:MM, no comma) are where they belong and
    ``datetime.fromisoformat`` reads it (a real calendar date-time); the offset is below 16 h.
    Anything else goes to _parse_ts, which strips surrounding whitespace or gives the precise
    reason.  With a window, the date part (as written) must lie inside it."""
    lines = [
        "if v[4:14:3] in TS_SEP and ',' not in v:",
        "    try:",
        *("        " + line for line in _ts_calendar(n)),
        f"    except ValueError: v = _parse_ts(v, {n})",
        f"else: v = _parse_ts(v, {n})",
    ]
    if window is not None:
        lines.append(f"if not (TLO <= v[:10] <= THI): raise _implausible({n}, WINDOW, v[:10])")
    return lines + [f"{out} = v"]


def _ts_calendar(n: str) -> list[str]:
    """Code checking that ``v`` (separators already checked) is a real date-time that
    ``datetime.fromisoformat`` reads, with an offset below 16 hours (else Bad or ValueError)."""
    return [
        "if v[-6:] in TS_OFFSETS: FROMISO(v)",
        "else:",
        "    z = FROMISO(v).tzinfo",
        f"    if z not in TZ_OK: _check_tz(z, {n})",
    ]


def _parse_micros(v: Any, name: str, lo: int, hi: int, window: Window | None = None) -> str:
    t = v.__class__
    if t is int:
        x = v
    elif t is str and UINT_RE.fullmatch(v.strip()):
        x = int(v)
    elif (t is float and v.is_integer()) or (t is Decimal and v.is_finite() and v == v.to_integral_value()):
        x = int(v)
    else:
        if t is str:
            _refuse_non_ascii_digits(v, name)
        raise Bad("wrong_type", name, "expected integer microseconds since the epoch")
    if not (lo <= x < hi):
        if window is not None and 0 <= x < MICROS_MAX:
            raise _implausible(name, window, _micros_text(x)[:10])
        raise Bad("out_of_range", name, "microseconds outside 1970..9999")
    return _micros_text(x)


_MINUTES: dict[int, str] = {}


def _micros_text(x: int) -> str:
    """UTC ISO text of integer micros since the epoch (minute prefixes cached)."""
    minute, rest = divmod(x, 60_000_000)
    prefix = _MINUTES.get(minute)
    if prefix is None:
        if len(_MINUTES) > 100_000:
            _MINUTES.clear()
        prefix = _MINUTES[minute] = (EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M:")
    sec, us = divmod(rest, 1_000_000)
    return f"{prefix}{sec:02d}.{us:06d}+00"


def _micros_bounds(f: Field, window: Window | None) -> tuple[int, int]:
    """[lo, hi) in microseconds since the epoch: the contract's bounds within the window."""
    lo = 0 if f.minimum is None else int(f.minimum)
    hi = MICROS_MAX if f.maximum is None else int(f.maximum) + 1
    if window is not None:
        lo = max(lo, _day_micros(window.first))
        hi = min(hi, _day_micros(window.last + timedelta(days=1)))
    return lo, hi


def _day_micros(day: date) -> int:
    return (datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - EPOCH) // timedelta(microseconds=1)


def _bounds(f: Field, lo: float, hi: float) -> tuple[float, float]:
    return (lo if f.minimum is None else max(lo, f.minimum), hi if f.maximum is None else min(hi, f.maximum))


def _range_text(f: Field) -> str:
    def fmt(x: float | None) -> str:
        return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))
    return f"outside [{fmt(f.minimum)}, {fmt(f.maximum)}]"


class _Gen:
    """Source builder for one converter function."""

    def __init__(self, window: Window | None = None) -> None:
        self.lines: list[str] = []
        self.window = window
        self.env: dict[str, Any] = {
            "Decimal": Decimal, "WINDOW": window, "_implausible": _implausible,
            "_refuse_non_ascii_digits": _refuse_non_ascii_digits,
            "TLO": window.first.isoformat() if window else None, "THI": window.last.isoformat() if window else None,
            "Bad": Bad, "NULL": NULL, "UINT_RE": UINT_RE, "NUM_RE": NUM_RE,
            "BOOLS": BOOLS, "_parse_date": _parse_date, "_parse_ts": _parse_ts,
            "_parse_micros": _parse_micros, "json_encode": json_encode, "json_decode": json_decode,
            "isfinite": math.isfinite, "_num_text": _num_text,
            "FROMISO": datetime.fromisoformat,
            "TZ_OK": _TZ_OK, "_check_tz": _check_tz, "TS_SEP": _TS_SEPARATORS, "TS_OFFSETS": _TS_OFFSETS,
        }

    def const(self, name: str, value: Any) -> str:
        self.env[name] = value
        return name

    def emit(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + ln for ln in lines)


_EXPECTED = {
    "string": "expected a string", "integer": "expected an integer", "numeric": "expected a number",
    "boolean": "expected a boolean", "date": "expected YYYY-MM-DD or YYYYMMDD",
    "timestamp": "expected an ISO-8601 timestamp", "timestamp_micros": "expected integer microseconds",
    "json": "expected a JSON object or array",
}


def _num_text(v: str, name: str) -> str:
    """A numeric string PostgreSQL reads (float() also takes '1_000', non-ASCII digits, 'inf')."""
    s = v.strip()
    if NUM_RE.fullmatch(s) is None:
        _refuse_non_ascii_digits(s, name)
        raise Bad("wrong_type", name, "expected a number")
    return s


def _type_block(g: _Gen, f: Field, i: int, escape: bool, fmt: str) -> list[str]:
    """Code turning a present, non-empty value ``v`` into COPY text ``c{i}``.

    CSV values are always strings; JSON values are typed, and a number may also come as a
    numeric string (BigQuery and Shopify exports quote them)."""
    n = repr(f.name)
    out: list[str] = []
    csv_ = fmt == "csv"
    if f.type == "string":
        if not csv_:
            out += [
                "if v.__class__ is not str:",
                "    if v.__class__ is int: v = str(v)",
                f"    else: raise Bad('wrong_type', {n}, 'expected a string')",
            ]
        if f.required:
            out += [("if v.isspace():" if csv_ else "if not v or v.isspace():"), f"    raise Bad('missing_required', {n})"]
        if f.enum:
            e = g.const(f"E{i}", frozenset(f.enum))
            allowed = ", ".join(f.enum)
            out += [
                f"if v not in {e} and v.strip() not in {e} and v.strip():",
                f"    raise Bad('enum_violation', {n}, {('not one of ' + allowed)!r})",
            ]
        out += _length_check(f, "v")
        out.append(f"c{i} = {g.const(f'ESC{i}', _esc_field(f.name))}(v)" if escape else f"c{i} = v")
    elif f.type == "integer":
        lo, hi = _bounds(f, BIGINT_MIN, BIGINT_MAX)
        rng = _range_text(f) if (f.minimum is not None or f.maximum is not None) else "outside bigint"
        if csv_:
            out += [f"if not v.isascii(): _refuse_non_ascii_digits(v, {n})", "x = int(v)"]
        else:
            out += [
                "t = v.__class__",
                "if t is int: x = v",
                "elif t is str:",
                f"    if not v.isascii(): _refuse_non_ascii_digits(v, {n})",
                "    x = int(v)",
                "elif t is Decimal and v == v.to_integral_value(): x = int(v)",
                "elif t is float and v.is_integer(): x = int(v)",
                f"else: raise Bad('wrong_type', {n}, 'expected an integer')",
            ]
        out += [
            f"if not ({lo!r} <= x <= {hi!r}): raise Bad('out_of_range', {n}, {rng!r})",
            f"c{i} = str(x)",
        ]
    elif f.type == "numeric":
        str_case = [
            "x = float(v)",
            f"c{i} = v if v.isascii() and '_' not in v else _num_text(v, {n})",
        ]
        if csv_:
            out += str_case
        else:
            out += [
                "t = v.__class__",
                f"if t is int: c{i} = str(v); x = v",
                f"elif t is Decimal: c{i} = str(v); x = v",  # every digit as written
                f"elif t is float: c{i} = repr(v); x = v",
                "elif t is str:",
                *("    " + ln for ln in str_case),
                f"else: raise Bad('wrong_type', {n}, 'expected a number')",
            ]
        if f.minimum is not None or f.maximum is not None:
            g.const(f"LO{i}", float("-inf") if f.minimum is None else f.minimum)
            g.const(f"HI{i}", float("inf") if f.maximum is None else f.maximum)
            out.append(f"if not (LO{i} <= x <= HI{i}): raise Bad('out_of_range', {n}, {_range_text(f)!r})")
        else:
            out.append(f"if not isfinite(x): raise Bad('out_of_range', {n}, 'not a finite number')")
    elif f.type == "boolean":
        lookup = [
            f"c{i} = BOOLS.get(v) or BOOLS.get(v.strip().lower())",
            f"if c{i} is None: raise Bad('wrong_type', {n}, 'expected a boolean')",
        ]
        if csv_:
            out += lookup
        else:
            out += [
                f"if v is True: c{i} = 't'",
                f"elif v is False: c{i} = 'f'",
                "elif v.__class__ is str:",
                *("    " + ln for ln in lookup),
                f"else: raise Bad('wrong_type', {n}, 'expected a boolean')",
            ]
    elif f.type == "date":
        cache = g.const(f"DC{i}", {})
        out += [
            f"c{i} = {cache}.get(v)" if csv_ else f"c{i} = {cache}.get(v) if v.__class__ is str else None",
            f"if c{i} is None: c{i} = _parse_date(v, {n}, {cache})",
            *_date_window(g, f"c{i}", n),
        ]
    elif f.type == "timestamp":
        # Fast path: exact shape + a real calendar date-time; anything else gets the precise reason.
        out += _ts_fast(f"c{i}", n, g.window)
    elif f.type == "timestamp_micros":
        lo, hi = _micros_bounds(f, g.window)
        g.const("MICROS", _micros_text)
        out += [
            f"if v.__class__ is int and {lo} <= v < {hi}: c{i} = MICROS(v)",
            f"else: c{i} = _parse_micros(v, {n}, {lo}, {hi}, WINDOW)",
        ]
    elif f.type == "json":
        if csv_:
            out.append("v = json_decode(v)")
        out += [
            "if v.__class__ is dict or v.__class__ is list:",
            f"    c{i} = json_encode(v)",
            f"else: raise Bad('wrong_type', {n}, 'expected a JSON object or array')",
            *_length_check(f, f"c{i}"),
        ]
        if escape:
            out.append(f"c{i} = {g.const(f'ESCJ{i}', _esc_json_field(f.name))}(c{i})")
    else:  # pragma: no cover - contract.FieldType is closed
        raise ValueError(f"unsupported field type {f.type}")
    return out


def _length_check(f: Field, var: str) -> list[str]:
    limit = f.length_limit
    if limit is None:
        return []
    return [f"if len({var}) > {limit}: raise Bad('too_long', {f.name!r}, 'over {limit:,} characters')"]


def _date_window(g: _Gen, var: str, n: str) -> list[str]:
    if g.window is None:
        return []
    return [f"if not (TLO <= {var} <= THI): raise _implausible({n}, WINDOW, {var}, 'date')"]


def _esc_raw_json_field(name: str) -> Callable[[str], str]:
    """Escape a JSON text passed through verbatim (msgspec.Raw) for COPY text format."""
    def esc(s: str) -> str:
        if "\\u" in s:  # \u0000 and lone surrogates: let the strict decoder judge
            if "\\u0000" in s:
                raise Bad("nul_byte", name, "\\u0000 in JSON; PostgreSQL jsonb cannot store it")
            json_decode(s)
        return s.replace("\\", "\\\\").replace("\t", "\\t")
    return esc


def compile_converter(
    contract: Contract, fmt: str, escape: bool, header: list[str] | None = None,
    columns: list[str] | None = None, null: str = NULL, window: Window | None = None,
) -> Callable[[Any], str]:
    """Generate ``convert(record) -> COPY text of the record's fields``.

    fmt: ``jsonl`` (record is a dict), ``struct`` (record is the msgspec Struct of
    :func:`record_struct`, json fields arrive as msgspec.Raw and pass through verbatim) or
    ``csv`` (record is a list of strings; ``header`` maps fields to positions).
    columns: the fields written, in order (default: the contract's); null: the COPY null marker.
    window: the plausible dates of timestamps and dates (ingestion/plausibility.py), if any.
    """
    g = _Gen(window)
    g.env["NULL"] = null
    g.emit(0, "def convert(r):")
    if fmt == "jsonl":
        g.emit(1, "g = r.get")
    cells = []
    fields = [contract.get(c) for c in columns] if columns is not None else list(contract.fields)
    for i, f in enumerate(fields):
        n = repr(f.name)
        cells.append(f"{{c{i}}}")
        if fmt == "struct" and f.type == "json":
            g.emit(1, f"v = r.{f.name}",
                   "if v is not None:",
                   "    v = bytes(v)",
                   "    if v == b'null': v = None")
            g.emit(1, "if v is None:")
            g.emit(2, f"raise Bad('missing_required', {n})" if f.required else f"c{i} = NULL")
            g.emit(1, "else:")
            g.emit(2, "try:")
            g.emit(3, f"if v[0] != 123 and v[0] != 91: raise Bad('wrong_type', {n}, 'expected a JSON object or array')",
                   f"c{i} = v.decode()")
            if escape:
                g.emit(3, f"c{i} = {g.const(f'ESCR{i}', _esc_raw_json_field(f.name))}(c{i})")
            g.emit(2, "except Bad: raise")
            g.emit(2, f"except Exception: raise Bad('wrong_type', {n}, {_EXPECTED[f.type]!r}) from None")
            continue
        if fmt == "jsonl":
            g.emit(1, f"v = g({n})")
            empty = "v is None" if f.type == "string" else "v is None or v == ''"
        elif fmt == "struct":
            g.emit(1, f"v = r.{f.name}")
            empty = "v is None" if f.type == "string" else "v is None or v == ''"
        else:
            assert header is not None
            if f.name not in header:
                g.emit(1, f"c{i} = NULL")
                continue
            g.emit(1, f"v = r[{header.index(f.name)}]")
            empty = "not v" if f.type == "string" else "not v or v.isspace()"
        g.emit(1, f"if {empty}:")
        if f.required:
            g.emit(2, f"raise Bad('missing_required', {n})")
        else:
            g.emit(2, f"c{i} = NULL")
        g.emit(1, "else:")
        g.emit(2, "try:")
        g.emit(3, *_type_block(g, f, i, escape, "jsonl" if fmt == "struct" else fmt))
        g.emit(2, "except Bad: raise")
        g.emit(2, f"except Exception: raise Bad('wrong_type', {n}, {_EXPECTED[f.type]!r}) from None")
    g.emit(1, "return f'" + "\\t".join(cells) + "'")
    return _finish(g, f"<converter {contract.source} {fmt}{' escaping' if escape else ''}>")


def _finish(g: _Gen, name: str) -> Callable:
    src = "\n".join(g.lines)
    exec(compile(src, name, "exec"), g.env)
    fn = g.env[g.lines[0].split()[1].split("(")[0]]
    fn.__source__ = src  # type: ignore[attr-defined]
    return fn


# Spellings PostgreSQL's boolean input reads as they are.
PG_BOOLS = frozenset(BOOLS)


def compile_passthrough(contract: Contract, header: list[str], binary: bool = False,
                        window: Window | None = None) -> Callable[[list], bool] | None:
    """For CSV: ``ok(values) -> bool``, true when every value is one PostgreSQL reads exactly as
    written (so the raw line, commas turned into tabs, is the COPY row; empty means null).
    False sends the record through the converter, which normalises it or names the violation.
    ``binary``: the values are the raw bytes of the fields (the line split on commas).
    None when the header has a column that always needs converting (unknown, json, micros)."""
    known = set(contract.field_names)
    if any(h not in known or contract.get(h).type in ("json", "timestamp_micros") for h in header):
        return None
    g = _Gen(window)
    enc = (lambda x: x.encode()) if binary else (lambda x: x)
    g.env["PG_BOOLS"] = frozenset(enc(b) for b in PG_BOOLS)
    g.emit(0, "def ok(r):")
    g.emit(1, "try:")
    for i, name in enumerate(header):
        f = contract.get(name)
        if f.type == "string" and not f.enum and not f.required:
            # Any text passes that is short enough (bytes: never fewer than its characters).
            g.emit(2, f"if len(r[{i}]) > {f.length_limit}: return False")
            continue
        g.emit(2, f"v = r[{i}]")
        if f.required:
            g.emit(2, "if not v or v.isspace(): return False")
            ind = 2
        else:
            g.emit(2, "if v:")
            ind = 3
        body: list[str] = []
        if f.type == "string":
            if f.enum:
                body.append(f"if v not in {g.const(f'E{i}', frozenset(enc(e) for e in f.enum))}: return False")
            body.append(f"if len(v) > {f.length_limit}: return False")
        elif f.type == "integer":
            lo, hi = _bounds(f, BIGINT_MIN, BIGINT_MAX)
            body += ["if not (v.isascii() and v.isdigit()): return False",
                     f"if not ({lo!r} <= int(v) <= {hi!r}): return False"]
        elif f.type == "numeric":
            lo = float("-inf") if f.minimum is None else f.minimum
            hi = float("inf") if f.maximum is None else f.maximum
            g.const(f"LO{i}", lo)
            g.const(f"HI{i}", hi)
            under = "b'_'" if binary else "'_'"
            body += ["x = float(v)",
                     f"if not (LO{i} <= x <= HI{i}) or not isfinite(x) or not v.isascii() or {under} in v: return False"]
        elif f.type == "boolean":
            body.append("if v not in PG_BOOLS: return False")
        elif f.type == "date":
            cache = g.const(f"DC{i}", {})
            text = "v.decode()" if binary else "v"
            body.append(f"if v not in {cache}:")
            body.append(f"    d = _parse_date({text}, {f.name!r}, {{}})")
            if window is not None:
                body.append("    if not (TLO <= d <= THI): return False")
            body.append(f"    {cache}[v] = True")
        elif f.type == "timestamp":
            # As _ts_fast; an offset not seen before is checked (and remembered) by _check_tz,
            # whose Bad means False.
            body += (["v = v.decode()"] if binary else []) + [
                "if not (v[4:14:3] in TS_SEP and ',' not in v): return False", *_ts_calendar(repr(f.name))]
            if window is not None:
                body.append("if not (TLO <= v[:10] <= THI): return False")
        g.emit(ind, *body)
    g.emit(1, "except Exception: return False")
    g.emit(1, "return True")
    return _finish(g, f"<passthrough {contract.source}{' binary' if binary else ''}>")


def record_struct(contract: Contract, window: Window | None = None) -> type | None:
    """A msgspec Struct for the contract's JSON records, typed so that msgspec checks in C what
    the common case needs: JSON types, enums (exact), numeric bounds, required fields present
    and non-null, unknown fields refused.  A record it refuses takes the dict path (which keeps
    unknown fields in _extra, accepts numeric strings, or names the violation).  Numeric fields
    are kept raw (the number's text), so every digit reaches PostgreSQL as written."""
    if JSON_BACKEND != "msgspec":
        return None
    import keyword
    from typing import Annotated, Literal, Optional

    names = contract.field_names
    if any(not n.isidentifier() or keyword.iskeyword(n) or n.startswith("_") for n in names):
        return None

    def num(tp, f, lo=None, hi=None):
        kw = {}
        lo = f.minimum if f.minimum is not None else lo
        hi = f.maximum if f.maximum is not None else hi
        if lo is not None:
            kw["ge"] = tp(lo)
        if hi is not None:
            kw["le"] = tp(hi)
        return Annotated[tp, msgspec.Meta(**kw)] if kw else tp

    fields = []
    for f in contract.fields:
        if f.type in ("json", "numeric"):
            tp: Any = msgspec.Raw
        elif f.type == "string":
            tp = Literal[f.enum] if f.enum else Annotated[str, msgspec.Meta(max_length=f.length_limit)]  # type: ignore[valid-type]
        elif f.type == "integer":
            tp = num(int, f, BIGINT_MIN, BIGINT_MAX)
        elif f.type == "boolean":
            tp = bool
        elif f.type == "timestamp_micros":
            lo, hi = _micros_bounds(f, window)
            tp = Annotated[int, msgspec.Meta(ge=lo, le=hi - 1)]
        else:  # date, timestamp: strings checked by the converter
            tp = str
        if f.type in ("json", "numeric"):
            fields.append((f.name, tp, None))  # Raw (null arrives as b"null")
        elif f.required:
            fields.append((f.name, tp))
        else:
            fields.append((f.name, Optional[tp], None))
    # Fields in the contract's order, which is the order exports write keys in: msgspec looks for
    # the next field first (kw_only lets required and optional fields mix).  gc=False: the
    # values are str/int/float/bool/Raw/None, which cannot form reference cycles.
    return msgspec.defstruct(f"{contract.source}_record", fields, forbid_unknown_fields=True, gc=False,
                             kw_only=True)


def compile_struct_converter(contract: Contract, escape: bool, tail: str | None = None,
                             window: Window | None = None) -> Callable[..., str]:
    """Converter for records decoded with :func:`record_struct` (types already checked).

    With ``tail`` (the constant lineage columns and the line terminator) the function is
    ``convert(record, line_number, raw_line)`` and returns the whole COPY row: the fields,
    the line number, the record hash of the raw line and ``tail`` (one string built per row).
    Anything it refuses (a Bad or any other error) is redone on the dict path."""
    g = _Gen(window)
    if tail is None:
        g.emit(0, "def convert(r):")
    else:
        g.const("TAIL", tail)
        g.const("HASH", record_hash)
        g.emit(0, "def convert(r, n, line):")
    cells = []
    for i, f in enumerate(contract.fields):
        n = repr(f.name)
        cells.append(f"{{c{i}}}")
        g.emit(1, f"v = r.{f.name}")
        if f.type in ("json", "numeric"):
            g.emit(1, "if v is not None:", "    v = bytes(v)", "    if v == b'null': v = None")
        if f.required and f.type not in ("json", "numeric"):
            ind = 1  # msgspec refused a missing or null required field already
        else:
            g.emit(1, f"if v is None: " + (f"raise Bad('missing_required', {n})" if f.required else f"c{i} = NULL"))
            g.emit(1, "else:")
            ind = 2
        if f.type == "string":
            body = []
            if f.required and not f.enum:
                body.append(f"if not v or v.isspace(): raise Bad('missing_required', {n})")
            body.append(f"c{i} = {g.const(f'ESC{i}', _esc_field(f.name))}(v)" if escape else f"c{i} = v")
        elif f.type == "integer":
            body = [f"c{i} = v"]  # the f-string formats it as str() would
        elif f.type == "numeric":
            # The number's text as written; float() refuses a string, boolean or object (those
            # take the dict path) and gives the value for the bounds.
            lo = float("-inf") if f.minimum is None else f.minimum
            hi = float("inf") if f.maximum is None else f.maximum
            g.const(f"LO{i}", lo)
            g.const(f"HI{i}", hi)
            body = ["x = float(v)",
                    f"if not (LO{i} <= x <= HI{i}) or not isfinite(x): raise Bad('out_of_range', {n})",
                    f"c{i} = v.decode()"]
        elif f.type == "boolean":
            body = [f"c{i} = 't' if v else 'f'"]
        elif f.type == "date":
            cache = g.const(f"DC{i}", {})
            body = [f"c{i} = {cache}.get(v)", f"if c{i} is None: c{i} = _parse_date(v, {n}, {cache})",
                    *_date_window(g, f"c{i}", n)]
        elif f.type == "timestamp":
            body = _ts_fast(f"c{i}", n, window)
        elif f.type == "timestamp_micros":
            g.const("MICROS", _micros_text)
            body = [f"c{i} = MICROS(v)"]
        else:  # json
            body = [f"if v[0] != 123 and v[0] != 91: raise Bad('wrong_type', {n}, 'expected a JSON object or array')",
                    f"c{i} = v.decode()"]
            if f.length_limit is not None:  # bytes first: never fewer than the characters
                body += [f"if len(v) > {f.length_limit}:", "    " + _length_check(f, f"c{i}")[0]]
            if escape:
                body.append(f"c{i} = {g.const(f'ESCR{i}', _esc_raw_json_field(f.name))}(c{i})")
        g.emit(ind, *body)
    if tail is not None:
        cells += ["{n}", "{HASH(line)}"]
    g.emit(1, "return f'" + "\\t".join(cells) + ("{TAIL}'" if tail is not None else "'"))
    return _finish(g, f"<struct converter {contract.source}{' escaping' if escape else ''}>")


# --------------------------------------------------------------------------------------------
# CSV line regex: the cheapest fast path (one C call per line)

# A calendar date YYYY-MM-DD (year 0001..9999), written out so the regex alone decides: 29 February
# is left out (leap years need arithmetic), such dates take the per-field path.
_DATE_LINE = (
    rb"(?!0000)[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    rb"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
# A date-time datetime.fromisoformat and PostgreSQL read the same way: HH:MM[:SS[.ffffff]], and
# Z or an offset below 16 hours (±HH, ±HHMM, ±HH:MM); naive is read in the session TimeZone.
_TS_LINE = (
    _DATE_LINE + rb"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    rb"(?:Z|[+-](?:0[0-9]|1[0-5])(?::?[0-5][0-9])?)?"
)
_VISIBLE = rb"!-+\--~"  # printable ASCII but space and comma


def _int_range_re(lo: int, hi: int) -> bytes | None:
    """Regex of the decimal spellings (no sign, no leading zero) of the integers in [lo, hi]."""
    lo = max(lo, 0)
    if lo > hi:
        return None

    def same_len(a: str, b: str) -> str:  # a <= b, equal length
        if not a:
            return ""
        if a == b:
            return a
        if len(a) == 1:
            return f"[{a}-{b}]"
        rest = len(a) - 1
        if a[1:] == "0" * rest and b[1:] == "9" * rest:
            return f"[{a[0]}-{b[0]}][0-9]{{{rest}}}"
        if a[0] == b[0]:
            return a[0] + same_len(a[1:], b[1:])
        parts = [a[0] + same_len(a[1:], "9" * rest)]
        if int(a[0]) + 1 <= int(b[0]) - 1:
            parts.append(f"[{int(a[0]) + 1}-{int(b[0]) - 1}][0-9]{{{rest}}}")
        parts.append(b[0] + same_len("0" * rest, b[1:]))
        return "(?:" + "|".join(parts) + ")"

    parts = []
    full: list[int] = []  # digit counts whose every value is in range (merged into one branch)
    for d in range(len(str(lo)), len(str(hi)) + 1):
        a = max(lo, 10 ** (d - 1) if d > 1 else 0)
        b = min(hi, 10 ** d - 1)
        if d > 1 and a == 10 ** (d - 1) and b == 10 ** d - 1:
            full.append(d)
        elif a <= b:
            parts.append(same_len(str(a), str(b)))
    if full:
        parts.append(f"[1-9][0-9]{{{full[0] - 1},{full[-1] - 1}}}")
    return ("(?:" + "|".join(parts) + ")").encode()


def _numeric_re(f: Field) -> bytes | None:
    """Plain decimals (digits, optional fraction) certainly inside the field's bounds."""
    lo = f.minimum
    hi = f.maximum
    digits = 15  # unbounded: any 15-digit decimal is finite
    if hi is not None:
        if hi < 1:
            return None
        digits = min(digits, len(str(int(hi))) - 1)  # 10**digits <= hi
        if digits < 1:
            return None
    if lo is not None and lo > 0:
        return None
    sign = b"-?" if lo is None or lo <= -(10 ** digits) else b""
    return sign + rb"[0-9]{1,%d}(?:\.[0-9]{1,30})?" % digits


def compile_line_match(contract: Contract, header: list[str],
                       window: Window | None = None) -> Callable[[bytes], Any] | None:
    """For CSV: ``match(raw_line) -> match or None`` -- one compiled regex per header that
    accepts a subset of the lines :func:`compile_passthrough` accepts (binary form): a line of
    exactly the header's columns, each value one PostgreSQL reads as written (enums exact,
    integers and decimals inside the contract's bounds, real calendar dates, ISO date-times
    with offsets below 16 hours, required values not blank).  For lines with no quote and no
    character COPY must escape, from chunks that are valid UTF-8.  A line it does not match goes
    the per-field way (same result, or the precise reason).  None when a column cannot be
    expressed (unknown, json, micros, bounds the regex does not cover).  Text values are
    bounded in bytes by their field's length limit (longer ones take the per-field way, which
    counts characters); with a window, the date part of dates and timestamps is captured and
    compared with it."""
    known = set(contract.field_names)
    parts: list[bytes] = []
    dated = False
    for name in header:
        if name not in known:
            return None
        f = contract.get(name)
        if f.type == "string":
            if f.enum:
                if any(("," in e or '"' in e or not e or e != e.strip()) for e in f.enum):
                    return None
                p = b"(?:" + b"|".join(re.escape(e.encode()) for e in sorted(f.enum, key=len, reverse=True)) + b")"
            elif f.required:
                # Not longer than the limit (then a comma or the end), and not blank.
                p = b"(?=[^,]{0,%d}(?![^,]))[^,%s]*[%s][^,]*" % (f.length_limit, _VISIBLE, _VISIBLE)
            else:
                parts.append(b"[^,]{0,%d}" % f.length_limit)
                continue
        elif f.type == "integer":
            lo, hi = _bounds(f, BIGINT_MIN, BIGINT_MAX)
            p = _int_range_re(int(math.ceil(lo)), int(math.floor(hi)))
        elif f.type == "numeric":
            p = _numeric_re(f)
        elif f.type == "boolean":
            p = b"(?:" + b"|".join(re.escape(b.encode()) for b in sorted(PG_BOOLS, key=len, reverse=True)) + b")"
        elif f.type in ("date", "timestamp"):
            p = _DATE_LINE if f.type == "date" else _TS_LINE
            if window is not None:
                p = b"(" + _DATE_LINE + b")" + p[len(_DATE_LINE):]
                dated = True
        else:
            return None
        if p is None:
            return None
        parts.append(p if f.required else b"(?:" + p + b")?")
    fullmatch = re.compile(b",".join(parts)).fullmatch
    if not dated:
        return fullmatch
    assert window is not None
    first, last = window.first.isoformat().encode(), window.last.isoformat().encode()

    def match(line: bytes, fullmatch=fullmatch, first=first, last=last):
        m = fullmatch(line)
        if m is not None:
            for d in m.groups():  # the date part of each date and timestamp value, if any
                if d is not None and not (first <= d <= last):
                    return None
        return m
    return match
