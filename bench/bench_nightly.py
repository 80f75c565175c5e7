"""Nightly-pipeline benchmark: the real DAG (`touchpoint run`) for a backfill night and a
normal night, per population size.

Per scenario (customers N, history H days):

1. ``touchpoint.generator.generate(N, days=2, start=S, history_days=H, seed=7)`` writes
   the landing files into a temporary folder: night 1 (date S) is the backfill delivery
   (H days of history plus day S), night 2 (S + 1) a normal night (about 1/(H+1) of
   night 1's rows, ~3% at 28-30 days).
2. A fresh database ``bench_nightly_<n>`` is created in the embedded cluster (or on
   WAREHOUSE_URL's server) and a fresh TOUCHPOINT_LOCAL_DIR (Airflow metadata DB, dbt
   target) in the temporary folder; Airflow's metadata DB is migrated before timing.
3. ``touchpoint run --date S`` then ``--date S+1`` run as subprocesses with
   WAREHOUSE_URL / TOUCHPOINT_LANDING_DIR / TOUCHPOINT_LOCAL_DIR set, while a sampler
   reads, every 0.5 s, the memory of the run's process tree and of the PostgreSQL
   backends connected to the scenario's database.
4. Per night it records: the DAG run's seconds (first task start to last task end in
   the Airflow metadata DB: ingest to publish) and the command's wall seconds (adds dbt parse and the
   summary); per-stage seconds from the task instances (span from the stage's first task
   start to its last task end, plus the sum of task durations and the task count); the
   top-10 dbt models by execution time (ops.dbt_results, run_key = the run id); rows
   loaded (ops.load_manifest); peak memory; pg_database_size after the night.

Results go to bench/results/nightly.json (``--growth``: nightly_growth.json) and a
markdown table is printed (``--docs`` also writes it into docs/performance.md between
the BENCH markers).  The database and data are removed afterwards unless ``--keep``.

    python -m bench.bench_nightly [--customers 2000,20000] [--history-days 28] [--docs]
    python -m bench.bench_nightly --growth [--growth-customers 100000] [--growth-history 30,180]
    python -m bench.bench_nightly --quick --out /tmp/nightly.json      # 300 customers, 7 days: smoke test
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psutil
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from touchpoint import warehouse  # noqa: E402
from touchpoint.db import admin_database_url, owned_by, with_database  # noqa: E402

RESULTS = REPO / "bench" / "results" / "nightly.json"
GROWTH_RESULTS = REPO / "bench" / "results" / "nightly_growth.json"
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- BENCH:BEGIN -->", "<!-- BENCH:END -->"
TOUCHPOINT = str(Path(sys.executable).parent / "touchpoint")
START = date(2026, 11, 1)
SAMPLE_SECONDS = 0.5

# Stage of a task instance, by the first segment of its task id (group id or task id).
# A task id not listed here becomes a stage of its own name, so a reshaped DAG is still
# measured (and shows up in the results) instead of being folded into a wrong stage.
STAGES = {
    "resolve_data_date": "setup",
    "ingest": "ingest",
    "prepare_candidate": "prepare_candidate",
    "transform_inputs": "transform_inputs",
    "resolve_identities": "identity",
    "transform": "transform",
    "audit": "audit",
    "publish": "publish",
}
STAGE_ORDER = ["setup", "ingest", "prepare_candidate", "transform_inputs", "identity", "transform", "audit",
               "publish"]


# --- memory sampling ---------------------------------------------------------------------

def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemorySampler(threading.Thread):
    """Peak memory of a process tree plus the PostgreSQL backends of one database.

    RSS counts shared pages (PostgreSQL's shared buffers) once per backend, so the sum
    over-states; PSS (from /proc/<pid>/smaps_rollup) splits shared pages between the
    processes mapping them and is the honest total. Both are recorded. Backends are
    found through pg_stat_activity; on a remote server they are not visible (0)."""

    def __init__(self, root_pid: int, url: str, dbname: str):
        super().__init__(daemon=True)
        self.root_pid, self.url, self.dbname = root_pid, url, dbname
        self.stop_event = threading.Event()
        self.peak = {"tree_rss": 0, "tree_pss": 0, "pg_rss": 0, "pg_pss": 0, "total_pss": 0}
        self.samples = 0

    def run(self) -> None:
        try:
            conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.Error:
            conn = None
        try:
            while not self.stop_event.is_set():
                self._sample(conn)
                self.stop_event.wait(SAMPLE_SECONDS)
        finally:
            if conn is not None:
                conn.close()

    def _sample(self, conn) -> None:
        try:
            root = psutil.Process(self.root_pid)
            tree = [root] + root.children(recursive=True)
        except psutil.Error:
            return
        tree_rss = tree_pss = 0
        for proc in tree:
            try:
                tree_rss += proc.memory_info().rss
                tree_pss += _pss(proc.pid)
            except psutil.Error:
                pass
        pg_rss = pg_pss = 0
        if conn is not None:
            try:
                pids = [pid for (pid,) in conn.execute(
                    "select pid from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                    (self.dbname,)).fetchall()]
            except psycopg.Error:
                pids = []
            for pid in pids:
                try:
                    pg_rss += psutil.Process(pid).memory_info().rss
                    pg_pss += _pss(pid)
                except psutil.Error:
                    pass
        values = {"tree_rss": tree_rss, "tree_pss": tree_pss, "pg_rss": pg_rss, "pg_pss": pg_pss,
                  "total_pss": tree_pss + pg_pss}
        for key, value in values.items():
            self.peak[key] = max(self.peak[key], value)
        self.samples += 1

    def stop(self) -> dict:
        self.stop_event.set()
        self.join(timeout=10)
        mb = {f"peak_{key}_mb": round(value / 2**20) for key, value in self.peak.items()}
        mb["samples"] = self.samples
        return mb


# --- what one night did ------------------------------------------------------------------

def _ts(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def airflow_timings(airflow_db: Path, run_id: str) -> dict:
    """DAG run seconds and per-stage task timings from Airflow's metadata DB (sqlite)."""
    with sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True) as db:
        dag_run = db.execute("select start_date, end_date from dag_run where run_id = ?", (run_id,)).fetchone()
        tasks = db.execute(
            "select task_id, start_date, end_date, duration, state from task_instance where run_id = ?",
            (run_id,)).fetchall()
    stages: dict[str, dict] = {}
    for task_id, start, end, duration, state in tasks:
        stage = STAGES.get(task_id.split(".", 1)[0], task_id.split(".", 1)[0])
        entry = stages.setdefault(stage, {"tasks": 0, "task_seconds": 0.0, "first": None, "last": None,
                                          "not_success": 0})
        entry["tasks"] += 1
        entry["task_seconds"] += float(duration or 0)
        entry["not_success"] += state != "success"
        t0, t1 = _ts(start), _ts(end)
        if t0 and (entry["first"] is None or t0 < entry["first"]):
            entry["first"] = t0
        if t1 and (entry["last"] is None or t1 > entry["last"]):
            entry["last"] = t1
    out = {}
    for stage in sorted(stages, key=lambda s: (STAGE_ORDER.index(s) if s in STAGE_ORDER else 99, s)):
        entry = stages[stage]
        span = (entry["last"] - entry["first"]).total_seconds() if entry["first"] and entry["last"] else None
        out[stage] = {"seconds": round(span, 1) if span is not None else None, "tasks": entry["tasks"],
                      "task_seconds": round(entry["task_seconds"], 1), "not_success": entry["not_success"]}
    # The run's span is its first task's start to its last task's end: `dag.test` records
    # the logical date as the dag_run's start_date, so the dag_run row cannot be used.
    starts = [entry["first"] for entry in stages.values() if entry["first"]]
    ends = [entry["last"] for entry in stages.values() if entry["last"]]
    dag_seconds = round((max(ends) - min(starts)).total_seconds(), 1) if starts and ends else None
    return {"dag_seconds": dag_seconds, "dag_run_dates": list(dag_run) if dag_run else None,
            "stages": out}


