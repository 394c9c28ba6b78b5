"""The status tables as a full old × new matrix, without a database."""

import itertools

import pytest

from calls.statuses import CALL_TRANSITIONS, CallStatus
from core.errors import TransitionNotAllowed
from core.transitions import check_transition
from dispatch.statuses import ASSIGNMENT_TRANSITIONS, AssignmentStatus
from units.statuses import UNIT_TRANSITIONS, UnitStatus

# The SPEC's state machines, written out independently of the tables under test.
CALL_ALLOWED = {
    ("pending", "dispatched"), ("dispatched", "pending"), ("dispatched", "on_scene"),
    *((s, t) for s in ("pending", "dispatched", "on_scene") for t in ("closed", "cancelled", "merged")),
}
UNIT_ALLOWED = {
    ("out_of_service", "available"), ("available", "out_of_service"), ("available", "dispatched"),
    ("available", "transporting"), ("dispatched", "available"), ("dispatched", "en_route"),
    ("dispatched", "unreachable"), ("en_route", "available"), ("en_route", "on_scene"), ("on_scene", "available"),
    ("on_scene", "transporting"), ("transporting", "available"), ("transporting", "out_of_service"),
    ("unreachable", "available"), ("unreachable", "out_of_service"),
}
ASSIGNMENT_ALLOWED = {
    ("assigned", "acknowledged"), ("assigned", "declined"), ("assigned", "timed_out"), ("assigned", "cancelled"),
    ("acknowledged", "on_scene"), ("acknowledged", "cancelled"), ("on_scene", "cleared"), ("on_scene", "cancelled"),
}

CASES = [
    ("call", CALL_TRANSITIONS, [s for s, _ in CallStatus.CHOICES], CALL_ALLOWED),
    ("unit", UNIT_TRANSITIONS, [s for s, _ in UnitStatus.CHOICES], UNIT_ALLOWED),
    ("assignment", ASSIGNMENT_TRANSITIONS, [s for s, _ in AssignmentStatus.CHOICES], ASSIGNMENT_ALLOWED),
]


@pytest.mark.parametrize(
    "kind,table,old,new,allowed",
    [
        (kind, table, old, new, allowed)
        for kind, table, states, allowed in CASES
        for old, new in itertools.product(states, states)
    ],
)
def test_every_old_new_pair_is_allowed_noop_or_refused(kind, table, old, new, allowed):
    if old == new:
        assert check_transition(table, kind, old, new) is False
    elif (old, new) in allowed:
        assert check_transition(table, kind, old, new) is True
    else:
        with pytest.raises(TransitionNotAllowed):
            check_transition(table, kind, old, new)


def test_terminal_call_states_have_no_way_out():
    for state in CallStatus.TERMINAL:
        assert CALL_TRANSITIONS[state] == set()


def test_tables_cover_exactly_the_declared_states():
    for _kind, table, states, _allowed in CASES:
        assert set(table) == set(states)
        assert all(targets <= set(states) for targets in table.values())
