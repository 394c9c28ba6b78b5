"""Statistics from rollups (dispatch/rollups.py) against the direct computation over every
metrics row (dispatch.stats.direct_call_statistics), on the same data."""

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from dispatch import rollups
from dispatch.metrics import INTERVALS, record_call_metrics
from dispatch.models import StatsBlock, StatsCount, StatsHistogram, StatsStaleDay
from dispatch.stats import call_statistics, direct_call_statistics
from dispatch.tasks import roll_up_stats
from tests.factories import UnitFactory

from .builders import make_assignment, make_call

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Almaty")
DAYS = 12
# Local midnight two weeks ago: the rollups reach from the first measured call to today.
DAY0 = datetime.combine(datetime.now(TZ).date() - timedelta(days=DAYS + 2), time(0), tzinfo=TZ)


@pytest.fixture
def fortnight():
    """~170 calls over 12 local days: clustered dispatch times (so that buckets hold many
    values and percentiles are approximated), every status, some calls still open."""
    rng = random.Random(19)
    units = [UnitFactory(service=s) for s in ("medical", "police", "fire")]
    calls = []
    for _ in range(170):
        received = DAY0 + timedelta(seconds=rng.uniform(0, DAYS * 86400))
        status = rng.choice(["closed"] * 8 + ["cancelled", "dispatched", "on_scene"])
        dispatch_s = rng.choice([30 + rng.random() * 2, rng.uniform(5, 300), 0.4 + rng.random() * 0.05, None])
        if status == "cancelled":
            dispatch_s = None
        on_scene_s = dispatch_s + rng.uniform(60, 900) if dispatch_s is not None and status != "dispatched" else None
        call = make_call(received, type_code=rng.choice(["cardiac_arrest", "building_fire", "noise_complaint"]),
                         status=status, dispatch_s=dispatch_s, on_scene_s=on_scene_s,
                         disposition="resolved" if status == "closed" else "")
        if dispatch_s is not None:
            ack = rng.choice([None, rng.uniform(2, 40)])
            # An open call's unit is still on it, and a unit works one call at a time.
            unit = rng.choice(units) if status in ("closed", "cancelled") else UnitFactory(service="medical")
            make_assignment(call, unit, after_s=dispatch_s, ack_s=ack,
                            on_scene_s=(ack + 100) if ack is not None and on_scene_s is not None else None,
                            status="cleared" if status == "closed" else "acknowledged")
        calls.append(call)
    return calls


def _assert_close(rolled, direct, path="$"):
    """Counts equal; percentiles equal or within their bucket (2 %, 0.02 s under 1 s)."""
    if isinstance(direct, dict):
        assert rolled.keys() == direct.keys(), path
        for key in direct:
            _assert_close(rolled[key], direct[key], f"{path}.{key}")
    elif isinstance(direct, list):
        assert len(rolled) == len(direct), path
        for i, (a, b) in enumerate(zip(rolled, direct)):
            _assert_close(a, b, f"{path}[{i}]")
    elif path.rsplit(".", 1)[-1] in ("p50", "p90", "p95") and direct is not None:
        assert rolled is not None, path
        assert abs(rolled - direct) <= max(0.02, 0.02 * abs(direct)) + 0.001, (path, rolled, direct)
    else:
        assert rolled == direct, path


PERIODS = [
    (DAY0, DAY0 + timedelta(days=DAYS)),  # whole days only
    (DAY0 + timedelta(hours=7, minutes=13), DAY0 + timedelta(days=9, hours=17)),  # partial days at both ends
    (DAY0 + timedelta(days=3), DAY0 + timedelta(days=4)),  # one day
    (DAY0 + timedelta(days=1, hours=2), DAY0 + timedelta(days=1, hours=20)),  # inside one day: all live
]


