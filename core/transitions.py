"""Checking a move against a status table.

Each app keeps its statuses next to its model and its table as plain data (a status maps
to the statuses it may move to). A move to the current status is always allowed and is a
no-op (phones retry, operators double-click); anything not in the table is impossible
and answered with 409. The tables are tested as full old × new matrices in
tests/test_transitions.py.
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .errors import TransitionNotAllowed
from .texts import label

KINDS = {"call": _("call"), "unit": _("unit"), "assignment": _("assignment")}


def check_transition(table, kind, old, new):
    """Return False for a no-op (old == new), True for an allowed move, raise otherwise."""
    if old == new:
        return False
    if new not in table.get(old, ()):
        raise TransitionNotAllowed(gettext("A %(kind)s cannot go from '%(old)s' to '%(new)s'.")
                                   % {"kind": KINDS.get(kind, kind), "old": label("status", old), "new": label("status", new)})
    return True
