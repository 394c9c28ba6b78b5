"""Response-time facts written when a call ends (dispatch/metrics.py): the statistics of a
period are the same whether its calls are still open (measured live) or ended (read from
the metrics tables), and every way a call ends leaves its row."""

import importlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from calls.models import Call
from core.errors import InvalidOperation
from dispatch import engine, metrics, services
from dispatch.metrics import backfill_call_metrics, record_call_metrics
from dispatch.models import Assignment, CallMetrics, CallServiceMetrics
from dispatch.stats import call_statistics
from dispatch.tasks import measure_ended_calls
from tests.conftest import point
from tests.factories import UnitFactory, new_call

from .builders import make_assignment, make_call

pytestmark = pytest.mark.django_db


def worked_calls():
    """Three calls through the real services: one reaches the scene, one is dispatched,
    one (a duplicate) never gets a unit."""
    UnitFactory(service="medical", capabilities=["als"], location=point(51.129, 71.43))
    UnitFactory(service="police", location=point(51.127, 71.43))
    UnitFactory(service="fire", location=point(51.126, 71.43))
    cardiac = new_call("cardiac_arrest")
    engine.dispatch_call(cardiac.pk)
    first = Assignment.objects.filter(call=cardiac).order_by("assigned_at", "id").first()
    services.assignment_acknowledge(assignment_id=first.pk)
    services.assignment_arrive(assignment_id=first.pk)
    fire = new_call("building_fire", lat=51.14)
    engine.dispatch_call(fire.pk)
    duplicate = new_call("noise_complaint", lat=51.15)
    return cardiac, fire, duplicate


def period_stats():
    now = timezone.now()
    return call_statistics(start=now - timedelta(hours=1), end=now + timedelta(hours=1))


def without_outcomes(stats):
    """The statistics minus what ending a call changes by definition (its status/disposition)."""
    stats = {**stats, "counts": {k: v for k, v in stats["counts"].items() if k not in ("status", "disposition")}}
    stats.pop("period")
    return stats


def test_ending_calls_keeps_every_figure_and_each_ending_writes_its_row():
    cardiac, fire, duplicate = worked_calls()
    live = period_stats()
    assert live["calls"] == 3 and CallMetrics.objects.count() == 0  # all open: measured live
    assert live["intervals"]["dispatch_to_acknowledgement"]["n"] == 1

    services.call_close(call_id=cardiac.pk, disposition="transported")
    services.call_merge(call_id=duplicate.pk, into_id=fire.pk)
    services.call_cancel(call_id=fire.pk, reason="false alarm")

    assert set(CallMetrics.objects.values_list("call_id", "status")) == {
        (cardiac.pk, "closed"), (fire.pk, "cancelled"), (duplicate.pk, "merged")}
    assert set(CallServiceMetrics.objects.filter(call=cardiac).values_list("service", "sent")) >= {("medical", True)}
    ended = period_stats()
    assert without_outcomes(ended) == without_outcomes(live)
    assert ended["counts"]["status"] == {"cancelled": 1, "closed": 1, "merged": 1}
    assert ended["counts"]["disposition"] == {"cancelled": 1, "duplicate": 1, "transported": 1}


def test_measuring_again_rewrites_the_same_rows_and_drops_stale_ones():
    cardiac, _, _ = worked_calls()
    services.call_close(call_id=cardiac.pk, disposition="resolved")
    row = CallMetrics.objects.values().get(call_id=cardiac.pk)
    per_service = sorted(CallServiceMetrics.objects.filter(call=cardiac).values_list("service", "sent"))
    services.call_close(call_id=cardiac.pk, disposition="resolved")  # a no-op by the API's rule
    assert CallMetrics.objects.values().get(call_id=cardiac.pk) == row
    # Damage both tables; measuring again restores exactly what the call's history says.
    CallMetrics.objects.filter(call_id=cardiac.pk).update(received_to_dispatch=-1, status="cancelled")
    CallServiceMetrics.objects.create(call=cardiac, service="utility", received_at=cardiac.received_at, sent=False)
    record_call_metrics([cardiac.pk])
    assert CallMetrics.objects.values().get(call_id=cardiac.pk) == row
    assert sorted(CallServiceMetrics.objects.filter(call=cardiac).values_list("service", "sent")) == per_service
    assert CallMetrics.objects.count() == 1


