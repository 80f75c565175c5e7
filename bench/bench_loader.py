"""Loader throughput vs `psql \\copy`, per source.

For each source a realistic landing file of --rows records is synthesised from the
contract's example record (varied ids, amounts, enums, free text and timestamps; nested
JSON as in the example) -- or, with --generator, the first-day files of
``touchpoint.generator`` are used (row counts then depend on the population) -- then:

* ours: ``ingestion.loader.load_file`` on that file (checksum, parse, validate, COPY into
  raw.<source> with lineage columns, manifest row, commit);
* psql: ``psql -c "\\copy bench.<source> (...) from FILE"`` of the same rows into a table with
  the contract's columns and types (no lineage columns, no validation).  CSV sources copy
  the landing CSV itself (format csv, header); JSONL sources copy an equivalent text-format
  file holding the same parsed rows (nested JSON re-serialised, GA4 micros as UTC ISO text).

Both sides run with TimeZone = the contract's naive_timezone and take the best of --repeat
runs.  Results go to bench/results/loader.json and, with --docs, into the table in
docs/loading.md between the BENCH markers.

    python -m bench.bench_loader [--rows 200000] [--sources a b] [--repeat 3] [--docs]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingestion.contract import Contract, Field  # noqa: E402
from ingestion.convert import compile_converter, json_decode  # noqa: E402
from ingestion.loader import load_file  # noqa: E402
from ingestion.registry import CONTRACTS, SOURCE_NAMES  # noqa: E402
from ingestion.landing import write_file  # noqa: E402
from touchpoint import warehouse  # noqa: E402
from touchpoint.bootstrap import ensure_warehouse  # noqa: E402
from touchpoint.db import admin_database_url, owned_by, with_database  # noqa: E402

DAY = date(2026, 11, 1)
RESULTS = REPO / "bench" / "results" / "loader.json"
DOC = REPO / "docs" / "loading.md"
BEGIN, END = "<!-- BENCH:BEGIN -->", "<!-- BENCH:END -->"
KST = timezone(timedelta(hours=9))

WORDS = ["겨울", "코트", "세일", "배송", "따뜻해요", "감사합니다", "great", "coat", "winter", "sale", "빠른", "좋아요"]


def _checkpoint(url: str) -> None:
    """Flush dirty pages between timed loads. CHECKPOINT needs pg_checkpoint, which the
    pipeline's role does not have (issue 10): the administrator runs it."""
    with psycopg.connect(admin_database_url(url), autocommit=True) as admin:
        admin.execute("checkpoint")


def _synthetic_value(f: Field, example, rng: random.Random, i: int):
    if f.enum:
        return rng.choice(f.enum)
    if f.type == "string":
        if example is None:
            return None if rng.random() < 0.5 else f"{f.name}-{rng.randrange(10**6)}"
        text = str(example)
        if len(text) > 25:  # free text: vary the words
            return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        return f"{text}-{i}" if rng.random() < 0.9 else text
    if f.type == "integer":
        lo = int(f.minimum) if f.minimum is not None else 0
        hi = int(min(f.maximum, 10**6)) if f.maximum is not None else 10**6
        return rng.randint(lo, hi)
    if f.type == "numeric":
        lo = max(f.minimum or 0, 0)
        hi = min(f.maximum or 10**6, 10**6)
        return rng.randint(int(lo), int(hi)) if rng.random() < 0.8 else round(rng.uniform(lo, hi), 2)
    if f.type == "boolean":
        return rng.random() < 0.5
    if f.type == "date":
        return str(example) if example else DAY.isoformat()
    if f.type == "timestamp":
        t = datetime(2026, 11, 1, tzinfo=KST) + timedelta(seconds=rng.randrange(86400), microseconds=rng.randrange(10**6))
        if isinstance(example, str) and len(example) == 19:  # naive local time (POS)
            return t.strftime("%Y-%m-%d %H:%M:%S")
        return t.isoformat()
    if f.type == "timestamp_micros":
        return 1793458800_000000 + rng.randrange(86400 * 10**6)
    if f.type == "json":
        return example
    raise ValueError(f.type)