def warehouse_figures(url: str, run_id: str, day: date) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        read, loaded, quarantined, files = conn.execute(
            "select coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0), "
            "coalesce(sum(rows_quarantined), 0), count(*) "
            "from ops.load_manifest where logical_date = %s and is_current", (day,)).fetchone()
        has_results = conn.execute("select to_regclass('ops.dbt_results')").fetchone()[0] is not None
        top, dbt = [], {}
        if has_results:
            top = [{"model": name, "seconds": float(seconds), "status": status}
                   for name, seconds, status in conn.execute(
                       "select node_name, max(execution_seconds), max(status) from ops.dbt_results "
                       "where run_key = %s and resource_type = 'model' group by node_name "
                       "order by 2 desc limit 10", (run_id,)).fetchall()]
            dbt = {kind: {"nodes": nodes, "seconds": float(seconds or 0)}
                   for kind, nodes, seconds in conn.execute(
                       "select resource_type, count(*), round(sum(execution_seconds), 1) from ops.dbt_results "
                       "where run_key = %s group by resource_type order by 1", (run_id,)).fetchall()}
        decision = conn.execute(
            "select decision, version_schema from ops.publication_log where run_id = %s "
            "order by publication_id desc limit 1", (run_id,)).fetchone()
        size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    return {
        "files": files, "rows_read": int(read), "rows_loaded": int(loaded), "rows_quarantined": int(quarantined),
        "top_models": top, "dbt_node_seconds": dbt,
        "publication": {"decision": decision[0], "version": decision[1]} if decision else None,
        "db_size_mb": round(size / 2**20),
    }


