"""Reads of units' tables that change nothing (a unit's track for supervisors)."""

from datetime import timedelta

from core.geo import GeographyCoord

from .models import UnitPosition

TRACK_MAX_POINTS = 5000
TRACK_MAX_SPAN = timedelta(hours=24)


def unit_track(*, unit_id, start, end, limit=TRACK_MAX_POINTS):
    """The fixes a unit's device sent in [start, end], oldest first, at most `limit`."""
    rows = list(
        UnitPosition.objects.filter(unit_id=unit_id, recorded_at__gte=start, recorded_at__lte=end)
        .order_by("recorded_at", "id")
        .annotate(x_lat=GeographyCoord("location", function="ST_Y"), x_lon=GeographyCoord("location", function="ST_X"))
        .values_list("x_lat", "x_lon", "accuracy_m", "heading", "speed_mps", "recorded_at")[: limit + 1]
    )
    points = [
        {"lat": lat, "lon": lon, "accuracy_m": acc, "heading": heading, "speed_mps": speed, "recorded_at": at}
        for lat, lon, acc, heading, speed, at in rows[:limit]
    ]
    return points, len(rows) > limit
