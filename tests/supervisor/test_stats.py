"""GET /stats/: counts and percentiles computed in PostgreSQL on a known set of timestamps."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from tests.factories import UnitFactory

from .builders import make_assignment, make_call

pytestmark = pytest.mark.django_db

STATS = "/api/v1/stats/"
TZ = ZoneInfo("Asia/Almaty")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)  # a Monday, 08:00 local
PERIOD = {"received_after": "2026-03-02T00:00:00+05:00", "received_before": "2026-03-09T00:00:00+05:00"}


@pytest.fixture
def known_week(operator):
    """Five dispatched calls with exact milestones, one that never got a unit, one outside
    the period. Expected figures are worked out by hand in the tests (linear interpolation,
    as percentile_cont does)."""
    medical = [UnitFactory(service="medical", capabilities=["als"]) for _ in range(3)]
    police, fire = UnitFactory(service="police"), UnitFactory(service="fire")
    # received→dispatch 10, 20, 30, 40, 100 s; received→on scene 100, 200, 300, 400, none.
    c1 = make_call(T0, dispatch_s=10, on_scene_s=100, disposition="resolved", created_by=operator)
    c2 = make_call(T0 + timedelta(hours=1), type_code="noise_complaint", dispatch_s=20, on_scene_s=200,
                   disposition="resolved")
    c3 = make_call(T0 + timedelta(hours=1, minutes=30), dispatch_s=30, on_scene_s=300, disposition="transported")
    c4 = make_call(T0 + timedelta(days=1, hours=14), type_code="building_fire", dispatch_s=40, on_scene_s=400,
                   disposition="false_alarm")
    c5 = make_call(T0 + timedelta(days=2), status="dispatched", dispatch_s=100)
    make_call(T0 + timedelta(days=3), type_code="other", status="cancelled", disposition="cancelled")
    make_call(T0 - timedelta(days=1), dispatch_s=999, on_scene_s=9999)  # the Sunday before: not counted
    # First assignments: ack after 5, 15, (declined), 25, 35 s; on scene 60, 120, -, 180 s after ack.
    make_assignment(c1, medical[0], after_s=10, ack_s=5, on_scene_s=5 + 60)
    make_assignment(c2, police, after_s=20, ack_s=15, on_scene_s=15 + 120)
    make_assignment(c3, medical[1], after_s=30, status="declined")
    make_assignment(c3, medical[2], after_s=50, ack_s=10, on_scene_s=250)  # the second unit arrives
    make_assignment(c4, fire, after_s=40, ack_s=25, on_scene_s=25 + 180)
    make_assignment(c5, medical[0], after_s=100, ack_s=35, status="acknowledged")


def test_percentiles_of_each_interval_over_a_known_week(supervisor_client, known_week):
    response = supervisor_client.get(STATS, PERIOD)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["calls"] == 6
    assert body["intervals"] == {
        "received_to_dispatch": {"n": 5, "p50": 30.0, "p90": 76.0, "p95": 88.0},
        "dispatch_to_acknowledgement": {"n": 4, "p50": 20.0, "p90": 32.0, "p95": 33.5},
        "acknowledgement_to_on_scene": {"n": 3, "p50": 120.0, "p90": 168.0, "p95": 174.0},
        "received_to_on_scene": {"n": 4, "p50": 250.0, "p90": 370.0, "p95": 385.0},
    }


def test_nfpa_target_share_is_four_of_five_dispatched_calls_and_is_missed(supervisor_client, known_week):
    target = supervisor_client.get(STATS, PERIOD).json()["target"]
    assert target == {"interval": "received_to_dispatch", "target_s": 60.0, "target_share": 0.9, "calls": 5,
                      "within": 4, "share": 0.8, "met": False}


@override_settings(STATS_DISPATCH_TARGET_S=120, STATS_DISPATCH_TARGET_SHARE=0.75)
def test_targets_come_from_settings(supervisor_client, known_week):
    target = supervisor_client.get(STATS, PERIOD).json()["target"]
    assert (target["target_s"], target["target_share"], target["within"], target["met"]) == (120.0, 0.75, 5, True)


def test_counts_by_type_priority_status_disposition_and_service(supervisor_client, known_week):
    counts = supervisor_client.get(STATS, PERIOD).json()["counts"]
    assert counts["incident_type"] == {"cardiac_arrest": 3, "building_fire": 1, "noise_complaint": 1, "other": 1}
    assert counts["status"] == {"closed": 4, "cancelled": 1, "dispatched": 1}
    assert counts["priority"] == {"1": 4, "3": 1, "4": 1}
    assert counts["disposition"] == {"resolved": 2, "cancelled": 1, "false_alarm": 1, "none": 1, "transported": 1}
    # building_fire's plan asks for medical and police too, though only fire went.
    assert counts["service"] == {"medical": 4, "police": 2, "fire": 1}


def test_per_service_intervals_use_that_services_first_unit(supervisor_client, known_week):
    by_service = {s["service"]: s for s in supervisor_client.get(STATS, PERIOD).json()["by_service"]}
    medical = by_service["medical"]
    assert (medical["calls"], medical["with_unit"]) == (4, 3)
    # first medical unit: c1 at 10 s, c3 at 30 s (declined), c5 at 100 s
    assert medical["intervals"]["received_to_dispatch"] == {"n": 3, "p50": 30.0, "p90": 86.0, "p95": 93.0}
    # first medical arrival: c1 at 75 s, c3 at 300 s (the second unit)
    assert medical["intervals"]["received_to_on_scene"]["n"] == 2
    assert medical["intervals"]["received_to_on_scene"]["p50"] == 187.5
    assert medical["target"]["within"] == 2 and medical["target"]["calls"] == 3
    assert by_service["fire"]["intervals"]["dispatch_to_acknowledgement"]["p50"] == 25.0
    assert (by_service["police"]["calls"], by_service["police"]["with_unit"]) == (2, 1)


def test_per_hour_of_day_is_in_the_centres_time_zone(supervisor_client, known_week):
    by_hour = supervisor_client.get(STATS, PERIOD).json()["by_hour"]
    assert [h["hour"] for h in by_hour] == list(range(24))
    busy = {h["hour"]: h["calls"] for h in by_hour if h["calls"]}
    # 08:00 (c1, c5, the cancelled one), 09:00 and 09:30 (c2, c3), 22:00 (c4), all local.
    assert busy == {8: 3, 9: 2, 22: 1}
    nine = by_hour[9]
    assert nine["received_to_dispatch"] == {"n": 2, "p50": 25.0, "p90": 29.0, "p95": 29.5}
    assert nine["target"]["share"] == 1.0
    assert by_hour[0]["target"]["share"] is None


def test_default_period_is_the_last_seven_days(supervisor_client, supervisor):
    from django.utils import timezone

    now = timezone.now()
    make_call(now - timedelta(days=6), dispatch_s=12)
    make_call(now - timedelta(days=8), dispatch_s=12)
    body = supervisor_client.get(STATS).json()
    assert body["calls"] == 1
    assert body["intervals"]["received_to_dispatch"]["p50"] == 12.0


def test_an_empty_period_has_no_percentiles_and_no_verdict(supervisor_client):
    body = supervisor_client.get(STATS, PERIOD).json()
    assert body["calls"] == 0
    assert body["intervals"]["received_to_dispatch"] == {"n": 0, "p50": None, "p90": None, "p95": None}
    assert body["target"]["met"] is None


@pytest.mark.parametrize("params,field", [
    ({"received_after": "yesterday"}, "received_after"),
    ({"received_before": "2026-13-01"}, "received_before"),
    ({"received_after": "2026-03-09T00:00:00+05:00", "received_before": "2026-03-02T00:00:00+05:00"},
     "received_before"),
    ({"received_after": "2024-01-01T00:00:00+05:00", "received_before": "2026-01-01T00:00:00+05:00"},
     "received_after"),
])
def test_bad_dates_are_a_400_naming_the_field(supervisor_client, params, field):
    response = supervisor_client.get(STATS, params)
    assert response.status_code == 400
    assert field in response.json()