def run_night(day: date, env: dict[str, str], url: str, dbname: str, local_dir: Path) -> dict:
    log = local_dir / f"bench-run-{day.isoformat()}.log"
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen([TOUCHPOINT, "run", "--date", day.isoformat()], env=env, cwd=REPO,
                                stdout=fh, stderr=subprocess.STDOUT)
        sampler = MemorySampler(proc.pid, url, dbname)
        sampler.start()
        code = proc.wait()
        memory = sampler.stop()
    wall = time.perf_counter() - t0
    result_file = local_dir / "runs" / f"{day.isoformat()}.json"
    info = json.loads(result_file.read_text()) if result_file.exists() else {}
    run_id, state = info.get("run_id"), info.get("state", f"crashed (exit {code})")
    night = {"date": day.isoformat(), "run_id": run_id, "state": state, "exit_code": code,
             "command_seconds": round(wall, 1), "memory": memory, "log": str(log)}
    if run_id:
        night.update(airflow_timings(local_dir / "airflow" / "airflow.db", run_id))
        night.update(warehouse_figures(url, run_id, day))
    return night


# --- one scenario ------------------------------------------------------------------------

def generate_data(customers: int, history_days: int, seed: int, out: Path) -> dict:
    """The project's generator in a child process (its memory is not this process's)."""
    stats_file = out / "generator-stats.json"
    code = ("import datetime as dt, json, sys; from pathlib import Path; "
            "from touchpoint.generator import generate; "
            f"s = generate({customers}, 2, dt.date.fromisoformat('{START.isoformat()}'), {seed}, "
            f"Path(sys.argv[1]), history_days={history_days}); "
            "Path(sys.argv[2]).write_text(json.dumps(s))")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(out / "data"), str(stats_file)], check=True, cwd=REPO,
                   env=dict(os.environ, PYTHONPATH=str(REPO)))
    stats = json.loads(stats_file.read_text())
    return {"seconds": round(time.perf_counter() - t0, 1), "rows_total": stats["rows_total"],
            "rows_by_source": {s: v["rows"] for s, v in stats["sources"].items()}}


