"""Call intake: create, correct, annotate, locate; duplicate detection (SPEC rule 4).

A call is committed before the API answers 201, with its journal row in the same
transaction; dispatch is asked for after commit and, should that message be lost, found
again by the sweep through `dispatch_requested_at`.
"""

import re
from datetime import timedelta

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from core.errors import InvalidOperation
from core.journal import record_event
from core.requests import request_dispatch
from core.texts import said

from .aml import AmlParseError, parse_aml
from .gazetteer import geocode
from .models import AmlMessage, Call, LocationSource
from .statuses import CallStatus

# A geocoder answer below this score is not trusted to place a call by itself.
GEOCODE_MIN_SCORE = 0.45


def geocode_address(address, near=None):
    """(point, accuracy_m, label) for the best gazetteer match, or None. `near` (a Point:
    the caller's AML fix) picks between places the text fits equally."""
    results = geocode(address, limit=1, near=(near.y, near.x) if near is not None else None)
    if not results or results[0]["score"] < GEOCODE_MIN_SCORE:
        return None
    best = results[0]
    # A street is a line, not a point: its match is only as good as the street is long.
    accuracy = {"address": 30.0, "intersection": 50.0, "place": 100.0}.get(best["kind"], 500.0)
    return Point(best["lon"], best["lat"], srid=4326), accuracy, best["label"]


# Possible duplicates are held for an operator only up to this priority number's better:
# a call this urgent (P1 threat to life, P2) is dispatched at once and only flagged.
HOLD_DUPLICATES_FROM_PRIORITY = 3


def holds_as_duplicate(priority):
    return priority >= HOLD_DUPLICATES_FROM_PRIORITY


def find_possible_duplicates(*, incident_type_id, point, accuracy_m, exclude_id=None, now=None):
    """Open calls of the same type whose caller could be the same place and moment.

    Within DUPLICATE_RADIUS_M plus both callers' uncertainty radii, at most
    DUPLICATE_MAX_RADIUS_M, received in the last DUPLICATE_WINDOW_MIN. A location less
    certain than DUPLICATE_MAX_ACCURACY_M (a cell-tower fix, a street-level geocode, an
    AML fix of unknown accuracy) is compared with nothing: it cannot tell two incidents
    a kilometre apart from one. The DWithin prefilter uses the GiST index on call.location.
    """
    limit = settings.DUPLICATE_MAX_ACCURACY_M
    if point is None or (accuracy_m or 0.0) > limit:
        return []
    now = now or timezone.now()
    radius = settings.DUPLICATE_RADIUS_M
    cap = settings.DUPLICATE_MAX_RADIUS_M
    own = accuracy_m or 0.0
    window_start = now - timedelta(minutes=settings.DUPLICATE_WINDOW_MIN)
    qs = (
        Call.objects.filter(
            status__in=CallStatus.OPEN,
            incident_type_id=incident_type_id,
            received_at__gte=window_start,
            location__dwithin=(point, D(m=min(radius + own + limit, cap))),
        )
        .exclude(location_accuracy_m__gt=limit)
        .exclude(pk=exclude_id)
        .annotate(distance=Distance("location", point))
        .order_by("received_at")
    )
    return [c for c in qs if c.distance.m <= min(radius + own + (c.location_accuracy_m or 0.0), cap)]


def _apply_location(call, location, address, near=None):
    """Set location from explicit coordinates or by geocoding the address (biased toward
    `near`, the caller's AML point, when there is one). Returns an alert or None."""
    if location is not None:
        call.location = location["point"]
        call.location_accuracy_m = location.get("accuracy_m")
        call.location_source = location.get("source") or LocationSource.OPERATOR
        if address is not None:
            call.address = address
        return None
    if address is not None:
        call.address = address
        found = geocode_address(address, near=near) if address.strip() else None
        if found is None:
            return "address_not_found"
        call.location, call.location_accuracy_m, _label = found
        call.location_source = LocationSource.ADDRESS
    return None


