"""`touchpoint identity resolve [--full] [--max-component-size N]`.

The CLI owner wires it as a sub-command:

    p = sub.add_parser("identity", help="identity resolution")
    from touchpoint.identity import add_arguments, run
    add_arguments(p)
    p.set_defaults(func=run)
"""
from __future__ import annotations

import argparse
import json

from touchpoint.identity import state


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["resolve"], help="resolve: assign customer ids to new identifiers")
    parser.add_argument("--full", action="store_true",
                        help="read every edge, not only those loaded since the last run (ids are kept)")
    parser.add_argument("--max-component-size", type=int, default=None, metavar="N",
                        help=f"over-merge guard: largest customer in identifiers (default "
                             f"${state.MAX_COMPONENT_ENV} or {state.DEFAULT_MAX_COMPONENT}; 0 disables)")


def run(args: argparse.Namespace) -> int:
    from touchpoint import warehouse
    from touchpoint.identity.resolve import resolve

    stats = resolve(warehouse.url(), full=args.full, max_component_size=args.max_component_size)
    summary = {k: v for k, v in stats.items() if k != "timings"}
    print(json.dumps(summary, indent=2, default=str))
    if stats.get("rejected_edges"):
        print(f"over-merge guard: {stats['rejected_edges']} edges not applied; "
              "see identity.oversized_components")
    return 0
