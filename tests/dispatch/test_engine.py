"""Dispatch rules (SPEC 1–6) through the services, on real PostGIS."""

from datetime import timedelta

import psycopg
import pytest
from django.test import override_settings
from django.utils import timezone

from calls.models import Call
from calls.services import call_update
from core.errors import TransitionNotAllowed, UnitBusy
from core.models import Event
from dispatch import engine, services, waiting
from dispatch.models import Assignment
from tests.conftest import point
from tests.factories import UnitFactory, new_call
from tests.realtime.test_faults import _dsn
from units.models import Unit

pytestmark = pytest.mark.django_db

# Serve every waiting call now, including those whose own task would normally get them.
NO_GRACE = timedelta(0)


def active(call):
    return list(Assignment.objects.filter(call=call, status__in=("assigned", "acknowledged", "on_scene")))


def test_nearest_capable_fresh_unit_is_assigned_with_its_distance():
    far = UnitFactory(service="medical", capabilities=["als"], location=point(51.16, 71.43))
    near = UnitFactory(service="medical", capabilities=["als"], location=point(51.131, 71.43))
    UnitFactory(service="medical", capabilities=["bls"], location=point(51.1281, 71.43))  # wrong capability
    UnitFactory(service="police", location=point(51.128, 71.43))  # wrong service
    call = new_call()
    assert engine.dispatch_call(call.pk) == 1
    (assignment,) = active(call)
    assert assignment.unit == near
    assert assignment.distance_m == pytest.approx(334, abs=5)  # 0.003° of latitude
    assert "nearest" in assignment.reason
    call.refresh_from_db()
    assert call.status == "dispatched" and call.dispatched_at is not None and call.unmet_needs == []
    far.refresh_from_db()
    assert far.status == "available"


def test_nearest_is_geodesic_not_degrees():
    # At 51°N a degree of longitude is ~0.63 of a degree of latitude: 0.004° east (≈280 m)
    # is nearer than 0.003° north (≈334 m), though farther in raw degrees.
    north = UnitFactory(service="medical", capabilities=["als"], location=point(51.131, 71.43))
    east = UnitFactory(service="medical", capabilities=["als"], location=point(51.128, 71.434))
    call = new_call()
    engine.dispatch_call(call.pk)
    assert active(call)[0].unit == east
    north.refresh_from_db()
    assert north.status == "available"


def test_stale_positions_are_never_chosen_and_the_reason_says_so():
    UnitFactory(service="medical", capabilities=["als"], location_recorded_at=timezone.now() - timedelta(minutes=6))
    call = new_call()
    assert engine.dispatch_call(call.pk) == 0
    call.refresh_from_db()
    assert call.status == "pending"
    assert call.unmet_needs == [{"service": "medical", "capability": "als", "count": 1, "reason": "all_stale"}]
    alert = Event.objects.get(type="alert.raised", call=call)
    assert alert.data["kind"] == "no_unit_available"


@pytest.mark.parametrize(
    "units,reason",
    [
        ([], "no_unit_of_service"),
        ([dict(service="medical", capabilities=["bls"])], "no_unit_with_capability"),
        ([dict(service="medical", capabilities=["als"], status="en_route")], "all_busy"),
    ],
)
def test_unmet_line_carries_the_specific_reason(units, reason):
    for kwargs in units:
        UnitFactory(**kwargs)
    call = new_call()
    engine.dispatch_call(call.pk)
    call.refresh_from_db()
    assert call.unmet_needs[0]["reason"] == reason


def test_alert_is_raised_once_not_on_every_sweep():
    call = new_call()
    for _ in range(3):
        waiting.dispatch_waiting(grace=NO_GRACE)
    assert Event.objects.filter(type="alert.raised", call=call, data__kind="no_unit_available").count() == 1


def test_multi_line_plan_is_filled_line_by_line():
    for i in range(3):
        UnitFactory(service="fire", location=point(51.128 + i * 0.001, 71.43))
    UnitFactory(service="medical")
    call = new_call("building_fire")  # fire 2 + medical 1 + police 1
    assert engine.dispatch_call(call.pk) == 3
    call.refresh_from_db()
    services_sent = sorted(a.unit.service for a in active(call))
    assert services_sent == ["fire", "fire", "medical"]
    assert call.unmet_needs == [{"service": "police", "capability": None, "count": 1, "reason": "no_unit_of_service"}]