def scenario_env(url: str, landing: Path, local_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key in list(env):  # the parent's Airflow/dbt settings must not leak into the child's
        if key.startswith(("AIRFLOW", "DBT_", "TOUCHPOINT_PG_")):
            del env[key]
    env.update(WAREHOUSE_URL=url, TOUCHPOINT_LANDING_DIR=str(landing), TOUCHPOINT_LOCAL_DIR=str(local_dir),
               PYTHONPATH=str(REPO))
    return env


def migrate_airflow(env: dict[str, str]) -> None:
    """Airflow's metadata DB is created before the first timed night (a one-off cost)."""
    subprocess.run([sys.executable, "-c", "from touchpoint.airflow_env import airflow_env, ensure_metadata_db; "
                    "ensure_metadata_db(airflow_env())"], env=env, cwd=REPO, check=True)


def run_scenario(base_url: str, customers: int, history_days: int, seed: int, work_root: Path | None,
                 keep: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"tp_bench_nightly_{customers}_", dir=work_root))
    dbname = f"bench_nightly_{customers}_{history_days}_{uuid.uuid4().hex[:6]}"
    url = with_database(base_url, dbname)
    admin = admin_database_url(base_url)
    print(f"== {customers:,} customers, {history_days} days of history: generating into {work}", flush=True)
    scenario = {"customers": customers, "history_days": history_days, "seed": seed, "start": START.isoformat(),
                "database": dbname}
    try:
        scenario["generator"] = generate_data(customers, history_days, seed, work)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{dbname}"{owned_by(base_url)}')
        local_dir = work / "local"
        local_dir.mkdir()
        env = scenario_env(url, work / "data" / "landing", local_dir)
        migrate_airflow(env)
        nights = []
        for n, day in enumerate((START, START + timedelta(days=1)), start=1):
            night = run_night(day, env, url, dbname, local_dir)
            night["night"] = n
            nights.append(night)
            print(f"   night {n} ({day}): {night['state']} in {night.get('dag_seconds')} s of DAG time "
                  f"({night['command_seconds']} s command), {night.get('rows_loaded', 0):,} rows, "
                  f"peak PSS {night['memory']['peak_total_pss_mb']} MB, db {night.get('db_size_mb')} MB",
                  flush=True)
            if night["state"] != "success":
                print(f"   night {n} failed: see {night['log']}", file=sys.stderr)
                break
        scenario["nights"] = nights
        if len(nights) == 2 and nights[0].get("dag_seconds") and nights[1].get("dag_seconds"):
            scenario["night2_over_night1"] = round(nights[1]["dag_seconds"] / nights[0]["dag_seconds"], 3)
            scenario["night2_rows_share"] = round(nights[1]["rows_loaded"] / max(nights[0]["rows_loaded"], 1), 4)
        scenario["ok"] = len(nights) == 2 and all(n["state"] == "success" for n in nights)
    finally:
        if keep:
            print(f"   kept: database {dbname}, folder {work}")
            scenario["kept"] = {"database": dbname, "folder": str(work)}
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{dbname}" with (force)')
            shutil.rmtree(work, ignore_errors=True)
    return scenario


# --- reporting ---------------------------------------------------------------------------

def _stage(night: dict, stage: str) -> str:
    value = night.get("stages", {}).get(stage, {}).get("seconds")
    return "-" if value is None else f"{value:.0f}"


