"""Identity resolution (issue 4): identifier graph -> stable customer ids.

- `resolve(url, full=False, max_component_size=None) -> dict` (resolve.py)
- `add_arguments(parser)`, `run(args) -> int` for `touchpoint identity resolve` (command.py)
- union-find and the over-merge guard (graph.py), identity tables (state.py)

See docs/identity.md.
"""
from touchpoint.identity.command import add_arguments, run
from touchpoint.identity.resolve import resolve

__all__ = ["add_arguments", "resolve", "run"]
