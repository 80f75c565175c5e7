"""Generator throughput: wall time, rows/s and peak memory for a few population sizes.

Each size runs ``touchpoint.generator.generate`` in a fresh subprocess (so memory is
measured per run) while this script samples the resident memory of the whole process
tree (the main process and its forked renderers) every 100 ms, as PSS (proportional set
size: pages shared copy-on-write between the forks are counted once, split between
them) and as the RSS of the largest single process.  Results go to
bench/results/generator.json and, with --docs, into the table in docs/generator.md
between the BENCH markers.

    python -m bench.bench_generator [--sizes 10000x30 100000x30] [--seed 1] [--workers N] [--repeat 2] [--docs]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "generator.json"
DOC = REPO / "docs" / "generator.md"
BEGIN, END = "<!-- BENCH:BEGIN -->", "<!-- BENCH:END -->"

CHILD = """
import datetime as dt, json, sys
from pathlib import Path
from touchpoint.generator import generate
customers, days, seed, out, workers, stats_path = sys.argv[1:7]
stats = generate(int(customers), int(days), dt.date(2026, 11, 1), int(seed), Path(out),
                 workers=None if workers == "auto" else int(workers))
Path(stats_path).write_text(json.dumps(stats))
"""


def _pss(pid: int) -> int:
    """PSS from /proc/<pid>/smaps_rollup (cheap, unlike parsing the full smaps)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree_pss(proc: psutil.Process) -> int:
    return sum(_pss(p.pid) for p in [proc] + proc.children(recursive=True))


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_one(customers: int, days: int, seed: int, workers: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="tp_bench_gen_"))
    try:
        out, stats_path = work / "out", work / "stats.json"
        t0 = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(customers), str(days), str(seed), str(out),
                                  workers, str(stats_path)], cwd=REPO)
        proc = psutil.Process(child.pid)
        peak_tree = peak_single = 0
        while child.poll() is None:
            try:
                peak_tree = max(peak_tree, _tree_pss(proc))
                for p in [proc] + proc.children(recursive=True):
                    peak_single = max(peak_single, p.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.1)
        seconds = time.perf_counter() - t0
        if child.returncode != 0:
            raise SystemExit(f"generator failed for {customers}x{days} (exit {child.returncode})")
        stats = json.loads(stats_path.read_text())
        rows = stats["rows_total"]
        return {
            "customers": customers, "days": days, "seed": seed, "workers": stats["workers"],
            "wall_seconds": round(seconds, 2), "generate_seconds": stats["seconds"],
            "simulate_seconds": stats["simulate_seconds"], "rows": rows,
            "rows_per_second": round(rows / stats["seconds"]),
            "journey_rows": stats["truth"]["journey_rows"], "identifiers": stats["truth"]["identifiers"],
            "peak_pss_mb_tree": round(peak_tree / 2 ** 20), "peak_rss_mb_largest_process": round(peak_single / 2 ** 20),
            "output_mb": round(_du(out) / 2 ** 20),
            "rows_by_source": {s: v["rows"] for s, v in stats["sources"].items()},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10000x30", "100000x30"],
                        help="CUSTOMERSxDAYS, e.g. 10000x30")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", default="auto", help="render processes, or auto")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the fastest is kept")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--docs", action="store_true", help="rewrite the table in docs/generator.md")
    args = parser.parse_args(argv)
    runs = []
    for size in args.sizes:
        customers, days = (int(x) for x in size.lower().split("x"))
        tries = [bench_one(customers, days, args.seed, args.workers) for _ in range(max(1, args.repeat))]
        r = min(tries, key=lambda t: t["generate_seconds"])
        r["all_generate_seconds"] = [t["generate_seconds"] for t in tries]
        runs.append(r)
        print(f"{customers:>7,} x {days:>3} days: {r['rows']:>10,} rows in {r['generate_seconds']:7.1f} s "
              f"({r['rows_per_second']:>8,} rows/s; simulate {r['simulate_seconds']:.1f} s), "
              f"peak memory {r['peak_pss_mb_tree']:,} MB PSS (largest process RSS {r['peak_rss_mb_largest_process']:,} MB), "
              f"{r['output_mb']:,} MB written, workers {r['workers']}", flush=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "runs": runs,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results -> {args.results}")
    if args.docs:
        write_docs(result)
        print(f"table -> {DOC}")
    return 0


def write_docs(result: dict) -> None:
    m = result["machine"]
    lines = [BEGIN, "",
             f"`python -m bench.bench_generator --repeat 2 --docs` on {m['cpus']} cores, Python {m['python']} "
             f"(load average {m['load_average_at_end'][1]} at the end: the machine was shared). Fastest of the repeats; "
             "memory is the peak PSS of the process tree (copy-on-write pages counted once) and the peak RSS "
             "of the largest process.", "",
             "| customers × days | rows | seconds | rows/s | of which simulate (s) | peak PSS (MB) | largest process RSS (MB) | written (MB) | workers |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in result["runs"]:
        lines.append(f"| {r['customers']:,} × {r['days']} | {r['rows']:,} | {r['generate_seconds']:.1f} | "
                     f"{r['rows_per_second']:,} | {r['simulate_seconds']:.1f} | {r['peak_pss_mb_tree']:,} | "
                     f"{r['peak_rss_mb_largest_process']:,} | {r['output_mb']:,} | {r['workers']} |")
    lines += ["", END]
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + "\n".join(lines) + tail, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