@transaction.atomic
def call_create(*, actor, incident_type, priority=None, caller_phone="", caller_name="", channel="voice",
                description="", location=None, address=None, received_at=None, hold_reason="", alarm=None):
    """A new call. `hold_reason` keeps it from dispatch until an operator releases it
    (dispatch.services.call_release), as a partner's unconfirmed alarm is; `alarm` is the
    partner alarm that raised it (Call.alarm)."""
    now = timezone.now()
    call = Call(
        incident_type=incident_type,
        priority=priority or incident_type.priority,
        caller_phone=caller_phone or "",
        caller_name=caller_name or "",
        channel=channel or "voice",
        description=description or "",
        received_at=received_at or now,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        dispatch_requested_at=now,
        hold_reason=hold_reason or "",
        alarm=alarm,
    )
    # The AML fix first: its point steers the geocoder when the address fits several places.
    aml = _recent_aml_fix(call)
    problem = _apply_location(call, location, address, near=aml.location if aml is not None else None)
    if aml is not None:
        _prefer_aml_fix(call, aml)
    duplicates = find_possible_duplicates(
        incident_type_id=incident_type.id, point=call.location, accuracy_m=call.location_accuracy_m, now=now
    )
    if duplicates and holds_as_duplicate(call.priority) and not call.hold_reason:
        call.hold_reason = "possible_duplicate"
    call.save()
    # The reference carries the id, so it is known only after the insert.
    call.reference = f"C-{timezone.localtime(call.received_at).year}-{call.pk:06d}"
    Call.objects.filter(pk=call.pk).update(reference=call.reference)
    if duplicates:
        call.possible_duplicates.set(duplicates)
    if aml is not None:
        aml.call = call
        aml.save(update_fields=["call"])
    record_event("call.created", call=call, actor=actor,
                 summary=said("call_created", f"{incident_type.code} P{call.priority}",
                              incident_type=incident_type.code, priority=call.priority))
    _raise_location_alerts(call, actor, problem, duplicates)
    request_dispatch(call.id)
    return call


def _raise_location_alerts(call, actor, problem, duplicates):
    if call.location is None:
        record_event(
            "alert.raised", call=call, actor=actor, summary=said("no_location", "call has no location"),
            data={"kind": "no_location", "call": call.id, "reference": call.reference,
                  "detail": problem or "no location given"},
        )
    if duplicates:
        held = bool(call.hold_reason)
        record_event(
            "alert.raised", call=call, actor=actor,
            summary=said("possible_duplicate", "possible duplicate") if held
            else said("possible_duplicate_dispatched", "possible duplicate, dispatched (P1/P2 are never held)"),
            data={"kind": "possible_duplicate", "call": call.id, "reference": call.reference, "held": held,
                  "possible_duplicates": [d.id for d in duplicates],
                  "references": [d.reference for d in duplicates]},
        )


UPDATABLE = ("incident_type", "priority", "description", "caller_name", "caller_phone")


@transaction.atomic
def call_update(*, call_id, actor, changes, location=None, address=None):
    """Operator corrections. A call that gains a location or a new type is dispatched again."""
    call = Call.objects.select_for_update(of=("self",), no_key=True).get(pk=call_id)
    if call.status not in CallStatus.OPEN:
        raise InvalidOperation(gettext("Call %(reference)s is %(status)s; it can no longer be changed.")
                               % {"reference": call.reference, "status": CallStatus.LABELS[call.status]})
    was_located = call.location is not None
    old_type = call.incident_type_id
    changed = []
    for field in UPDATABLE:
        if field in changes and getattr(call, field) != changes[field]:
            setattr(call, field, changes[field])
            changed.append(field)
    if "incident_type" in changed and "priority" not in changes:
        call.priority = call.incident_type.priority
    problem = None
    if location is not None or address is not None:
        near = None
        if location is None and address:
            near = (call.aml_messages.filter(accepted=True).exclude(location=None)
                    .order_by("accuracy_m", "-received_at").values_list("location", flat=True).first())  # fmt: skip
        problem = _apply_location(call, location, address, near=near)
        changed.append("location")
    redispatch = (call.location is not None and not was_located) or call.incident_type_id != old_type
    if call.hold_reason == "possible_duplicate" and not holds_as_duplicate(call.priority):
        # Raised to P1/P2: too urgent to wait for an operator's merge; it stays flagged.
        call.hold_reason = ""
        redispatch = True
    if redispatch:
        call.dispatch_requested_at = timezone.now()
    if not changed:
        return call
    duplicates = []
    if call.location is not None and not was_located and call.status == CallStatus.PENDING and not call.hold_reason:
        duplicates = find_possible_duplicates(
            incident_type_id=call.incident_type_id, point=call.location,
            accuracy_m=call.location_accuracy_m, exclude_id=call.pk,
        )
        if duplicates:
            if holds_as_duplicate(call.priority):
                call.hold_reason = "possible_duplicate"
            call.possible_duplicates.add(*duplicates)
    call.save()
    fields = sorted(set(changed))
    record_event("call.updated", call=call, actor=actor, summary=said("changed", "changed: " + ", ".join(fields), fields=fields))
    if problem and call.location is None:
        _raise_location_alerts(call, actor, problem, [])
    if duplicates:
        _raise_location_alerts(call, actor, None, duplicates)
    if redispatch:
        request_dispatch(call.id)
    return call


