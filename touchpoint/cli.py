"""`touchpoint`: the single entry point for operators."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

from touchpoint import warehouse


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date in YYYY-MM-DD form") from None


def cmd_warehouse(args: argparse.Namespace) -> int:
    if args.action == "start":
        import psycopg

        from touchpoint.bootstrap import ensure_warehouse

        from touchpoint import bi

        url = warehouse.start()
        with psycopg.connect(url, autocommit=True) as conn:
            ensure_warehouse(conn)  # schemas and ops tables, also on a WAREHOUSE_URL server
        try:
            role = bi.ensure_for(url)
            bi_note = f"BI role {role.name} ready (`touchpoint bi url`)"
        except bi.BiRoleError as exc:  # a managed server: the pipeline's user may lack CREATEROLE
            bi_note = f"BI role not set up: {exc}"
        print(f"warehouse ready: {warehouse.redact(url)}")
        print(bi_note)
    elif args.action == "stop":
        print(warehouse.stop())
    elif args.action == "status":
        running, text = warehouse.status()
        print(text)
        return 0 if running else 3
    elif args.action == "url":
        print(warehouse.url())
    elif args.action == "rotate-key":
        return _rotate_key(args)
    elif args.action == "env":
        from touchpoint.dbt import dbt_env

        print(f"export WAREHOUSE_URL='{warehouse.url()}'")
        for key, value in dbt_env().items():
            print(f"export {key}='{value}'")
    return 0


def _rotate_key(args: argparse.Namespace) -> int:
    import psycopg

    from touchpoint import pseudonyms

    try:
        new_key = pseudonyms.configured_key() if args.key_from_env else None
        if args.key_from_env and not os.environ.get(pseudonyms.KEY_ENV):
            raise pseudonyms.PseudonymKeyError(f"--key-from-env: {pseudonyms.KEY_ENV} is not set")
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            fingerprint = pseudonyms.rotate(conn, new_key=new_key)
    except pseudonyms.PseudonymKeyError as exc:
        print(f"touchpoint warehouse rotate-key: {exc}", file=sys.stderr)
        return 1
    print(f"pseudonym key rotated (fingerprint {fingerprint}); the next night rebuilds "
          f"{', '.join(pseudonyms.PSEUDONYMISED_MARTS)} and publishes their new pseudonyms")
    return 0


def cmd_bi(args: argparse.Namespace) -> int:
    from touchpoint import bi

    url = warehouse.start()  # the embedded cluster, or WAREHOUSE_URL as it is
    try:
        print(bi.bi_url(url, reset_password=args.reset_password))
    except bi.BiRoleError as exc:
        print(f"touchpoint bi url: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from touchpoint.runner import dates_between, run

    if args.date and (args.start or args.end):
        raise SystemExit("touchpoint run: give either --date or --start/--end, not both")
    if args.date:
        dates = [args.date]
    elif args.start and args.end:
        dates = dates_between(args.start, args.end)
    else:
        raise SystemExit("touchpoint run: give --date YYYY-MM-DD, or --start D1 --end D2 for a backfill")
    from touchpoint.runlock import RunLockHeld

    try:
        outcomes = run(dates, verbose=args.verbose_airflow, full_refresh=args.full_refresh, wait_seconds=args.wait)
    except RunLockHeld as exc:
        print(f"touchpoint run: not started: {exc}", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again later
    failed = [o for o in outcomes if o.state != "success"]
    if failed or len(outcomes) < len(dates):
        first = failed[0] if failed else None
        print(f"touchpoint run: FAILED for {first.data_date if first else '?'} ({first.state if first else ''}); "
              "see ops.publication_log, ops.audit_results and ops.task_failures", file=sys.stderr)
        return 1
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from touchpoint.db import connect
    from touchpoint.bootstrap import ensure_warehouse
    from touchpoint.publish import PublishError, rollback

    with connect(autocommit=True) as conn:
        ensure_warehouse(conn)  # publication_log columns added since the warehouse was built
        try:
            decision = rollback(conn, to=args.to)
        except PublishError as exc:
            print(f"touchpoint rollback: {exc}", file=sys.stderr)
            return 1
    print(f"marts now serve {decision.version_schema} (data date {decision.logical_date}): {decision.mart_row_counts}")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from touchpoint.bootstrap import ensure_warehouse
    from touchpoint.db import connect
    from touchpoint.publish import keep_versions, list_versions

    with connect(autocommit=True) as conn:
        ensure_warehouse(conn)
        versions = list_versions(conn)
    if not versions:
        print("nothing has been published yet")
        return 0
    print(f"kept versions (newest publication of each of the last {keep_versions()} data dates, "
          "plus the served one; TOUCHPOINT_KEEP_VERSIONS):")
    print(f"  {'version':<14} {'data date':<10}  {'published at (UTC)':<19}  run id")
    for v in versions:
        notes = [n for n, on in (("served", v.is_served), ("rolled back from", v.was_rolled_back_from),
                                 ("forced", v.forced)) if on]
        print(f"{'*' if v.is_served else ' '} {v.label:<14} {v.logical_date!s:<10}  "
              f"{v.published_at:%Y-%m-%d %H:%M:%S}  {v.run_id}{'  (' + ', '.join(notes) + ')' if notes else ''}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Publication is the audit's decision; --force --reason overrides a block, logged."""
    if not args.force:
        print("touchpoint publish: the nightly audit decides publication (a night that passes it is published "
              "by the DAG). To publish a blocked night anyway, run\n"
              '  touchpoint publish --force --reason "why it is safe" [--date D] [--run-id R]\n'
              "which is logged in ops.publication_log with the reason and who ran it.", file=sys.stderr)
        return 2
    from touchpoint.bootstrap import ensure_warehouse
    from touchpoint.db import connect
    from touchpoint.publish import PublishError, force_publish, operator_name

    from touchpoint.runlock import RunLockHeld, exclusive_run

    operator = operator_name()
    try:
        # Under the run lock: a night building its candidate meanwhile must not be published half-built.
        with exclusive_run(warehouse.url(), f"touchpoint publish --force by {operator}"), \
                connect(autocommit=True) as conn:
            ensure_warehouse(conn)  # a warehouse from before the override columns
            decision = force_publish(conn, args.reason or "", operator, run_id=args.run_id, logical_date=args.date)
    except (PublishError, RunLockHeld) as exc:
        print(f"touchpoint publish: refused: {exc}", file=sys.stderr)
        return 1
    print(f"published {decision.version_schema} for run {decision.run_id} (data date {decision.logical_date}) "
          f"over its block: {decision.mart_row_counts}")
    print(f"logged in ops.publication_log as forced by {operator}: {decision.force_reason}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from touchpoint.report import write_report

    print(write_report(warehouse.url(), args.date, run_id=args.run_id, out_dir=args.out))
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    from touchpoint.dbt import run_dbt

    dbt_args = [a for a in args.dbt_args if a != "--"] or ["parse"]
    return run_dbt(dbt_args, check=False).returncode


def cmd_generate(args: argparse.Namespace) -> int:
    from touchpoint import generator

    return generator.run(args)


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingestion import loader

    return loader.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touchpoint", description="Touchpoint omnichannel warehouse")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("warehouse", help="manage the embedded PostgreSQL warehouse",
                       description="start|stop|status|url|env manage the embedded cluster (or report on "
                                   "WAREHOUSE_URL); rotate-key replaces the pseudonym key of the marts "
                                   "(docs/security.md).")
    p.add_argument("action", choices=["start", "stop", "status", "url", "env", "rotate-key"])
    p.add_argument("--key-from-env", action="store_true",
                   help="rotate-key: take the new key from TOUCHPOINT_PSEUDONYM_KEY instead of generating one")
    p.set_defaults(func=cmd_warehouse)

    p = sub.add_parser("bi", help="the read-only login role for BI tools (schema marts only)",
                       description="`touchpoint bi url` prints the connection URL of the BI role "
                                   "(TOUCHPOINT_BI_ROLE, default touchpoint_bi), creating the role and "
                                   "its grants first when the warehouse user may.")
    p.add_argument("action", choices=["url"])
    p.add_argument("--reset-password", action="store_true",
                   help="give the role a new password (other BI connections must be updated)")
    p.set_defaults(func=cmd_bi)

    p = sub.add_parser("run", help="run the nightly DAG for a data date (or a range) in-process")
    p.add_argument("--date", type=_date, help="data (delivery) date YYYY-MM-DD")
    p.add_argument("--start", type=_date, help="first date of a backfill")
    p.add_argument("--end", type=_date, help="last date of a backfill (inclusive)")
    p.add_argument("--verbose-airflow", action="store_true",
                   help="stream Airflow's task logs to the console instead of .local/runs/<date>.log")
    p.add_argument("--full-refresh", action="store_true",
                   help="rebuild every model and identity from raw (dbt build --full-refresh; the identity "
                        "resolver with full=True); with --start/--end, the first date only")
    p.add_argument("--wait", type=float, metavar="SECONDS",
                   help="if another run holds this warehouse, wait up to SECONDS for it (default "
                        "TOUCHPOINT_RUN_LOCK_WAIT, else 0: exit 75 at once with who holds it)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("rollback", help="serve the version published before the one now served",
                       description="Serves the newest kept version of an earlier data date that has not been "
                                   "rolled back from already, or the version given by --to. "
                                   "`touchpoint versions` lists the kept versions.")
    p.add_argument("--to", metavar="VERSION", help="the version to serve: its number (42) or label (marts_v000042)")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("versions", help="list the published versions kept for rollback (the served one starred)")
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("publish", help="override a blocked night: publish its candidate marts (logged)",
                       description="The audit decides publication. `touchpoint publish --force --reason ...` "
                                   "publishes the candidate of a blocked night anyway (the latest decided run, "
                                   "or the one given by --run-id / --date) and logs it as forced, with the "
                                   "reason and who ran it (TOUCHPOINT_OPERATOR, else the OS user).")
    p.add_argument("--force", action="store_true", help="publish over the audit's block")
    p.add_argument("--reason", help="why the override is safe (required with --force; logged)")
    p.add_argument("--date", type=_date, help="data date of the blocked run (default: the latest decided run)")
    p.add_argument("--run-id", help="the blocked Airflow run id (default: the latest decided run)")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("report", help="write the run report of a data date (one self-contained HTML page)",
                       description="Writes <out>/<date>.html (default .local/reports/): publication decision "
                                   "and why, rows per source against their baseline, quarantine reasons, "
                                   "checks, mart row counts and 28-night metric charts; prints its path.")
    p.add_argument("--date", type=_date, required=True, help="data (delivery) date YYYY-MM-DD")
    p.add_argument("--run-id", help="the run to report on (default: the latest run of the date)")
    p.add_argument("--out", type=Path, help="directory to write to (default: TOUCHPOINT_LOCAL_DIR/reports)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("dbt", help="run dbt against the warehouse, e.g. `touchpoint dbt -- build -s staging`")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_dbt)

    p = sub.add_parser("generate", help="write realistic landing files and ground truth")
    from touchpoint import generator

    generator.add_arguments(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("identity", help="identity resolution (normally run by the DAG)")
    from touchpoint.identity import command as identity_command

    identity_command.add_arguments(p)
    p.set_defaults(func=identity_command.run)

    p = sub.add_parser("erase", help="right to erasure: remove one person everywhere, keep them out (logged, no PII)",
                       description="Deletes or redacts the person's rows in raw, staging, intermediate, identity, "
                                   "the candidate marts and every kept published version, suppresses their "
                                   "identifiers in later loads, and lists the landing files that still hold them. "
                                   "See docs/security.md#erasure.")
    from touchpoint import erase as erase_command

    erase_command.add_arguments(p)
    p.set_defaults(func=erase_command.run)

    p = sub.add_parser("ingest", help="load a date's landing files into raw")
    from ingestion import loader

    loader.add_arguments(p)
    p.set_defaults(func=cmd_ingest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except warehouse.WarehouseError as exc:
        print(f"touchpoint: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
