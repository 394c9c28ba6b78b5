"""The journal's representations (dispatch/representations.py) are plain dicts built for
speed; each must come out byte for byte as its DRF serializer writes the same object, in
every state, so that an event's `data` and the REST API never disagree."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from core.journal import record_events
from core.models import Event
from dispatch import engine, services
from dispatch.models import Assignment
from dispatch.representations import assignment_data, call_data, unit_data
from dispatch.serializers import AssignmentSerializer, CallSerializer, UnitSerializer, call_queryset
from tests.conftest import point
from tests.factories import UnitFactory, new_call
from tests.supervisor.builders import make_assignment, make_call
from units.models import Unit

pytestmark = pytest.mark.django_db

render = JSONRenderer().render


def assert_same_as_serializers(calls=(), units=(), assignments=()):
    for call in calls:
        assert render(call_data(call=call)) == render(CallSerializer(call_queryset().get(pk=call.pk)).data)
    for unit in units:
        unit = Unit.objects.get(pk=unit.pk)
        assert render(unit_data(unit=unit)) == render(UnitSerializer(unit).data)
    for assignment in assignments:
        assignment = Assignment.objects.select_related("unit", "call").get(pk=assignment.pk)
        assert render(assignment_data(assignment=assignment)) == render(AssignmentSerializer(assignment).data)


def dispatched_call():
    medic = UnitFactory(service="medical", capabilities=["als"], location=point(51.131, 71.43))
    police = UnitFactory(service="police", capabilities=[], location=point(51.129, 71.431))
    call = new_call("cardiac_arrest", accuracy=12.5, caller_phone="+77010000001", description="боль в груди")
    engine.dispatch_call(call.pk)
    return call, medic, police


@pytest.mark.parametrize("zone", ["UTC", "Asia/Almaty", "America/St_Johns"])
def test_every_state_of_a_call_its_units_and_assignments(zone):
    with override_settings(TIME_ZONE=zone):
        call, medic, police = dispatched_call()
        assignments = list(call.assignments.all())
        assert assignments and all(a.distance_m is not None and a.ack_deadline for a in assignments)
        assert_same_as_serializers([call], [medic, police], assignments)  # assigned

        first = assignments[0]
        services.assignment_acknowledge(assignment_id=first.pk)
        assert_same_as_serializers([call], [first.unit], [first])
        services.assignment_arrive(assignment_id=first.pk)
        assert_same_as_serializers([call], [first.unit], [first])
        services.assignment_clear(assignment_id=first.pk)
        assert_same_as_serializers([call], [first.unit], [first])  # unit free, no active assignment
        services.call_close(call_id=call.pk, disposition="resolved", notes="done")
        assert_same_as_serializers([call], [medic, police], call.assignments.all())


def test_calls_without_location_held_merged_and_with_history():
    unit = UnitFactory(service="medical", location=None, location_recorded_at=None)
    now = timezone.now()
    located = make_call(now, dispatch_s=12, on_scene_s=300, disposition="resolved", address="Кенесары 40",
                        caller_phone="+77010000001", caller_name="Айгерим")
    declined = make_assignment(located, unit, after_s=5, status="declined")
    unlocated = make_call(now - timedelta(minutes=1), status="pending", location=None, accuracy_m=None,
                          hold_reason="possible_duplicate",
                          unmet_needs=[{"service": "fire", "capability": None, "count": 1, "reason": "all_busy"}])
    unlocated.possible_duplicates.add(located)
    merged = make_call(now - timedelta(minutes=2), status="merged", disposition="duplicate", merged_into=located)
    manual = Assignment.objects.create(call=unlocated, unit=UnitFactory(service="fire"), service="fire",
                                       status="assigned", assigned_at=now, reason="assigned by op")
    assert_same_as_serializers([located, unlocated, merged], [unit, manual.unit], [declined, manual])


def test_the_intake_answer_is_the_call_endpoint_byte_for_byte(operator_client):
    UnitFactory(service="medical", capabilities=["als"], location=point(51.131, 71.43))
    body = {"incident_type": "cardiac_arrest", "caller_phone": "+7 701 000 00 02", "description": "x",
            "location": {"lat": 51.128, "lon": 71.43, "accuracy_m": 12.5, "source": "operator"}}
    created = operator_client.post("/api/v1/calls/", body, format="json")
    assert created.status_code == 201, created.content
    same = operator_client.get(f"/api/v1/calls/{created.json()['id']}/")
    assert created.content == same.content
    # ... and so is the journal row's data, which the console shows before either
    (row,) = Event.objects.filter(call_id=created.json()["id"], type="call.created")
    assert row.data == same.json()


def test_the_rows_of_one_change_are_inserted_together_in_order():
    call = new_call("cardiac_arrest")
    last = Event.objects.order_by("-id").first()
    with transaction.atomic():
        rows = record_events([
            ("call.updated", {"call": call, "summary": "one"}),
            ("alert.raised", {"call": call, "summary": "two", "data": {"kind": "test"}}),
            ("call.updated", {"call": call, "summary": "three"}),
        ])
    stored = list(Event.objects.filter(id__gt=last.id).order_by("id"))
    assert [e.summary for e in stored] == ["one", "two", "three"]
    assert [e.id for e in stored] == [r.id for r in rows]
    # each row names the one committed before it: the feed's gap check (core/journal.py)
    assert [e.previous_id for e in stored] == [last.id, stored[0].id, stored[1].id]
    assert stored[1].data == {"kind": "test"} and stored[0].data["id"] == call.pk