@transaction.atomic
def call_add_note(*, call_id, actor, text):
    call = Call.objects.select_for_update(of=("self",), no_key=True).get(pk=call_id)
    if call.personal_data_erased_at is not None:
        # The retention emptied this call's notes; a new one would be kept forever.
        raise InvalidOperation(gettext("This call's personal data was erased after the retention period; "
                                       "it takes no more notes."))
    record_event("call.updated", call=call, actor=actor, summary=said("note", f"note: {text}", text=text))
    return call


def _recent_aml_fix(call):
    """An AML fix that arrived just before the call (SPEC: attached to the next call within
    10 minutes), for the unsaved call; `_prefer_aml_fix` applies it."""
    if not call.caller_phone:
        return None
    lock_caller_number(call.caller_phone)
    recent = (
        AmlMessage.objects.select_for_update(no_key=True).filter(
            msisdn=call.caller_phone, accepted=True, call__isnull=True,
            received_at__gte=timezone.now() - timedelta(minutes=10),
        )
        .order_by("accuracy_m", "-received_at")
        .first()
    )
    return recent


def _prefer_aml_fix(call, recent):
    """The AML fix replaces what the operator gave when it is more accurate."""
    if call.location is None or (call.location_accuracy_m or float("inf")) > (recent.accuracy_m or float("inf")):
        call.location = recent.location
        call.location_accuracy_m = recent.accuracy_m
        call.location_source = LocationSource.AML


def normalize_phone(raw):
    """E.164-ish form used to match AML fixes to calls: '+7 (701) 123-45-67', '87011234567' → '+77011234567'."""
    digits = re.sub(r"[^0-9+]", "", raw or "")
    if digits.startswith("+"):
        return "+" + digits[1:].replace("+", "")
    if len(digits) == 11 and digits.startswith("8"):  # Kazakhstan's trunk prefix
        return "+7" + digits[1:]
    if len(digits) == 11 and digits.startswith("7"):
        return "+" + digits
    return digits


AML_MATCH_WINDOW = timedelta(minutes=10)


def lock_caller_number(number):
    """Serialise, per caller number, a call's intake with that number's AML messages.

    Each side looks for the other's committed rows; without this, a fix stored while the
    call is being created (and vice versa) would be attached to neither.
    """
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"aml:{number}"])


def aml_receive(*, msisdn, message, actor=None):
    """Store an AML message and, when it parses, put its fix on the caller's open call.

    Returns (AmlMessage, call or None). Raises AmlParseError after storing a rejected one,
    in its own committed transaction: every message is kept, rejected ones too.
    """
    try:
        fix = parse_aml(message, msisdn or None, hmac_key=settings.AML_HMAC_KEY)
    except AmlParseError as exc:
        AmlMessage.objects.create(msisdn=normalize_phone(msisdn), raw=message, accepted=False, reason=exc.reason[:300])
        raise
    number = normalize_phone(fix.msisdn or msisdn)
    now = timezone.now()
    with transaction.atomic():
        lock_caller_number(number)
        aml = AmlMessage.objects.create(
            msisdn=number, raw=message, accepted=True,
            parsed={"version": fix.version, "positioning": fix.positioning, "confidence": fix.confidence,
                    "fields": fix.fields, "warnings": list(fix.warnings)},
            location=Point(fix.lon, fix.lat, srid=4326), accuracy_m=fix.accuracy_m, fix_time=fix.fix_time,
        )
        call = (
            Call.objects.select_for_update(of=("self",), no_key=True)
            .filter(caller_phone=number, status__in=CallStatus.OPEN, received_at__gte=now - AML_MATCH_WINDOW)
            .order_by("-received_at")
            .first()
        )
        if call is None:
            return aml, None
        aml.call = call
        aml.save(update_fields=["call"])
        better = call.location is None or call.location_accuracy_m is None or fix.accuracy_m < call.location_accuracy_m
        if better:
            was_located = call.location is not None
            call.location = aml.location
            call.location_accuracy_m = fix.accuracy_m
            call.location_source = LocationSource.AML
            fields = ["location", "location_accuracy_m", "location_source", "updated_at"]
            if not was_located:
                call.dispatch_requested_at = now
                fields.append("dispatch_requested_at")
            call.save(update_fields=fields)
            record_event("call.updated", call=call, actor=actor,
                         summary=said("aml_fix", f"AML fix ±{fix.accuracy_m:.0f} m ({fix.positioning})",
                                      accuracy_m=round(fix.accuracy_m), positioning=fix.positioning))
            if not was_located:
                request_dispatch(call.id)
        return aml, call
