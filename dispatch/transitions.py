"""Status tables as data.

Each table maps a status to the statuses it may move to. A move to the current status is
always allowed and is a no-op (phones retry, operators double-click); anything not in the
table is impossible and answered with 409. The tables are tested as a full old × new
matrix in tests/test_transitions.py.
"""

from .errors import TransitionNotAllowed


class CallStatus:
    PENDING = "pending"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    MERGED = "merged"
    CHOICES = [(s, s) for s in ("pending", "dispatched", "on_scene", "closed", "cancelled", "merged")]
    OPEN = ("pending", "dispatched", "on_scene")
    TERMINAL = ("closed", "cancelled", "merged")


class UnitStatus:
    OUT_OF_SERVICE = "out_of_service"
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    UNREACHABLE = "unreachable"
    CHOICES = [
        (s, s)
        for s in ("out_of_service", "available", "dispatched", "en_route", "on_scene", "transporting", "unreachable")
    ]
    # Statuses in which the unit is working an assignment.
    BUSY = ("dispatched", "en_route", "on_scene")


class AssignmentStatus:
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    CHOICES = [
        (s, s) for s in ("assigned", "acknowledged", "on_scene", "cleared", "declined", "timed_out", "cancelled")
    ]
    ACTIVE = ("assigned", "acknowledged", "on_scene")
    # A unit that ended like this is never offered the same call again.
    REFUSED = ("declined", "timed_out")


CALL_TRANSITIONS = {
    "pending": {"dispatched", "closed", "cancelled", "merged"},
    "dispatched": {"pending", "on_scene", "closed", "cancelled", "merged"},
    "on_scene": {"closed", "cancelled", "merged"},
    "closed": set(),
    "cancelled": set(),
    "merged": set(),
}

UNIT_TRANSITIONS = {
    # Who drives which move: the engine (available → dispatched), the crew through its
    # device (status and assignment actions), operators (cancelling assignments).
    "out_of_service": {"available"},
    "available": {"out_of_service", "dispatched", "transporting"},
    "dispatched": {"available", "en_route", "unreachable"},
    "en_route": {"available", "on_scene"},
    "on_scene": {"available", "transporting"},
    "transporting": {"available", "out_of_service"},
    "unreachable": {"available", "out_of_service"},
}

# What a crew may set directly through POST /me/status/; the other unit statuses follow
# from assignment actions.
UNIT_SELF_STATUSES = ("available", "out_of_service", "transporting")

ASSIGNMENT_TRANSITIONS = {
    "assigned": {"acknowledged", "declined", "timed_out", "cancelled"},
    "acknowledged": {"on_scene", "cancelled"},
    "on_scene": {"cleared", "cancelled"},
    "cleared": set(),
    "declined": set(),
    "timed_out": set(),
    "cancelled": set(),
}


def check_transition(table, kind, old, new):
    """Return False for a no-op (old == new), True for an allowed move, raise otherwise."""
    if old == new:
        return False
    if new not in table.get(old, ()):
        raise TransitionNotAllowed(f"A {kind} cannot go from '{old}' to '{new}'.")
    return True