def synthetic_records(contract: Contract, n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    ex = contract.example
    out = []
    for i in range(n):
        rec = {f.name: _synthetic_value(f, ex.get(f.name), rng, i) for f in contract.fields}
        if contract.file_format == "csv":
            rec = {k: ("" if v is None else v) for k, v in rec.items()}
        out.append(rec)
    return out


def generator_files(source: str, rows: int, out: Path) -> list[Path] | None:
    """Files from touchpoint.generator, when it exists (None otherwise)."""
    try:
        from touchpoint.generator import generate  # type: ignore
    except Exception:
        return None
    try:
        generate(customers=max(1000, rows // 20), days=1, start=DAY, seed=7, out=out, bad_rate=0.0)
    except Exception as exc:  # pragma: no cover - generator in progress
        print(f"generator failed ({exc}); using synthetic data", file=sys.stderr)
        return None
    folder = out / "landing" / source / DAY.isoformat()
    files = sorted(folder.glob("*")) if folder.is_dir() else []
    return files or None


def psql_file(contract: Contract, landing_file: Path, out: Path) -> tuple[Path, str]:
    """The file psql copies and the \\copy options."""
    if contract.file_format == "csv":
        return landing_file, "(format csv, header true)"
    conv = compile_converter(contract, "jsonl", escape=True)
    with open(landing_file, "rb") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            dst.write(conv(json_decode(line)) + "\n")
    return out, "(format text)"


def raw_shaped_file(contract: Contract, landing_file: Path, landing_dir: Path, out: Path) -> str:
    """Our loader's exact COPY stream for the file (rows with lineage columns) written to a
    file; returns the matching ``\\copy`` target spec (columns and options)."""
    from collections import Counter

    from ingestion import loader

    class Capture(loader._RawWriter):
        def write(self, rows, meta):
            fh.write(b"".join(rows) if rows[0].__class__ is bytes else "".join(rows).encode())

        def write_extra(self, row, line_number, raw):
            raise AssertionError("bench files carry no unknown fields")

    rel = landing_file.relative_to(landing_dir).as_posix()
    const = f"\t{contract.source}:20261101:0123456789abcdef\t{rel}\t{DAY.isoformat()}\n"
    q = loader._Quarantine(contract.source, rel, "bench", DAY)
    w = Capture(None, None, contract.source, ["_load_id", "_file_path", "_logical_date"], q, False)
    with open(out, "wb") as fh:
        if contract.file_format == "jsonl":
            loader._run_jsonl(contract, landing_file, const, w, q, loader._Blanks(), Counter(), False)
        else:
            loader._run_csv(contract, landing_file, rel, const, w, q, loader._Blanks(), Counter(), False)
    q.close()
    spec = w.main_sql.split(" (", 1)[1].replace(" from stdin", f" from '{out}'")
    return f"bench.{contract.source}_raw ({spec}"


def psql_binary() -> str:
    """psql on PATH, else next to the server binaries the embedded warehouse uses."""
    found = shutil.which("psql")
    if found:
        return found
    bin_dir = warehouse.find_bin_dir()
    if bin_dir is not None and (bin_dir / "psql").exists():
        return str(bin_dir / "psql")
    raise SystemExit("bench_loader: psql not found (install the PostgreSQL client)")


def run_psql(url: str, tz: str, sql: str) -> float:
    env = dict(os.environ, PGOPTIONS=f"-c TimeZone={tz}")
    t0 = time.perf_counter()
    subprocess.run([psql_binary(), url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


MIN_GENERATOR_ROWS = 1000


def _records(path: Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return sum(1 for _ in fh) - (1 if ".csv" in path.name else 0)


def bench_source(url: str, source: str, rows: int, repeat: int, work: Path, synthetic: bool) -> dict:
    contract = CONTRACTS[source]
    landing = work / "landing"
    files = None if synthetic else generator_files(source, rows, work / "gen")
    origin = "generator"
    generated = _records(files[0]) if files else 0
    if files and generated < MIN_GENERATOR_ROWS:
        # One generated day can hold only a handful of rows for some sources: timing them
        # would measure fixed costs, not throughput.
        print(f"{source}: the generator's file holds {generated} rows (< {MIN_GENERATOR_ROWS});"
              " using synthetic rows", file=sys.stderr)
        files = None
    if files:
        path = files[0]
    else:
        origin = "synthetic"
        path = write_file(landing, source, DAY, "bench", synthetic_records(contract, rows))
        landing_dir = landing
    if origin == "generator":
        landing_dir = work / "gen" / "landing"
    nbytes = path.stat().st_size
    cols = ", ".join(f'"{f.name}"' for f in contract.fields)
    ddl = ", ".join(f'"{f.name}" {f.pg_type}' for f in contract.fields)
    pfile, opts = psql_file(contract, path, work / f"{source}.copy")
    psql_sql = f"\\copy bench.{source} ({cols}) from '{pfile}' {opts}"
    raw_sql = "\\copy " + raw_shaped_file(contract, path, landing_dir, work / f"{source}.raw.copy")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists bench")
        conn.execute(f"drop table if exists bench.{source}")
        conn.execute(f"create table bench.{source} ({ddl})")
        conn.execute(f"drop table if exists bench.{source}_raw")
        conn.execute(f"create table bench.{source}_raw (like raw.{source} including defaults)")
        ours, ours_cpu, theirs, theirs_raw = [], [], [], []
        result = None
        copied = 0
        for _ in range(repeat):  # interleaved, so both sides see the same machine load
            conn.execute(f"truncate raw.{source}")
            conn.execute("delete from ops.load_manifest where source = %s", (source,))
            conn.execute("delete from raw.quarantine where source = %s", (source,))
            _checkpoint(url)
            t0, c0 = time.perf_counter(), time.process_time()
            result = load_file(conn, source, path, DAY, landing_dir)
            ours.append(time.perf_counter() - t0)
            ours_cpu.append(time.process_time() - c0)

            conn.execute(f"truncate bench.{source}")
            _checkpoint(url)
            theirs.append(run_psql(url, contract.naive_timezone, psql_sql))
            copied = conn.execute(f"select count(*) from bench.{source}").fetchone()[0]

            conn.execute(f"truncate bench.{source}_raw")
            _checkpoint(url)
            theirs_raw.append(run_psql(url, contract.naive_timezone, raw_sql))
        conn.execute(f"drop table bench.{source}")
        conn.execute(f"drop table bench.{source}_raw")
        conn.execute(f"truncate raw.{source}")
    assert result is not None
    n = result.rows_loaded
    assert copied == n, f"{source}: psql copied {copied} rows, loader {n}"
    best_ours, best_psql = min(ours), min(theirs)
    return {
        "source": source, "format": contract.file_format, "origin": origin, "rows": n,
        "rows_quarantined": result.rows_quarantined, "file_bytes": nbytes,
        "loader_seconds": round(best_ours, 3), "psql_seconds": round(best_psql, 3),
        "loader_rows_per_s": round(n / best_ours), "psql_rows_per_s": round(n / best_psql),
        "ratio": round(best_psql / best_ours, 3),
        "loader_client_cpu_us_per_row": round(min(ours_cpu) / n * 1e6, 2),
        # psql \copy of the loader's own COPY stream (lineage columns included) into a copy of
        # the raw table: the PostgreSQL side of our load, without any Python.
        "psql_raw_shaped_rows_per_s": round(n / min(theirs_raw)),
        "runs": {"loader_seconds": [round(x, 3) for x in ours], "psql_seconds": [round(x, 3) for x in theirs],
                 "psql_raw_shaped_seconds": [round(x, 3) for x in theirs_raw]},
    }


def markdown_table(results: list[dict]) -> str:
    lines = ["| source | format | rows | loader rows/s | psql \\copy rows/s | ratio | "
             "psql \\copy of the loader's rows (with lineage) rows/s | loader client CPU µs/row |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['source']} | {r['format']} | {r['rows']:,} | {r['loader_rows_per_s']:,} | "
                     f"{r['psql_rows_per_s']:,} | **{r['ratio']:.2f}** | {r['psql_raw_shaped_rows_per_s']:,} | "
                     f"{r['loader_client_cpu_us_per_row']} |")
    return "\n".join(lines)


def update_docs(results: list[dict], meta: dict) -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the {BEGIN} / {END} markers")
    la = meta["load_average_before_after"]
    body = (f"{BEGIN}\n_{meta['rows_per_source']:,} rows per source, best of {meta['repeat']} interleaved runs, "
            f"{meta['machine']}; JSON backend {meta['json_backend']}; {meta['when']}; 1-minute load average "
            f"{la[0][0]:.1f} before, {la[1][0]:.1f} after._\n\n"
            f"{markdown_table(results)}\n{END}")
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + body + rest.split(END, 1)[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--sources", nargs="*", default=list(SOURCE_NAMES))
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--generator", action="store_true",
                    help="bench the generator's first-day files (row counts vary) instead of synthetic files")
    ap.add_argument("--docs", action="store_true", help="write the table into docs/loading.md")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    from ingestion.convert import JSON_BACKEND

    base = warehouse.start()
    dbname = f"tp_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_database_url(base), autocommit=True) as c:
        c.execute(f'create database "{dbname}"{owned_by(base)}')
    url = with_database(base, dbname)
    work = Path(tempfile.mkdtemp(prefix="tp_bench_"))
    results = []
    load_before = list(os.getloadavg())
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            ensure_warehouse(conn)
        for source in args.sources:
            r = bench_source(url, source, args.rows, args.repeat, work, not args.generator)
            results.append(r)
            print(f"{source:<20} {r['rows']:>8} rows  loader {r['loader_rows_per_s']:>9,}/s  "
                  f"psql {r['psql_rows_per_s']:>9,}/s  ratio {r['ratio']:.2f}  "
                  f"(loader client CPU {r['loader_client_cpu_us_per_row']} us/row, load {os.getloadavg()[0]:.1f})",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(admin_database_url(base), autocommit=True) as c:
            c.execute(f'drop database if exists "{dbname}" with (force)')
    meta = {
        "rows_per_source": args.rows, "repeat": args.repeat, "json_backend": JSON_BACKEND,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU, Python {platform.python_version()}, "
                   f"PostgreSQL {warehouse_version(base)}",
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "load_average_before_after": [load_before, list(os.getloadavg())],
    }
    if args.sources == list(SOURCE_NAMES):
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
        print(f"wrote {args.out}")
        if args.docs:
            update_docs(results, meta)
            print(f"updated {DOC}")
    worst = min(r["ratio"] for r in results)
    print(f"worst ratio {worst:.2f} (target >= 0.50)")
    return 0


def warehouse_version(url: str) -> str:
    with psycopg.connect(url) as c:
        return c.execute("show server_version").fetchone()[0].split()[0]


if __name__ == "__main__":
    sys.exit(main())