def test_running_dispatch_twice_assigns_nothing_more():
    UnitFactory(service="medical", capabilities=["als"])
    UnitFactory(service="medical", capabilities=["als"], location=point(51.13, 71.43))
    call = new_call()
    engine.dispatch_call(call.pk)
    engine.dispatch_call(call.pk)
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert len(active(call)) == 1


def test_declined_unit_is_never_offered_the_same_call_again():
    first = UnitFactory(service="medical", capabilities=["als"], location=point(51.1285, 71.43))
    second = UnitFactory(service="medical", capabilities=["als"], location=point(51.135, 71.43))
    call = new_call()
    engine.dispatch_call(call.pk)
    (assignment,) = active(call)
    assert assignment.unit == first
    services.assignment_decline(assignment_id=assignment.pk, reason="flat tyre")
    first.refresh_from_db()
    assert first.status == "available"
    engine.dispatch_call(call.pk)
    (replacement,) = active(call)
    assert replacement.unit == second
    services.assignment_decline(assignment_id=replacement.pk)
    engine.dispatch_call(call.pk)
    assert active(call) == []
    call.refresh_from_db()
    assert call.status == "pending"
    assert call.unmet_needs[0]["reason"] == "all_refused"


@override_settings(DISPATCH_ACK_TIMEOUT_S=60)
def test_silent_unit_times_out_becomes_unreachable_and_next_is_sent():
    silent = UnitFactory(service="medical", capabilities=["als"], location=point(51.1285, 71.43))
    backup = UnitFactory(service="medical", capabilities=["als"], location=point(51.135, 71.43))
    call = new_call()
    engine.dispatch_call(call.pk)
    (assignment,) = active(call)
    assert services.expire_acknowledgements() == 0  # not yet due
    Assignment.objects.filter(pk=assignment.pk).update(ack_deadline=timezone.now() - timedelta(seconds=1))
    assert services.expire_acknowledgements() == 1
    assignment.refresh_from_db()
    silent.refresh_from_db()
    assert assignment.status == "timed_out" and silent.status == "unreachable"
    assert Event.objects.filter(type="alert.raised", data__kind="ack_timeout", call=call).exists()
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert [a.unit for a in active(call)] == [backup]
    # The device comes back: the unit is available again, but not for this call.
    services.unit_set_status(unit_id=silent.pk, status="available")
    silent.refresh_from_db()
    assert silent.status == "available"


def test_acknowledged_assignment_is_never_timed_out():
    UnitFactory(service="medical", capabilities=["als"])
    call = new_call()
    engine.dispatch_call(call.pk)
    (assignment,) = active(call)
    services.assignment_acknowledge(assignment_id=assignment.pk)
    Assignment.objects.filter(pk=assignment.pk).update(ack_deadline=timezone.now() - timedelta(seconds=1))
    assert services.expire_acknowledgements() == 0


def test_freed_unit_serves_waiting_calls_most_urgent_first_then_oldest():
    low_old = new_call("noise_complaint")  # P4
    urgent_new = new_call("robbery", lat=51.2, lon=71.5)  # P1, police 2
    urgent_newer = new_call("domestic_violence", lat=51.1, lon=71.4)  # P1, later
    waiting.dispatch_waiting(grace=NO_GRACE)
    unit = UnitFactory(service="police", status="out_of_service", location=point(51.128, 71.43))
    services.unit_set_status(unit_id=unit.pk, status="available")
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert [a.call for a in Assignment.objects.filter(unit=unit)] == [urgent_new]
    assert active(low_old) == [] and active(urgent_newer) == []


def test_crew_day_acknowledge_arrive_clear_moves_call_and_unit():
    unit = UnitFactory(service="medical", capabilities=["als"])
    call = new_call()
    engine.dispatch_call(call.pk)
    (assignment,) = active(call)
    services.assignment_acknowledge(assignment_id=assignment.pk)
    unit.refresh_from_db()
    assert unit.status == "en_route"
    services.assignment_acknowledge(assignment_id=assignment.pk)  # repeated: no-op
    services.assignment_arrive(assignment_id=assignment.pk)
    call.refresh_from_db()
    unit.refresh_from_db()
    assert call.status == "on_scene" and call.on_scene_at is not None and unit.status == "on_scene"
    services.assignment_clear(assignment_id=assignment.pk, transporting=True)
    unit.refresh_from_db()
    assert unit.status == "transporting"
    call.refresh_from_db()
    assert call.status == "on_scene"  # the call stays until an operator closes it
    with pytest.raises(TransitionNotAllowed):
        services.assignment_decline(assignment_id=assignment.pk)
    services.call_close(call_id=call.pk, disposition="transported")
    call.refresh_from_db()
    assert call.status == "closed" and call.closed_at is not None


