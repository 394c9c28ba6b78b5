"""Many calls dispatched at the same instant against fewer units: never a double assignment.

Real threads, each with its own database connection, and transaction=True so nothing is
hidden inside a test transaction (docs/traps.md).
"""

import threading

import pytest
from django.db import connection

from calls.models import IncidentType
from calls.services import call_create
from dispatch import engine
from dispatch.models import Assignment
from tests.conftest import point
from tests.factories import UnitFactory
from units.models import Unit

ROUNDS = 5
CALLS = 12
UNITS = 7


def run_threads(targets):
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(fn):
        def run():
            try:
                barrier.wait()
                fn()
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_simultaneous_dispatch_never_double_assigns_and_uses_every_unit(round_):
    units = [UnitFactory(service="police", location=point(51.128 + i * 0.002, 71.43)) for i in range(UNITS)]
    noise = IncidentType.objects.get(code="noise_complaint")
    calls = [
        call_create(actor=None, incident_type=noise,
                    location={"point": point(51.13 + i * 0.01, 71.43 + i * 0.003), "accuracy_m": 5})
        for i in range(CALLS)
    ]
    # Each call dispatched twice at once, plus a GPS update storm on the same unit rows.
    def gps():
        for _ in range(20):
            for unit in units:
                Unit.objects.filter(pk=unit.pk).update(location=point(51.128, 71.43 + round_ * 0.0001))

    run_threads([lambda c=c: engine.dispatch_call(c.pk) for c in calls] * 2 + [gps])
    active = list(Assignment.objects.filter(status="assigned").values_list("unit_id", flat=True))
    assert len(active) == len(set(active)), "a unit was assigned twice"
    assert sorted(active) == sorted(u.pk for u in units), "every unit is used"
    assert Unit.objects.filter(status="dispatched").count() == UNITS
    per_call = [Assignment.objects.filter(call=c).count() for c in calls]
    assert max(per_call) == 1 and sum(per_call) == UNITS