def test_rollups_give_the_direct_figures(fortnight):
    assert rollups.rebuild_all() >= DAYS
    assert not StatsStaleDay.objects.exists()
    approximated = 0
    for start, end in PERIODS:
        rolled = call_statistics(start=start, end=end)
        direct = direct_call_statistics(start=start, end=end)
        _assert_close(rolled, direct)
        approximated += sum(rolled["intervals"][name][p] != direct["intervals"][name][p]
                            for name in INTERVALS for p in ("p50", "p90", "p95"))
    # The data are meant to exercise both the blocks and the approximation.
    with connection.cursor() as cur:
        blocks, ranges = rollups.plan(cur, PERIODS[1][0], PERIODS[1][1], settings.TIME_ZONE,
                                      settings.STATS_DISPATCH_TARGET_S)
    assert len(blocks) >= 3 and len(ranges) == 2
    assert approximated > 0


def test_a_call_ending_late_makes_its_own_day_live_until_rolled_up_again(fortnight):
    rollups.rebuild_all()
    start, end = DAY0, DAY0 + timedelta(days=DAYS)
    closed_before = sum(c.status == "closed" for c in fortnight)
    late = next(c for c in fortnight if c.status == "dispatched")
    late_day = late.received_at.astimezone(TZ).date()
    late.status, late.closed_at, late.disposition = "closed", late.received_at + timedelta(days=3), "resolved"
    late.save()
    record_call_metrics([late.pk])
    assert set(StatsStaleDay.objects.values_list("day", flat=True)) == {late_day}
    _assert_close(call_statistics(start=start, end=end), direct_call_statistics(start=start, end=end))
    assert rollups.rebuild() == (1, 0)
    assert not StatsStaleDay.objects.exists()
    rolled = call_statistics(start=start, end=end)
    _assert_close(rolled, direct_call_statistics(start=start, end=end))
    assert rolled["counts"]["status"]["closed"] == closed_before + 1


def test_days_are_the_centres_local_days():
    make_call(DAY0 + timedelta(hours=23, minutes=30), dispatch_s=10)  # 18:30 UTC
    rollups.rebuild_all()
    calls = dict(StatsCount.objects.filter(dimension="all", block__level=0).values_list("block__start", "calls"))
    assert calls[DAY0.date()] == 1 and sum(calls.values()) == 1
    assert StatsCount.objects.get(dimension="hour", block__level=0, block__start=DAY0.date()).key == "23"


def _snapshot():
    return (sorted(StatsCount.objects.values_list("block__level", "block__start", "dimension", "key", "calls",
                                                  "within", "with_unit")),
            sorted(StatsHistogram.objects.values_list("block__level", "block__start", "dimension", "key", "interval",
                                                      "buckets", "counts", "lows", "highs")))


def test_rebuilding_is_idempotent_and_the_rollups_recoverable(fortnight):
    call_command("rollup_stats")
    first = _snapshot()
    call_command("rollup_stats", "--day", str(DAY0.date() + timedelta(days=2)), "--day", str(DAY0.date()))
    assert _snapshot() == first
    # Lost rollups: the figures come live meanwhile, then the beat task rebuilds them.
    StatsHistogram.objects.all().delete()
    StatsCount.objects.all().delete()
    StatsBlock.objects.all().delete()
    start, end = DAY0, DAY0 + timedelta(days=DAYS)
    _assert_close(call_statistics(start=start, end=end), direct_call_statistics(start=start, end=end))
    # The task body in-process (the rebuild is what is tested here), as beat would run it.
    while roll_up_stats.apply().result:
        pass
    assert _snapshot() == first
    assert "roll-up-stats" in settings.CELERY_BEAT_SCHEDULE


def test_percentiles_from_buckets_match_percentile_cont_when_buckets_are_small():
    # Two values per bucket at most: exact, with percentile_cont's interpolation.
    buckets = [(1, 10.0, 10.0), (2, 20.0, 20.3), (1, 40.0, 40.0), (1, 100.0, 100.0)]
    n, values = rollups.percentiles(buckets, (0.5, 0.9, 0.95))
    assert n == 5
    assert values == [20.3, 40.0 + (100.0 - 40.0) * (0.9 * 4 - 3), 40.0 + (100.0 - 40.0) * (0.95 * 4 - 3)]
    assert rollups.percentiles([], (0.5,)) == (0, [None])
