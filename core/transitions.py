"""Checking a move against a status table.

Each app keeps its statuses next to its model and its table as plain data (a status maps
to the statuses it may move to). A move to the current status is always allowed and is a
no-op (phones retry, operators double-click); anything not in the table is impossible
and answered with 409. The tables are tested as full old × new matrices in
tests/test_transitions.py.
"""

from .errors import TransitionNotAllowed


def check_transition(table, kind, old, new):
    """Return False for a no-op (old == new), True for an allowed move, raise otherwise."""
    if old == new:
        return False
    if new not in table.get(old, ()):
        raise TransitionNotAllowed(f"A {kind} cannot go from '{old}' to '{new}'.")
    return True