def test_a_merged_call_cannot_be_merged_again_elsewhere():
    cardiac, fire, duplicate = worked_calls()
    services.call_merge(call_id=duplicate.pk, into_id=fire.pk)
    services.call_merge(call_id=duplicate.pk, into_id=fire.pk)  # a repeated request: no-op
    with pytest.raises(InvalidOperation):
        services.call_merge(call_id=duplicate.pk, into_id=cardiac.pk)
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == fire.pk


def test_open_calls_get_no_row():
    cardiac, fire, duplicate = worked_calls()
    record_call_metrics([cardiac.pk, fire.pk, duplicate.pk])
    assert CallMetrics.objects.count() == 0 and CallServiceMetrics.objects.count() == 0


def metrics_rows():
    """Both tables' rows, every column but the surrogate id, in a stable order."""
    service_fields = [f.name for f in CallServiceMetrics._meta.fields if f.name != "id"]
    return (list(CallMetrics.objects.order_by("call_id").values_list()),
            list(CallServiceMetrics.objects.order_by("call_id", "service").values_list(*service_fields)))


def _ended_calls_written_around_the_services():
    now = timezone.now()
    medical, police = UnitFactory(service="medical"), UnitFactory(service="police")
    calls = [make_call(now - timedelta(minutes=i), dispatch_s=10 + i, on_scene_s=200 + i) for i in range(4)]
    calls.append(make_call(now, status="cancelled", disposition="cancelled"))
    calls.append(make_call(now, status="merged", disposition="duplicate", merged_into=calls[0]))
    make_call(now, status="dispatched", dispatch_s=9)  # open: never measured into the tables
    make_assignment(calls[0], medical, after_s=10, ack_s=5, on_scene_s=100)
    make_assignment(calls[0], police, after_s=12, ack_s=4, on_scene_s=90)
    make_assignment(calls[1], medical, after_s=11, status="declined")
    expected_calls, expected_services = metrics_rows()
    CallMetrics.objects.all().delete()
    CallServiceMetrics.objects.all().delete()
    return calls, expected_calls, expected_services


def test_backfill_measures_ended_calls_written_around_the_services_once():
    calls, expected_calls, expected_services = _ended_calls_written_around_the_services()
    assert len(expected_calls) == 6 and len(expected_services) >= 7
    assert backfill_call_metrics(batch_size=2) == 6
    assert backfill_call_metrics() == 0
    assert metrics_rows() == (expected_calls, expected_services)


def test_the_migrations_frozen_backfill_measures_as_the_code_does():
    _, expected_calls, expected_services = _ended_calls_written_around_the_services()
    migration = importlib.import_module("dispatch.migrations.0005_backfill_call_metrics")
    with connection.cursor() as cur:
        cur.execute(migration.BACKFILL)
    assert metrics_rows() == (expected_calls, expected_services)
    assert Call.objects.count() == 7


def test_the_repair_command_measures_what_is_missing(capsys):
    _, expected_calls, _ = _ended_calls_written_around_the_services()
    call_command("measure_calls")
    assert "measured 6 ended call(s)" in capsys.readouterr().out
    assert metrics_rows()[0] == expected_calls
    assert measure_ended_calls() == 0  # the beat task: nothing left


@pytest.mark.django_db(transaction=True)
def test_statistics_outside_a_transaction_read_one_snapshot():
    # Outside the test's wrapping transaction the statistics open their own, REPEATABLE READ.
    cardiac, fire, _ = worked_calls()
    services.call_close(call_id=cardiac.pk, disposition="resolved")
    stats = period_stats()
    assert stats["calls"] == 3 and stats["counts"]["status"] == {"closed": 1, "dispatched": 1, "pending": 1}
    assert connection.get_autocommit()


def test_a_failing_measurement_never_stops_a_call_ending(monkeypatch, caplog):
    cardiac, _, _ = worked_calls()
    # A real PostgreSQL error inside the measurement (its savepoint is rolled back).
    monkeypatch.setattr(metrics, "_RECORD", "SELECT * FROM no_such_metrics_table")
    services.call_close(call_id=cardiac.pk, disposition="resolved")
    cardiac.refresh_from_db()
    assert cardiac.status == "closed" and not CallMetrics.objects.exists()
    assert "the metrics repair will retry" in caplog.text
    monkeypatch.undo()
    assert measure_ended_calls() == 1  # beat's repair
    assert CallMetrics.objects.filter(call_id=cardiac.pk, status="closed").exists()
