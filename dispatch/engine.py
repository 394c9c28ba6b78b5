"""The dispatch engine: fill each call's response plan with the nearest suitable units.

Selection is a KNN scan (`<->` on geography, in plain SQL: candidate_units) over the
partial GiST index of available units, then a conditional claim
`UPDATE unit SET status='dispatched' WHERE id=… AND status='available'`: one row changed
means this transaction won the unit. By road (issue 16): the K nearest by air
(DISPATCH_ROUTE_CANDIDATES) are ranked by travel time over the road graph, costed in one
pgRouting query under a time budget (dispatch/routing.py); without a graph, off it, or
past the budget the straight line ranks them, so routing never holds a dispatch up. The
claim below is the same whatever the order. No SKIP LOCKED, so a unit whose GPS row is locked
for a millisecond is waited for, not passed over (docs/traps.md). The unique partial index
`one_active_assignment_per_unit` makes a double assignment impossible even if this code
were wrong.

Each unit is claimed in its own short transaction that locks the call, then the one
unit: a transaction never holds two unit locks, so two calls racing for the same units
cannot deadlock, and a worker killed between slots leaves only whole assignments behind.
"""

import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.contrib.gis.measure import D
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from calls.models import Call
from calls.statuses import CallStatus
from core.journal import record_event, record_events
from core.requests import request_dispatch
from core.texts import code_of, params_of, said
from dispatch.statuses import AssignmentStatus
from units.models import Unit
from units.statuses import UnitStatus

from . import routing
from .models import Assignment

log = logging.getLogger(__name__)

CANDIDATES = 5
MAX_SLOTS_PER_PASS = 40

# Why a plan line stays unmet, most specific first (SPEC: "each with the reason").
REASON_NO_LOCATION = "no_location"
REASON_ON_HOLD = "on_hold"
REASON_NO_SERVICE = "no_unit_of_service"
REASON_NO_CAPABILITY = "no_unit_with_capability"
REASON_ALL_BUSY = "all_busy"
REASON_ALL_STALE = "all_stale"
REASON_ALL_REFUSED = "all_refused"
REASON_QUEUED = "queued"  # a free unit fits, but a more urgent waiting call comes first (rule 3)


def fresh_cutoff(now=None):
    return (now or timezone.now()) - timedelta(seconds=settings.DISPATCH_STALE_LOCATION_S)


class Candidate:
    """One row of the nearest-unit query: plain values, no model instance (issue 19).
    `distance.m` is the spheroid distance in metres; `leg` the travel by road or by air."""

    __slots__ = ("id", "service", "capabilities", "location", "distance", "leg")

    def __init__(self, id, service, capabilities, lon, lat, distance_m):  # noqa: A002
        self.id, self.service, self.capabilities = id, service, capabilities
        self.location = (lon, lat)
        self.distance = D(m=distance_m)
        self.leg = None


# The engine's KNN query as plain SQL: `<->` on the partial GiST index unit_available_knn
# (status = 'available'), the point a constant the planner folds (a parameter, never a
# subquery: docs/traps.md). ST_Distance (spheroid) only for the rows returned. Written out
# rather than built by the ORM: building the queryset and the model instances (GEOS
# points) cost ~4x the query itself (bench/README.md, "nearest_unit.py").
_KNN_SQL = """
    SELECT id, service, capabilities, ST_X(location::geometry), ST_Y(location::geometry),
           ST_Distance(location, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography)
    FROM units_unit
    WHERE service = %(service)s AND status = 'available' AND location IS NOT NULL
      AND location_recorded_at >= %(fresh)s {filters}
    ORDER BY location <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography
    LIMIT %(limit)s
"""
_KNN_FILTERS = {
    (False, False): "",
    (True, False): "AND capabilities @> ARRAY[%(capability)s]::varchar(32)[]",
    (False, True): "AND NOT (id = ANY(%(exclude)s))",
    (True, True): "AND capabilities @> ARRAY[%(capability)s]::varchar(32)[] AND NOT (id = ANY(%(exclude)s))",
}
_KNN_QUERIES = {key: _KNN_SQL.format(filters=f) for key, f in _KNN_FILTERS.items()}