def markdown_table(scenarios: list[dict]) -> str:
    lines = ["| customers | history days | night 1 s | night 2 s | night 2 / night 1 | night 2 rows | "
             "night 2 stages s (ingest / inputs / identity / transform / audit / publish) | "
             "peak PSS MB (night 1 / 2) | db size MB (after night 2) |",
             "|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for s in scenarios:
        nights = s.get("nights", [])
        n1 = nights[0] if nights else {}
        n2 = nights[1] if len(nights) > 1 else {}
        stages = " / ".join(_stage(n2, st) for st in
                            ("ingest", "transform_inputs", "identity", "transform", "audit", "publish"))
        ratio = s.get("night2_over_night1")
        lines.append(
            f"| {s['customers']:,} | {s['history_days']} | {n1.get('dag_seconds', '-')} | {n2.get('dag_seconds', '-')} | "
            f"{'-' if ratio is None else f'{ratio:.2f}'} | {n2.get('rows_loaded', 0):,} | {stages} | "
            f"{n1.get('memory', {}).get('peak_total_pss_mb', '-')} / {n2.get('memory', {}).get('peak_total_pss_mb', '-')} | "
            f"{n2.get('db_size_mb', '-')} |")
    return "\n".join(lines)


def top_models_table(scenario: dict) -> str:
    nights = scenario.get("nights", [])
    rows = {}
    for night in nights:
        for model in night.get("top_models", []):
            rows.setdefault(model["model"], {})[night["night"]] = model["seconds"]
    lines = [f"| model ({scenario['customers']:,} customers) | night 1 s | night 2 s |", "|---|---:|---:|"]
    for name, by_night in sorted(rows.items(), key=lambda kv: -max(kv[1].values())):
        lines.append(f"| {name} | {by_night.get(1, '-')} | {by_night.get(2, '-')} |")
    return "\n".join(lines)


def growth_line(scenarios: list[dict]) -> str | None:
    by_history = {s["history_days"]: s for s in scenarios if s.get("ok")}
    if len(by_history) < 2:
        return None
    short, long = min(by_history), max(by_history)
    a = by_history[short]["nights"][1]["dag_seconds"]
    b = by_history[long]["nights"][1]["dag_seconds"]
    return (f"night 2 after {long} days of history / after {short} days: {b} s / {a} s = "
            f"**{b / a:.2f}** (target <= 1.3)")


def update_docs(text_block: str) -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the {BEGIN} / {END} markers")
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text_block}\n{END}{rest.split(END, 1)[1]}")


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", default="2000,20000,100000,1000000",
                    help="comma-separated population sizes (default 2000,20000,100000,1000000)")
    ap.add_argument("--history-days", type=int, default=28, dest="history_days",
                    help="days of history in night 1's backfill delivery (default 28)")
    ap.add_argument("--growth", action="store_true",
                    help="history growth instead: --growth-customers at each of --growth-history")
    ap.add_argument("--growth-customers", type=int, default=100_000)
    ap.add_argument("--growth-history", default="30,180")
    ap.add_argument("--quick", action="store_true", help="300 customers, 7 days of history (the smoke test)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep each scenario's database and data folder")
    ap.add_argument("--work-dir", type=Path, default=None, help="where the temporary data folders go")
    ap.add_argument("--out", type=Path, default=None,
                    help="results JSON (default bench/results/nightly.json, nightly_growth.json with --growth)")
    ap.add_argument("--docs", action="store_true", help="write the table into docs/performance.md")
    args = ap.parse_args(argv)

    if args.quick:
        plan = [(300, 7)]
    elif args.growth:
        plan = [(args.growth_customers, int(h)) for h in args.growth_history.split(",")]
    else:
        plan = [(int(n), args.history_days) for n in args.customers.split(",")]
    out = args.out or (GROWTH_RESULTS if args.growth else RESULTS)
    if args.quick and args.out is None:
        raise SystemExit("bench_nightly: --quick needs --out (it never overwrites the recorded results)")

    base = warehouse.start()
    load_before = list(os.getloadavg())
    commit = git_commit()
    scenarios = [run_scenario(base, customers, history, args.seed, args.work_dir, args.keep)
                 for customers, history in plan]
    with psycopg.connect(base) as conn:
        server = conn.execute("show server_version").fetchone()[0].split()[0]
    meta = {
        "commit": commit, "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU, "
                   f"{round(psutil.virtual_memory().total / 2**30)} GB RAM, Python {platform.python_version()}, "
                   f"PostgreSQL {server}",
        "load_average_before_after": [load_before, list(os.getloadavg())],
        "seconds": "dag_seconds = first task start to last task end of the Airflow run (ingest to "
                   "publish); command_seconds adds `touchpoint run`'s dbt parse, DAG parsing and summary",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "scenarios": scenarios}, indent=2, default=str) + "\n")
    print(f"wrote {out}")

    la = meta["load_average_before_after"]
    block = [f"_Commit {commit}, {meta['when']}, {meta['machine']}; 1-minute load average {la[0][0]:.1f} "
             f"before, {la[1][0]:.1f} after. Seconds are DAG time (first task start to last task end)._", "",
             markdown_table(scenarios)]
    growth = growth_line(scenarios) if args.growth else None
    if growth:
        block += ["", growth]
    for scenario in scenarios:
        block += ["", top_models_table(scenario)]
    text_block = "\n".join(block)
    print()
    print(text_block)
    if args.docs and not args.quick:
        update_docs(text_block)
        print(f"updated {DOC}")
    return 0 if all(s.get("ok") for s in scenarios) else 1


if __name__ == "__main__":
    sys.exit(main())
