"""Dispatch through a real Celery worker on Redis, and the sweep through a real beat."""

import pytest

from core import requests
from dispatch.models import Assignment
from tests.conftest import point, purge_broker, start_beat, start_worker, wait_for
from tests.factories import UnitFactory

pytestmark = pytest.mark.worker

VALID = {"incident_type": "cardiac_arrest", "location": {"lat": 51.128, "lon": 71.43, "accuracy_m": 15}}


def test_call_logged_through_the_api_is_dispatched_by_the_worker(live_worker, operator_client):
    unit = UnitFactory(service="medical", capabilities=["als"])
    call = operator_client.post("/api/v1/calls/", VALID, format="json").json()
    assignment = wait_for(lambda: Assignment.objects.filter(call_id=call["id"]).first(), message="assignment")
    assert assignment.unit_id == unit.pk and assignment.status == "assigned"
    body = operator_client.get(f"/api/v1/calls/{call['id']}/").json()
    assert body["status"] == "dispatched" and body["assignments"][0]["unit"]["id"] == unit.pk


def test_calls_whose_task_was_lost_are_dispatched_by_the_beat_sweep(transactional_db, operator_client,
                                                                     monkeypatch):
    """Broker outage while calls arrive: no task reaches any worker; beat + worker converge."""
    # The web side cannot reach a broker at all: a request must still answer quickly.
    sent = []
    monkeypatch.setattr(requests, "_send_dispatch", lambda call_id: sent.append(call_id))
    units = [UnitFactory(service="medical", capabilities=["als"], location=None) for _ in range(3)]
    for i, unit in enumerate(units):
        unit.location = point(51.128 + i * 0.01, 71.43)
        unit.save()
    ids = [operator_client.post("/api/v1/calls/", {**VALID, "location": {"lat": 51.128 + i * 0.01, "lon": 71.43}},
                                format="json").json()["id"] for i in range(3)]
    assert len(sent) == 3 and not Assignment.objects.exists()
    purge_broker()
    worker = start_worker("sweeper")
    beat = start_beat(DISPATCH_SWEEP_INTERVAL_S="1")
    try:
        wait_for(lambda: Assignment.objects.filter(call_id__in=ids).count() == 3, timeout=30,
                 message="sweep to dispatch every call")
    finally:
        beat.stop()
        worker.stop()
    assert sorted(Assignment.objects.values_list("unit_id", flat=True)) == sorted(u.pk for u in units)