def test_operator_can_assign_a_specific_unit_but_not_a_busy_one():
    busy = UnitFactory(service="police", status="en_route")
    free = UnitFactory(service="police", location=point(51.2, 71.5))
    call = new_call("noise_complaint")
    with pytest.raises(UnitBusy):
        services.assign_unit(call_id=call.pk, unit_id=busy.pk)
    assignment = services.assign_unit(call_id=call.pk, unit_id=free.pk)
    assert assignment.unit == free and assignment.distance_m > 5000
    assert services.assign_unit(call_id=call.pk, unit_id=free.pk) == assignment  # repeat: no-op
    engine.dispatch_call(call.pk)
    assert len(active(call)) == 1  # the manual unit covers the plan line


def test_cancelling_a_call_frees_its_units_for_waiting_calls():
    unit = UnitFactory(service="police")
    first = new_call("noise_complaint")
    engine.dispatch_call(first.pk)
    queued = new_call("noise_complaint", lat=51.16, lon=71.47)
    engine.dispatch_call(queued.pk)
    assert active(queued) == []
    services.call_cancel(call_id=first.pk, reason="caller called back")
    unit.refresh_from_db()
    assert unit.status == "available"
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert [a.unit for a in active(queued)] == [unit]
    first.refresh_from_db()
    assert first.status == "cancelled"
    with pytest.raises(TransitionNotAllowed):
        services.call_close(call_id=first.pk, disposition="resolved")


def test_operator_cancelled_assignment_reopens_the_need_with_another_unit():
    a = UnitFactory(service="police", location=point(51.1281, 71.43))
    b = UnitFactory(service="police", location=point(51.14, 71.43))
    call = new_call("noise_complaint")
    engine.dispatch_call(call.pk)
    (assignment,) = active(call)
    services.assignment_cancel(assignment_id=assignment.pk, reason="needed elsewhere")
    call.refresh_from_db()
    assert call.status == "pending" and call.dispatch_requested_at is not None
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert [x.unit for x in active(call)] == [b]
    a.refresh_from_db()
    assert a.status == "available"


def test_call_without_location_waits_and_is_dispatched_once_located():
    UnitFactory(service="medical", capabilities=["als"])
    call = new_call(lat=None)
    assert Event.objects.filter(type="alert.raised", call=call, data__kind="no_location").exists()
    waiting.dispatch_waiting(grace=NO_GRACE)
    call.refresh_from_db()
    assert call.unmet_needs[0]["reason"] == "no_location" and active(call) == []
    call_update(call_id=call.pk, actor=None, changes={},
                location={"point": point(), "accuracy_m": 20, "source": "operator"})
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert len(active(call)) == 1


def test_possible_duplicate_is_held_until_released():
    UnitFactory(service="police", location=point(51.14, 71.43))
    UnitFactory(service="police", location=point(51.15, 71.43))
    first = new_call("traffic_accident")  # P3
    engine.dispatch_call(first.pk)
    second = new_call("traffic_accident", lat=51.1290, lon=71.4300)  # ~110 m away, same type
    second.refresh_from_db()
    assert second.hold_reason == "possible_duplicate"
    assert list(second.possible_duplicates.all()) == [first]
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert active(second) == []
    services.call_release(call_id=second.pk)
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert len(active(second)) == 1


def test_a_life_threatening_possible_duplicate_is_dispatched_at_once_and_flagged():
    UnitFactory(service="medical", capabilities=["als"], location=point(51.14, 71.43))
    UnitFactory(service="medical", capabilities=["als"], location=point(51.15, 71.43))
    first = new_call()  # cardiac arrest, P1
    engine.dispatch_call(first.pk)
    second = new_call(lat=51.1290, lon=71.4300)  # ~110 m away, same type
    second.refresh_from_db()
    assert second.hold_reason == "" and list(second.possible_duplicates.all()) == [first]
    alert = Event.objects.get(type="alert.raised", call=second, data__kind="possible_duplicate")
    assert alert.data["held"] is False and alert.data["possible_duplicates"] == [first.pk]
    engine.dispatch_call(second.pk)
    assert len(active(second)) == 1


