"""A worker killed in the middle of a dispatch leaves nothing half-done or double-assigned."""

import signal
import time

import psycopg
import pytest
from django.conf import settings

from dispatch.models import Assignment
from tests.conftest import point, purge_broker, start_beat, start_worker, wait_for
from tests.factories import UnitFactory
from units.models import Unit

pytestmark = pytest.mark.worker


def _dsn():
    db = settings.DATABASES["default"]
    return f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']} user={db['USER']} password={db['PASSWORD']}"


def fire_call_blocked_in_its_second_slot(operator_client, fire):
    """Post a building fire whose dispatch claims the first engine, then waits on the second
    engine's row, held here from another connection. Returns (call, locker): the caller
    releases the lock (locker.rollback()) and closes it."""
    locker = psycopg.connect(_dsn())
    try:
        locker.execute("SELECT id FROM units_unit WHERE id = %s FOR UPDATE", [fire[1].pk])
        call = operator_client.post("/api/v1/calls/", {
            "incident_type": "building_fire", "location": {"lat": 51.128, "lon": 71.43}}, format="json").json()
        wait_for(lambda: Assignment.objects.filter(call_id=call["id"]).exists(), message="first slot")
        time.sleep(0.3)  # the worker is now inside its second slot, waiting
    except BaseException:
        locker.close()
        raise
    return call, locker


def test_worker_killed_mid_dispatch_then_restarted_serves_the_call_exactly_once(transactional_db, operator_client):
    fire = [UnitFactory(service="fire", location=point(51.128 + i * 0.002, 71.43)) for i in range(3)]
    medic = UnitFactory(service="medical")
    police = UnitFactory(service="police")
    purge_broker()
    worker = start_worker("doomed")
    call, locker = fire_call_blocked_in_its_second_slot(operator_client, fire)
    try:
        worker.stop(sig=signal.SIGKILL)
    finally:
        worker.stop()
        locker.rollback()
        locker.close()
    # Only whole slots survived the kill.
    before = list(Assignment.objects.filter(call_id=call["id"]).values_list("unit_id", flat=True))
    assert before == [fire[0].pk]
    worker = start_worker("restarted")
    beat = start_beat(DISPATCH_SWEEP_INTERVAL_S="1")
    try:
        wait_for(lambda: Assignment.objects.filter(call_id=call["id"]).count() >= 4, timeout=30,
                 message="the sweep to finish the plan")
        time.sleep(2)  # a few more sweeps: nothing more must happen
    finally:
        beat.stop()
        worker.stop()
    units = list(Assignment.objects.filter(call_id=call["id"]).values_list("unit_id", flat=True))
    assert len(units) == len(set(units)) == 4
    assert set(units) == {fire[0].pk, fire[1].pk, medic.pk, police.pk}
    assert Unit.objects.filter(status="dispatched").count() == 4