def candidate_units(point, service, capability="", exclude=(), limit=None, now=None, by_road=True):
    """The nearest available, fresh units of a service with a capability, nearest first,
    as Candidates (one query, plain rows).

    `by_road`: the DISPATCH_ROUTE_CANDIDATES nearest by air, each with `leg` (eta_s,
    route_m, basis), ordered by travel time; otherwise `limit` (CANDIDATES) by air only.
    """
    if limit is None:
        limit = settings.DISPATCH_ROUTE_CANDIDATES if by_road else CANDIDATES
    lon, lat = (point.x, point.y) if hasattr(point, "x") else point
    params = {"lon": lon, "lat": lat, "service": service, "fresh": fresh_cutoff(now), "limit": limit,
              "capability": capability, "exclude": list(exclude)}
    with connection.cursor() as cur:
        cur.execute(_KNN_QUERIES[(bool(capability), bool(exclude))], params)
        units = [Candidate(*row) for row in cur.fetchall()]
    if by_road and units:
        for unit, leg in zip(units, routing.travel_times(point, [u.location for u in units]), strict=True):
            unit.leg = leg
        units.sort(key=lambda u: u.leg.eta_s)  # stable: equal times keep the air order
    return units


# The conditional claim, returning the claimed row so that winning costs one round trip.
_CLAIM_SQL = (
    "UPDATE units_unit SET status = %s, status_changed_at = %s WHERE id = %s AND status = %s RETURNING *"
)


def _claim(unit_id, now):
    """The Unit if this transaction won it (available -> dispatched), else None."""
    won = list(Unit.objects.raw(_CLAIM_SQL, [UnitStatus.DISPATCHED, now, unit_id, UnitStatus.AVAILABLE]))
    return won[0] if won else None


def plan_gaps(call):
    """[(service, capability, missing_count)] for the call's plan, in plan order.

    A line is covered by assignments made for it that are active or were cleared (the
    unit went and finished); declined, timed-out and cancelled ones leave it open.
    """
    covered = Counter(
        (a.service, a.capability)
        for a in call.assignments.all()
        if a.status in AssignmentStatus.ACTIVE or a.status == AssignmentStatus.CLEARED
    )
    gaps = []
    for line in call.incident_type.plan_lines.all():
        missing = line.count - covered[(line.service, line.capability)]
        if missing > 0:
            gaps.append((line.service, line.capability, missing))
    return gaps


def refused_unit_ids(call):
    """Units never to be offered this call again: declined, timed out or taken off it."""
    return set(
        Assignment.objects.filter(
            call=call, status__in=(*AssignmentStatus.REFUSED, AssignmentStatus.CANCELLED)
        ).values_list("unit_id", flat=True)
    )


def _unmet_reason(call, service, capability, refused, now):
    units = Unit.objects.filter(service=service)
    if not units.exists():
        return REASON_NO_SERVICE
    if capability:
        units = units.filter(capabilities__contains=[capability])
        if not units.exists():
            return REASON_NO_CAPABILITY
    available = units.filter(status=UnitStatus.AVAILABLE)
    if not available.exists():
        return REASON_ALL_BUSY
    fresh = available.filter(location__isnull=False, location_recorded_at__gte=fresh_cutoff(now))
    if not fresh.exists():
        return REASON_ALL_STALE
    if not fresh.exclude(id__in=refused).exists():
        return REASON_ALL_REFUSED
    return REASON_ALL_BUSY  # taken by another call while we looked


def _lock_call(call_id):
    return (
        Call.objects.select_for_update(of=("self",), no_key=True)
        .select_related("incident_type")
        .filter(id=call_id)
        .first()
    )


def refresh_call_status(call, now):
    """Derive pending/dispatched/on_scene from the assignments (SPEC state machine).

    Returns True if the call row changed. The caller holds the call's lock and saves.
    """
    if call.status not in CallStatus.OPEN:
        return False
    active = call.assignments.filter(status__in=AssignmentStatus.ACTIVE).exists()
    if call.on_scene_at is not None:
        new = CallStatus.ON_SCENE
    elif active:
        new = CallStatus.DISPATCHED
    else:
        new = CallStatus.PENDING
    changed = new != call.status
    call.status = new
    if new == CallStatus.DISPATCHED and call.dispatched_at is None:
        call.dispatched_at = now
        changed = True
    return changed