@pytest.mark.parametrize("accuracy", [300, 5000, 100_000])
def test_a_location_too_coarse_to_compare_is_never_a_duplicate(accuracy):
    first = new_call("traffic_accident", accuracy=10)
    coarse = new_call("traffic_accident", lat=51.1282, lon=71.4300, accuracy=accuracy)  # a cell fix, unknown AML
    assert coarse.hold_reason == "" and not coarse.possible_duplicates.exists()
    # and a precise call next to a coarse one is not held against it either
    near_coarse = new_call("traffic_accident", lat=51.1283, lon=71.4301, accuracy=10)
    assert list(near_coarse.possible_duplicates.all()) == [first]


def test_the_duplicate_radius_is_capped():
    first = new_call("traffic_accident", accuracy=240)
    far = new_call("traffic_accident", lat=51.1280 + 0.0054, accuracy=240)  # ~600 m: 150 + 240 + 240 > cap 500
    assert far.hold_reason == "" and not far.possible_duplicates.exists()
    near = new_call("traffic_accident", lat=51.1280 - 0.0040, accuracy=240)  # ~445 m
    assert list(near.possible_duplicates.all()) == [first] and near.hold_reason == "possible_duplicate"


def test_raising_a_held_duplicate_to_p1_releases_it_for_dispatch():
    UnitFactory(service="police", location=point(51.14, 71.43))
    first = new_call("traffic_accident")
    held = new_call("traffic_accident", lat=51.1290, lon=71.4300)
    assert held.hold_reason == "possible_duplicate"
    call_update(call_id=held.pk, actor=None, changes={"priority": 1})
    held.refresh_from_db()
    assert held.hold_reason == "" and held.dispatch_requested_at is not None
    assert list(held.possible_duplicates.all()) == [first]
    engine.dispatch_call(held.pk)
    assert len(active(held)) == 1


def test_merge_frees_units_and_points_at_the_call_kept():
    UnitFactory(service="police")
    kept = new_call("noise_complaint")
    dup = new_call("noise_complaint", lat=51.3, lon=71.6)
    engine.dispatch_call(kept.pk)
    services.call_merge(call_id=dup.pk, into_id=kept.pk)
    dup.refresh_from_db()
    assert dup.status == "merged" and dup.merged_into == kept and dup.disposition == "duplicate"


def test_every_change_writes_journal_rows_in_commit_order():
    UnitFactory(service="medical", capabilities=["als"])
    call = new_call()
    engine.dispatch_call(call.pk)
    events = list(Event.objects.order_by("id"))
    assert [e.type for e in events][:1] == ["call.created"]
    assert {"assignment.created", "unit.updated"} <= {e.type for e in events}
    for before, after in zip(events, events[1:]):
        assert after.previous_id == before.id
    created = Event.objects.get(type="assignment.created")
    assert created.data["unit"]["service"] == "medical" and created.data["status"] == "assigned"


def test_call_reference_is_human_and_unique():
    call = new_call()
    year = timezone.localtime(call.received_at).year
    assert call.reference == f"C-{year}-{call.pk:06d}"
    assert Call.objects.get(reference=call.reference) == call


def test_repeated_milestones_from_a_retrying_phone_are_no_ops():
    UnitFactory(service="medical", capabilities=["als"])
    call = new_call()
    engine.dispatch_call(call.pk)
    (assignment,) = active(call)
    services.assignment_acknowledge(assignment_id=assignment.pk)
    services.assignment_arrive(assignment_id=assignment.pk)
    assert services.assignment_acknowledge(assignment_id=assignment.pk).status == "on_scene"
    services.assignment_clear(assignment_id=assignment.pk)
    assert services.assignment_arrive(assignment_id=assignment.pk).status == "cleared"
    assert services.assignment_acknowledge(assignment_id=assignment.pk).status == "cleared"


def test_closing_a_call_with_several_units_frees_them_all():
    for i in range(3):
        UnitFactory(service="fire", location=point(51.128 + i * 0.001, 71.43))
    UnitFactory(service="medical")
    call = new_call("building_fire")
    engine.dispatch_call(call.pk)
    (first, *_rest) = active(call)
    services.assignment_arrive(assignment_id=first.pk)
    services.call_close(call_id=call.pk, disposition="resolved")
    statuses = sorted(Assignment.objects.filter(call=call).values_list("status", flat=True))
    assert statuses == ["cancelled", "cancelled", "cleared"]
    assert not Unit.objects.exclude(status="available").exists()


