"""Units: the fleet register, device tokens and position reports."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dispatch.events import record_event

from .models import Unit, UnitPosition

# Position-only changes reach the journal at most this often per unit (SPEC).
POSITION_PUBLISH_INTERVAL_S = 1.0


@transaction.atomic
def unit_create(*, actor, callsign, service, capabilities=(), home_station=""):
    unit = Unit.objects.create(
        callsign=callsign, service=service, capabilities=sorted(set(capabilities)), home_station=home_station
    )
    record_event("unit.updated", unit=unit, actor=actor, summary="unit created")
    return unit


@transaction.atomic
def unit_update(*, unit_id, actor, changes):
    unit = Unit.objects.select_for_update().get(pk=unit_id)
    changed = []
    for field in ("callsign", "service", "capabilities", "home_station"):
        if field in changes:
            value = sorted(set(changes[field])) if field == "capabilities" else changes[field]
            if getattr(unit, field) != value:
                setattr(unit, field, value)
                changed.append(field)
    if changed:
        unit.save(update_fields=changed)
        record_event("unit.updated", unit=unit, actor=actor, summary="changed: " + ", ".join(changed))
    return unit


@transaction.atomic
def unit_issue_token(*, unit_id, actor):
    """A new device token for the unit; the old one stops working at once."""
    unit = Unit.objects.select_for_update().get(pk=unit_id)
    User = get_user_model()
    if unit.user is None:
        user, _ = User.objects.get_or_create(username=f"unit-{unit.pk}-{unit.callsign}".lower()[:150])
        user.set_unusable_password()
        user.save()
        unit.user = user
        unit.save(update_fields=["user"])
    Token.objects.filter(user=unit.user).delete()
    token = Token.objects.create(user=unit.user)
    record_event("unit.updated", unit=unit, actor=actor, summary="device token issued")
    return token.key


def unit_report_positions(*, unit_id, fixes):
    """Store every fix as history; move the live position to the newest one if it is newer.

    Phones retry and reorder: a fix older than the stored one never moves the unit back.
    A move of less than UNIT_POSITION_MIN_MOVE_M only refreshes the timestamp (a HOT
    update of unindexed columns); the journal hears of a unit's position at most once
    a second.
    """
    if not fixes:
        return None
    now = timezone.now()
    newest = max(fixes, key=lambda f: f["recorded_at"])
    with transaction.atomic():
        UnitPosition.objects.bulk_create(
            [
                UnitPosition(
                    unit_id=unit_id, location=f["point"], accuracy_m=f.get("accuracy_m"), heading=f.get("heading"),
                    speed_mps=f.get("speed_mps"), recorded_at=f["recorded_at"], received_at=now,
                )
                for f in fixes
            ]
        )
        unit = Unit.objects.select_for_update(of=("self",)).get(pk=unit_id)
        if unit.location_recorded_at is not None and newest["recorded_at"] <= unit.location_recorded_at:
            return unit
        moved = unit.location is None or _metres(unit.location, newest["point"]) >= settings.UNIT_POSITION_MIN_MOVE_M
        fields = ["location_accuracy_m", "heading", "speed_mps", "location_recorded_at"]
        if moved:
            unit.location = newest["point"]
            fields.append("location")
        unit.location_accuracy_m = newest.get("accuracy_m")
        unit.heading = newest.get("heading")
        unit.speed_mps = newest.get("speed_mps")
        unit.location_recorded_at = newest["recorded_at"]
        publish = unit.position_published_at is None or (
            (now - unit.position_published_at).total_seconds() >= POSITION_PUBLISH_INTERVAL_S
        )
        if publish:
            unit.position_published_at = now
            fields.append("position_published_at")
        unit.save(update_fields=fields)
        if publish:
            record_event("unit.updated", unit=unit, summary="position")
        return unit


def _metres(a, b):
    """Approximate ground distance between two lon/lat points (equirectangular; fine below 1 km)."""
    import math

    lat = math.radians((a.y + b.y) / 2)
    dx = math.radians(b.x - a.x) * math.cos(lat)
    dy = math.radians(b.y - a.y)
    return 6_371_000 * math.hypot(dx, dy)