def _finish_pass(call_id, now, queued=()):
    """Record what stays unmet (with reasons) and clear the dispatch request."""
    with transaction.atomic():
        call = _lock_call(call_id)
        if call is None:
            return
        if call.status not in CallStatus.OPEN:
            unmet = []
        else:
            gaps = plan_gaps(call)
            if call.location is None:
                unmet = [_need(s, c, n, REASON_NO_LOCATION) for s, c, n in gaps]
            elif call.hold_reason:
                unmet = [_need(s, c, n, REASON_ON_HOLD) for s, c, n in gaps]
            else:
                refused = refused_unit_ids(call)
                unmet = [
                    _need(s, c, n, REASON_QUEUED if (s, c) in queued else _unmet_reason(call, s, c, refused, now))
                    for s, c, n in gaps
                ]
        needs_changed = unmet != call.unmet_needs
        if not needs_changed and call.dispatch_requested_at is None:
            return
        call.unmet_needs = unmet
        call.dispatch_requested_at = None
        call.save(update_fields=["unmet_needs", "dispatch_requested_at", "updated_at"])
        if not needs_changed:
            return  # only the internal request flag changed: nothing for clients to see
        record_event("call.updated", call=call,
                     summary=said("unmet_needs", "unmet needs") if unmet else said("plan_covered", "plan covered"))
        # A call only queued behind a more urgent one has a unit coming its way: no alarm.
        if any(n["reason"] != REASON_QUEUED for n in unmet) and call.location is not None and not call.hold_reason:
            record_event(
                "alert.raised",
                call=call,
                summary=said("no_unit_available", "no unit available"),
                data={
                    "kind": "no_unit_available",
                    "call": call.id,
                    "reference": call.reference,
                    "priority": call.priority,
                    "unmet_needs": unmet,
                },
            )


def _need(service, capability, count, reason):
    return {"service": service, "capability": capability or None, "count": count, "reason": reason}


def _dispatchable(call):
    return call.status in CallStatus.OPEN and call.location is not None and not call.hold_reason


def more_urgent_needs(call, service):
    """The unmet `service` lines of open, dispatchable calls more urgent than `call`
    (priority, then age), as (capability or None, units that call refused). They come
    first (SPEC rule 3), also for a new call's own task, which would otherwise take a unit
    from under them. One query for the line; usually it finds nothing."""
    rows = list(
        Call.objects.filter(status__in=CallStatus.OPEN, location__isnull=False, hold_reason="")
        .filter(Q(priority__lt=call.priority) | Q(priority=call.priority, received_at__lt=call.received_at))
        .filter(unmet_needs__contains=[{"service": service}])
        .exclude(pk=call.pk)
        .values_list("id", "unmet_needs")
    )
    if not rows:
        return []
    refused = {}
    for call_id, unit_id in Assignment.objects.filter(
        call_id__in=[r[0] for r in rows], status__in=(*AssignmentStatus.REFUSED, AssignmentStatus.CANCELLED)
    ).values_list("call_id", "unit_id"):
        refused.setdefault(call_id, set()).add(unit_id)
    return [
        (need.get("capability"), refused.get(call_id, set()))
        for call_id, unmet in rows
        for need in unmet
        if need.get("service") == service
    ]


def _wanted_ahead(unit, needs):
    """Could a more urgent call use this unit? Not one that refused it (never re-offered)."""
    return any(
        unit.id not in refused and (not capability or capability in unit.capabilities) for capability, refused in needs
    )