# --- the waiting pass (issue 13, items 1 and 7) ---------------------------------------------------


def _heating_flood(n):
    """n P2 heating calls waiting for utility crews that do not exist (a cold snap)."""
    calls = [new_call("heating_failure", lat=51.05 + i * 0.0005, lon=71.30, accuracy=10) for i in range(n)]
    # As each one's first pass left it: no utility crew, request cleared.
    Call.objects.filter(pk__in=[c.pk for c in calls]).update(dispatch_requested_at=None, unmet_needs=[
        {"service": "utility", "capability": "heating", "count": 1, "reason": "no_unit_of_service"}])
    return calls


def test_a_call_behind_hundreds_of_unservable_calls_is_served_when_a_unit_frees():
    _heating_flood(waiting.WAITING_PAGE + 10)  # more than a page (the old pass stopped at 200)
    police_call = new_call("noise_complaint", lat=51.20, lon=71.50)  # P4, behind all of them
    Call.objects.filter(pk=police_call.pk).update(dispatch_requested_at=None,
                                                  unmet_needs=[{"service": "police", "capability": None,
                                                                "count": 1, "reason": "all_busy"}])
    unit = UnitFactory(service="police", location=point(51.20, 71.50))  # a crew comes free
    assert waiting.dispatch_waiting(grace=NO_GRACE) == 1
    assert [a.unit for a in active(police_call)] == [unit]


def test_requests_past_the_first_page_are_tried_never_cleared_untried(monkeypatch):
    monkeypatch.setattr(waiting, "WAITING_PAGE", 10)
    calls = [new_call("noise_complaint", lat=51.05 + i * 0.005, lon=71.30, accuracy=10) for i in range(25)]
    units = [UnitFactory(service="police", location=point(51.05 + i * 0.005, 71.30)) for i in range(25)]
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert Assignment.objects.count() == 25
    assert set(Assignment.objects.values_list("unit_id", flat=True)) == {u.pk for u in units}
    assert not Call.objects.filter(pk__in=[c.pk for c in calls], dispatch_requested_at__isnull=False).exists()


