"""What the journal stores for each event: the object's REST representation at that moment.

Built as plain dicts, not with the DRF serializers: every state change writes one to three
of these inside its transaction (an automatic assignment: the assignment, the unit and the
call), and CallSerializer over a prefetched call cost ~9 ms of a dispatch's ~60 ms of
worker CPU (bench/README.md). tests/dispatch/test_representations.py holds each of them
equal to its serializer (CallSerializer, AssignmentSerializer, UnitSerializer), field for
field, for every kind of object.

They read the primary database (`using=DEFAULT_DB_ALIAS`): they run inside the change's
own transaction and must see its uncommitted rows, whatever a router does with reads.
"""

from django.db import DEFAULT_DB_ALIAS

from calls.models import Call
from dispatch.statuses import AssignmentStatus

from .history import _datetime_formatter, call_list_representation, call_list_rows
from .models import Assignment


def call_representation(call_id):
    """CallSerializer's representation of one call, in three queries, from the primary."""
    rows = list(call_list_rows(Call.objects.using(DEFAULT_DB_ALIAS).filter(pk=call_id)))
    return call_list_representation(rows, using=DEFAULT_DB_ALIAS)[0]


def call_data(*, call, unit=None, assignment=None):
    data = call_representation(call.pk)
    # Kept on the instance for the service's caller: the intake view answers its 201 with
    # the call.created row's data (built last in the transaction, after every write to the
    # call) instead of reading the call a second time.
    call.journal_representation = data
    return data


def _float(value):
    return None if value is None else float(value)  # as DRF's FloatField writes it


def assignment_data(*, call=None, unit=None, assignment):
    fmt = _datetime_formatter()
    unit = assignment.unit
    return {
        "id": assignment.pk,
        "call": assignment.call_id,
        "call_reference": assignment.call.reference,
        "unit": {"id": unit.pk, "callsign": unit.callsign, "service": unit.service},
        "status": assignment.status,
        "service": assignment.service,
        "capability": assignment.capability,
        "distance_m": _float(assignment.distance_m),
        "eta_s": _float(assignment.eta_s),
        "route_m": _float(assignment.route_m),
        "basis": assignment.basis or None,
        "reason": assignment.reason,
        "reason_code": assignment.reason_code,
        "reason_params": assignment.reason_params,
        "assigned_at": fmt(assignment.assigned_at),
        "ack_deadline": fmt(assignment.ack_deadline),
        "acknowledged_at": fmt(assignment.acknowledged_at),
        "on_scene_at": fmt(assignment.on_scene_at),
        "cleared_at": fmt(assignment.cleared_at),
        "ended_at": fmt(assignment.ended_at),
        "end_reason": assignment.end_reason,
        "end_reason_code": assignment.end_reason_code,
        "end_reason_params": assignment.end_reason_params,
    }


def unit_location_data(unit):
    """A unit's `location` in every representation (the journal's and UnitSerializer's)."""
    if unit.location is None:
        return None
    return {
        "lat": unit.location.y,
        "lon": unit.location.x,
        "accuracy_m": unit.location_accuracy_m,
        "heading": unit.heading,
        "speed_mps": unit.speed_mps,
        "recorded_at": unit.location_recorded_at.isoformat() if unit.location_recorded_at else None,
    }


def unit_data(*, call=None, unit, assignment=None):
    location = unit_location_data(unit)
    # Plain values, as UnitSerializer.get_active_assignment reads them.
    row = (
        Assignment.objects.using(DEFAULT_DB_ALIAS)
        .filter(unit_id=unit.pk, status__in=AssignmentStatus.ACTIVE)
        .values("id", "call_id", "call__reference", "status")
        .first()
    )
    active = None
    if row is not None:
        active = {"id": row["id"], "call": row["call_id"], "call_reference": row["call__reference"],
                  "status": row["status"]}
    return {
        "id": unit.pk,
        "callsign": unit.callsign,
        "service": unit.service,
        "capabilities": unit.capabilities,
        "status": unit.status,
        "home_station": unit.home_station,
        "active_assignment": active,
        "location": location,
    }
