"""Calls and assignments with exact timestamps, written straight through the ORM.

The services stamp `timezone.now()`; statistics tests need every milestone to the second,
so these builders write rows the way the services would have left them, including the
metrics row the services write when a call ends (measured again after each assignment
added to an ended call, as its facts are final only once the builder is done with it)."""

from datetime import timedelta

from calls.models import Call, IncidentType
from dispatch.metrics import record_call_metrics
from dispatch.models import Assignment
from tests.conftest import point

_CENTRE = object()


def make_call(received_at, *, type_code="cardiac_arrest", status="closed", dispatch_s=None, on_scene_s=None,
              created_by=None, location=_CENTRE, accuracy_m=20, address="", caller_phone="", disposition="", **extra):
    incident_type = IncidentType.objects.get(code=type_code)
    call = Call.objects.create(
        incident_type=incident_type, priority=extra.pop("priority", incident_type.priority), status=status,
        received_at=received_at, created_by=created_by, address=address, caller_phone=caller_phone,
        location=point() if location is _CENTRE else location, location_accuracy_m=accuracy_m,
        location_source="operator", disposition=disposition,
        dispatched_at=received_at + timedelta(seconds=dispatch_s) if dispatch_s is not None else None,
        on_scene_at=received_at + timedelta(seconds=on_scene_s) if on_scene_s is not None else None,
        closed_at=received_at + timedelta(hours=1) if status == "closed" else None,
        **extra,
    )
    call.reference = f"C-{received_at.year}-{call.pk:06d}"
    call.save(update_fields=["reference"])
    record_call_metrics([call.pk])  # a no-op unless the call has ended
    return call


def make_assignment(call, unit, *, after_s, ack_s=None, on_scene_s=None, status="cleared", assigned_by=None):
    """An assignment `after_s` seconds after the call was received; ack and on-scene are
    seconds after the assignment."""
    assigned_at = call.received_at + timedelta(seconds=after_s)
    ack = assigned_at + timedelta(seconds=ack_s) if ack_s is not None else None
    arrived = assigned_at + timedelta(seconds=on_scene_s) if on_scene_s is not None else None
    assignment = Assignment.objects.create(
        call=call, unit=unit, service=unit.service, status=status, assigned_at=assigned_at, acknowledged_at=ack,
        on_scene_at=arrived, assigned_by=assigned_by,
        cleared_at=assigned_at + timedelta(minutes=30) if status == "cleared" else None,
        ended_at=assigned_at + timedelta(minutes=30) if status != "assigned" else None,
    )
    record_call_metrics([call.pk])
    return assignment