def test_unservable_waiting_calls_cost_no_dispatch_attempt(django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr(waiting, "WAITING_PAGE", 10)
    _heating_flood(40)
    UnitFactory(service="police")  # free, but no heating call can use it
    with django_assert_max_num_queries(12):  # five pages and the availability, not 40 dispatches
        assert waiting.dispatch_waiting(grace=NO_GRACE) == 0


def test_a_new_calls_own_task_leaves_the_unit_to_a_more_urgent_waiting_call():
    urgent = new_call("traffic_accident", lat=51.20, lon=71.50)  # P3, waiting for police
    engine.dispatch_call(urgent.pk)
    urgent.refresh_from_db()
    assert urgent.unmet_needs[0]["reason"] == "no_unit_of_service"
    unit = UnitFactory(service="police", location=point(51.13, 71.43))  # frees up next to a new call
    newer = new_call("noise_complaint")  # P4, its own task runs first
    assert engine.dispatch_call(newer.pk) == 0
    newer.refresh_from_db()
    assert newer.unmet_needs == [{"service": "police", "capability": None, "count": 1, "reason": "queued"}]
    waiting.dispatch_waiting(grace=NO_GRACE)  # the pass its own task asked for
    assert [a.unit for a in active(urgent)] == [unit]
    assert active(newer) == []


def test_a_more_urgent_call_that_cannot_use_the_unit_does_not_block_it():
    k9 = new_call("noise_complaint", lat=51.20, lon=71.50)
    Call.objects.filter(pk=k9.pk).update(priority=1, dispatch_requested_at=None, unmet_needs=[
        {"service": "police", "capability": "k9", "count": 1, "reason": "no_unit_with_capability"}])
    unit = UnitFactory(service="police")  # no k9
    newer = new_call("noise_complaint")
    assert engine.dispatch_call(newer.pk) == 1
    assert [a.unit for a in active(newer)] == [unit]


def test_only_one_waiting_pass_runs_at_a_time():
    other = psycopg.connect(_dsn(), autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [waiting.WAITING_PASS_LOCK_KEY])
        assert waiting.dispatch_waiting(grace=NO_GRACE) is None
        other.execute("SELECT pg_advisory_unlock(%s)", [waiting.WAITING_PASS_LOCK_KEY])
        assert waiting.dispatch_waiting(grace=NO_GRACE) == 0
    finally:
        other.close()


def _waiting(code, priority=None, lat=51.20, lon=71.50, reason="all_busy", **need):
    call = new_call(code, lat=lat, lon=lon)
    plan = call.incident_type.plan_lines.first()
    line = {"service": plan.service, "capability": plan.capability or None, "count": 1, "reason": reason, **need}
    Call.objects.filter(pk=call.pk).update(dispatch_requested_at=None, unmet_needs=[line],
                                           **({"priority": priority} if priority else {}))
    call.refresh_from_db()
    return call


def test_a_crew_freed_during_a_pass_goes_to_the_most_urgent_call_already_passed(monkeypatch):
    urgent = _waiting("noise_complaint", priority=1, lat=51.30)  # P1, passed: no police crew free yet
    heating = _waiting("heating_failure", priority=2, lat=51.25)
    UnitFactory(service="utility", capabilities=["heating"], location=point(51.25, 71.50))  # it is served
    late = _waiting("noise_complaint", lat=51.13, lon=71.43)  # P4, right next to where the crew clears
    real = engine.dispatch_call
    freed = []

    def dispatch_call(call_id, in_order=False):
        if call_id == heating.pk and not freed:
            freed.append(UnitFactory(service="police", location=point(51.128, 71.43)))  # a crew clears now
        return real(call_id, in_order=in_order)

    monkeypatch.setattr(waiting, "dispatch_call", dispatch_call)
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert [a.unit for a in active(urgent)] == freed
    assert active(late) == []


def test_a_call_that_declined_the_unit_does_not_hold_it_back_from_another():
    unit = UnitFactory(service="police")
    older = new_call("noise_complaint", lat=51.20, lon=71.50)
    Call.objects.filter(pk=older.pk).update(priority=1)
    engine.dispatch_call(older.pk)
    (assignment,) = active(older)
    services.assignment_decline(assignment_id=assignment.pk, reason="flat tyre")
    engine.dispatch_call(older.pk)
    older.refresh_from_db()
    assert older.unmet_needs[0]["reason"] == "all_refused"
    newer = new_call("noise_complaint")
    Call.objects.filter(pk=newer.pk).update(priority=1)
    assert engine.dispatch_call(newer.pk) == 1
    assert [a.unit for a in active(newer)] == [unit]


def test_a_unit_the_more_urgent_call_cannot_use_is_taken_after_skipping_one_it_can():
    _waiting("noise_complaint", priority=2, capability="k9", reason="no_unit_with_capability")
    UnitFactory(service="police", capabilities=["k9"], location=point(51.1281, 71.43))  # nearest, wanted ahead
    plain = UnitFactory(service="police", location=point(51.135, 71.43))
    newer = new_call("noise_complaint")
    assert engine.dispatch_call(newer.pk) == 1
    assert [a.unit for a in active(newer)] == [plain]


def test_only_queued_needs_raise_no_alert():
    _waiting("noise_complaint", priority=1, lat=51.30)
    UnitFactory(service="police")
    newer = new_call("noise_complaint")
    engine.dispatch_call(newer.pk)
    newer.refresh_from_db()
    assert newer.unmet_needs[0]["reason"] == "queued"
    assert not Event.objects.filter(type="alert.raised", call=newer, data__kind="no_unit_available").exists()


def test_a_pass_requested_while_another_runs_makes_that_one_go_round_again(monkeypatch):
    real = waiting._one_waiting_round
    rounds = []

    def one_round(grace, deadline):
        rounds.append(1)
        if len(rounds) == 1:
            waiting._count_request()  # what a request that found the lock taken does
        return real(grace, deadline)

    monkeypatch.setattr(waiting, "_one_waiting_round", one_round)
    waiting.dispatch_waiting(grace=NO_GRACE)
    assert len(rounds) == 2


def test_a_request_that_finds_the_pass_running_is_counted():
    other = psycopg.connect(_dsn(), autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [waiting.WAITING_PASS_LOCK_KEY])
        before = waiting._requests_counted()
        assert waiting.dispatch_waiting(grace=NO_GRACE) is None
        assert waiting._requests_counted() > before
    finally:
        other.close()
