"""Units: the fleet register, device tokens and position reports."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from accounts.tokens import issue_token
from core.journal import record_event
from core.texts import said

from .models import Unit

# Position-only changes reach the journal at most this often per unit (SPEC).
POSITION_PUBLISH_INTERVAL_S = 1.0


@transaction.atomic
def unit_create(*, actor, callsign, service, capabilities=(), home_station=""):
    unit = Unit.objects.create(
        callsign=callsign, service=service, capabilities=sorted(set(capabilities)), home_station=home_station
    )
    record_event("unit.updated", unit=unit, actor=actor, summary=said("unit_created", "unit created"))
    return unit


@transaction.atomic
def unit_update(*, unit_id, actor, changes):
    unit = Unit.objects.select_for_update(no_key=True).get(pk=unit_id)
    changed = []
    for field in ("callsign", "service", "capabilities", "home_station"):
        if field in changes:
            value = sorted(set(changes[field])) if field == "capabilities" else changes[field]
            if getattr(unit, field) != value:
                setattr(unit, field, value)
                changed.append(field)
    if changed:
        unit.save(update_fields=changed)
        record_event("unit.updated", unit=unit, actor=actor, summary=said("changed", "changed: " + ", ".join(changed), fields=changed))
    return unit


@transaction.atomic
def unit_issue_token(*, unit_id, actor):
    """A new device token for the unit; the old one stops working at once."""
    unit = Unit.objects.select_for_update(no_key=True).get(pk=unit_id)
    User = get_user_model()
    if unit.user is None:
        user, _ = User.objects.get_or_create(username=f"unit-{unit.pk}-{unit.callsign}".lower()[:150])
        user.set_unusable_password()
        user.save()
        unit.user = user
        unit.save(update_fields=["user"])
    key = issue_token(unit.user, replace=True)
    record_event("unit.updated", unit=unit, actor=actor, summary=said("device_token_issued", "device token issued"))
    return key


# The two statements of a position report, shared by the Django path below and the ASGI
# fast path (units/ingest.py), so both apply exactly the same rules.
HISTORY_SQL = """
    INSERT INTO units_unitposition (unit_id, location, accuracy_m, heading, speed_mps, recorded_at, received_at)
    SELECT %(id)s, ST_SetSRID(ST_MakePoint(f.lon, f.lat), 4326)::geography, f.acc, f.heading, f.speed, f.at, %(now)s
    FROM unnest(%(lons)s::float8[], %(lats)s::float8[], %(accs)s::float8[], %(headings)s::float8[],
                %(speeds)s::float8[], %(ats)s::timestamptz[]) AS f(lon, lat, acc, heading, speed, at)
"""
# One conditional UPDATE does the whole live-row change: it applies only a newer fix,
# keeps the stored point (binary-equal, so the update can stay HOT) when the unit moved
# less than UNIT_POSITION_MIN_MOVE_M, and claims the once-a-second journal slot
# (coalescing, SPEC) so that concurrent reports cannot both publish.
LIVE_UPDATE_SQL = """
    UPDATE units_unit SET
        location = CASE WHEN location IS NOT NULL
                         AND ST_DWithin(location, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography,
                                        %(min_move)s)
                        THEN location ELSE ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography END,
        location_accuracy_m = %(acc)s, heading = %(heading)s, speed_mps = %(speed)s,
        location_recorded_at = %(at)s,
        position_published_at = CASE
            WHEN position_published_at IS NULL OR position_published_at <= %(due)s THEN %(now)s
            ELSE position_published_at END
    WHERE id = %(id)s AND (location_recorded_at IS NULL OR location_recorded_at < %(at)s)
    RETURNING position_published_at = %(now)s
"""


# Both as one statement: in autocommit it is its own transaction (a data-modifying WITH
# always runs to completion, whatever the UPDATE matches), so a report costs one round
# trip instead of BEGIN, two statements and COMMIT (bench/positions_ingest.py).
REPORT_SQL = "WITH history AS (" + HISTORY_SQL + ")" + LIVE_UPDATE_SQL


def position_report_params(unit_id, fixes, now):
    """Parameters for HISTORY_SQL and LIVE_UPDATE_SQL from validated fixes."""
    newest = max(fixes, key=lambda f: f["recorded_at"])
    history = {
        "id": unit_id, "now": now,
        "lons": [f["lon"] for f in fixes], "lats": [f["lat"] for f in fixes],
        "accs": [f.get("accuracy_m") for f in fixes], "headings": [f.get("heading") for f in fixes],
        "speeds": [f.get("speed_mps") for f in fixes], "ats": [f["recorded_at"] for f in fixes],
    }
    live = {
        "id": unit_id, "now": now, "lon": newest["lon"], "lat": newest["lat"],
        "min_move": settings.UNIT_POSITION_MIN_MOVE_M, "acc": newest.get("accuracy_m"),
        "heading": newest.get("heading"), "speed": newest.get("speed_mps"), "at": newest["recorded_at"],
        "due": now - timedelta(seconds=POSITION_PUBLISH_INTERVAL_S),
    }
    return history, live


def position_report_result(unit_id, accepted, publish_claimed):
    """What a device gets back (both paths): small, since phones send this every few seconds."""
    return {"unit": unit_id, "accepted": accepted, "applied": publish_claimed is not None}


def unit_report_positions(*, unit_id, fixes):
    """Store every fix as history; move the live position to the newest one if it is newer.

    Phones retry and reorder: a fix older than the stored one never moves the unit back.
    Returns position_report_result(...).
    """
    if not fixes:
        return None
    now = timezone.now()
    history, live = position_report_params(unit_id, fixes, now)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(REPORT_SQL, {**history, **live})
            row = cur.fetchone()
        if row is not None and row[0]:
            record_event("unit.updated", unit=Unit.objects.get(pk=unit_id), summary=said("position", "position"))
    return position_report_result(unit_id, len(fixes), row)


def unit_publish_position(*, unit_id):
    """The journal row of a position change already committed by the ASGI fast path.

    The unit is read under its row lock: a dispatch that changed it and holds the journal
    lock has committed by then, so this row (which gets a later id) shows its state, not
    an older one that consoles would keep as the latest (issue 13).
    """
    with transaction.atomic():
        unit = Unit.objects.select_for_update(no_key=True).get(pk=unit_id)
        record_event("unit.updated", unit=unit, summary=said("position", "position"))