def _fill_one_slot(call_id, skip_lines, in_order=False):
    """Claim one unit for the call's first unmet line.

    Returns ('done'|'assigned'|'unfillable'|'queued', line). `in_order`: the caller is the
    waiting pass, which serves calls most urgent first, so no call ahead can be waiting.
    """
    with transaction.atomic():
        call = _lock_call(call_id)
        now = timezone.now()  # for freshness; the assignment is dated at its claim below
        if call is None or not _dispatchable(call):
            return "done", None
        gaps = [g for g in plan_gaps(call) if (g[0], g[1]) not in skip_lines]
        if not gaps:
            return "done", None
        service, capability, _missing = gaps[0]
        refused = refused_unit_ids(call)
        active_units = set(call.assignments.filter(status__in=AssignmentStatus.ACTIVE).values_list("unit_id", flat=True))
        tried = refused | active_units
        ahead = [] if in_order else more_urgent_needs(call, service)
        left_to_others = False
        # A few rounds: candidates may be claimed by a concurrent call between our
        # SELECT and UPDATE; each round excludes those already tried.
        for _round in range(3):
            candidates = candidate_units(call.location, service, capability, exclude=tried, now=now)
            if not candidates:
                break
            for unit in candidates:
                tried.add(unit.id)
                if ahead and _wanted_ahead(unit, ahead):
                    left_to_others = True  # the next candidate may be one nobody ahead can use
                    continue
                won = _claim(unit.id, now)
                if won is not None:
                    # Dated now, not when the pass began or the UPDATE started waiting for
                    # the unit's row: never before the unit's previous assignment ended.
                    claimed_at = timezone.now()
                    _create_assignment(call, won, service, capability, unit.distance.m, claimed_at, actor=None,
                                       reason=_auto_reason(unit, capability), route=unit.leg)
                    return "assigned", (service, capability)
        return ("queued" if left_to_others else "unfillable"), (service, capability)


def _auto_reason(unit, capability):
    """Why this unit: stored in English, shown in the reader's language (core/texts.py)."""
    cap = f" with {capability}" if capability else ""
    leg = unit.leg
    if leg.basis == routing.ROAD:
        how = f"by road: ETA {_minutes(leg.eta_s)}, {leg.route_m:.0f} m"
        code, measures = "nearest_by_road", {"eta_s": round(leg.eta_s), "route_m": round(leg.route_m)}
    else:
        how = f"by air: {unit.distance.m:.0f} m, ETA ~{_minutes(leg.eta_s)} (no road route)"
        code, measures = "nearest_by_air", {"eta_s": round(leg.eta_s), "distance_m": round(unit.distance.m)}
    english = f"nearest available {unit.service} unit{cap} {how} (position fresh)"
    if capability:
        return said(code + "_with", english, service=unit.service, capability=capability, **measures)
    return said(code, english, service=unit.service, **measures)


def _minutes(seconds):
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _create_assignment(call, unit, service, capability, distance_m, now, actor, reason, route=None):
    """Insert the assignment for an already-claimed unit and record it. Holds call + unit."""
    unit.status = UnitStatus.DISPATCHED
    unit.status_changed_at = now
    assignment = Assignment.objects.create(
        call=call,
        unit=unit,
        status=AssignmentStatus.ASSIGNED,
        service=service,
        capability=capability,
        distance_m=distance_m,
        eta_s=route.eta_s if route else None,
        route_m=route.route_m if route else None,
        basis=route.basis if route else "",
        reason=reason,
        reason_code=code_of(reason),
        reason_params=params_of(reason),
        assigned_by=actor,
        assigned_at=now,
        ack_deadline=now + timedelta(seconds=settings.DISPATCH_ACK_TIMEOUT_S),
    )
    call_changed = refresh_call_status(call, now)
    if call_changed:
        call.save(update_fields=["status", "dispatched_at", "updated_at"])
    events = [
        ("assignment.created", {"call": call, "assignment": assignment, "actor": actor, "summary": reason}),
        ("unit.updated", {"unit": unit, "call": call, "actor": actor, "summary": said("dispatched_to", f"dispatched to {call.reference}", reference=call.reference)}),
    ]
    if call_changed:
        events.append(("call.updated", {"call": call, "actor": actor, "summary": said("call_status", f"status {call.status}", status=call.status)}))
    record_events(events)  # all built, then the journal lock once (core/journal.py)
    return assignment


def dispatch_call(call_id, in_order=False):
    """Fill the call's unmet plan lines; idempotent, safe to run concurrently.

    A line that a more urgent waiting call could use the same unit for is left to the
    waiting pass (asked for after commit), unless this is that pass (`in_order`).
    """
    now = timezone.now()
    skip, queued = set(), set()
    made = 0
    for _ in range(MAX_SLOTS_PER_PASS):
        outcome, line = _fill_one_slot(call_id, skip, in_order=in_order)
        if outcome == "done":
            break
        if outcome in ("unfillable", "queued"):
            skip.add(line)
            if outcome == "queued":
                queued.add(line)
        else:
            made += 1
    _finish_pass(call_id, now, queued=queued)
    if queued:
        request_dispatch(None)
    return made
