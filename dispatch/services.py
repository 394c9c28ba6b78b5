"""Writes that move calls, units and assignments through their state machines.

Lock order everywhere: the call, then the unit, then the assignment. Each service
re-reads under lock, checks the move against the tables in transitions.py (repeating a
move is a no-op that returns the current state), writes, and records one journal row
per changed object as its last statements.
"""

import logging

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from calls.models import Call, Disposition
from calls.statuses import CALL_TRANSITIONS, CallStatus
from core.errors import InvalidOperation, TransitionNotAllowed, UnitBusy
from core.journal import record_event, record_events
from core.requests import request_dispatch
from core.texts import code_of, params_of, said
from core.transitions import check_transition
from dispatch.statuses import ASSIGNMENT_TRANSITIONS, AssignmentStatus
from units.models import Unit
from units.statuses import UNIT_SELF_STATUSES, UNIT_TRANSITIONS, UnitStatus

from . import engine, routing
from .metrics import record_call_metrics
from .models import Assignment

logger = logging.getLogger(__name__)


def _lock(model, pk):
    return model.objects.select_for_update(of=("self",), no_key=True).get(pk=pk)


def _lock_assignment(assignment_id):
    """Lock call, unit and assignment of one assignment, in the house order."""
    ids = Assignment.objects.filter(pk=assignment_id).values("call_id", "unit_id").first()
    if ids is None:
        raise Assignment.DoesNotExist
    call = Call.objects.select_for_update(of=("self",), no_key=True).select_related("incident_type").get(pk=ids["call_id"])
    unit = _lock(Unit, ids["unit_id"])
    assignment = _lock(Assignment, assignment_id)
    assignment.call, assignment.unit = call, unit
    return call, unit, assignment


def _set_unit_status(unit, new, now):
    if check_transition(UNIT_TRANSITIONS, "unit", unit.status, new):
        unit.status = new
        unit.status_changed_at = now
        unit.save(update_fields=["status", "status_changed_at"])
        return True
    return False


def _end_assignment(call, unit, assignment, new_status, now, actor, reason="", unit_status=UnitStatus.AVAILABLE,
                    deferred=None):
    """Move an active assignment to an end state and free (or park) its unit.

    Its journal rows are recorded at once, or appended to `deferred` as (type, kwargs)
    for the caller to record after other slow work (see _end_call)."""
    check_transition(ASSIGNMENT_TRANSITIONS, "assignment", assignment.status, new_status)
    assignment.status = new_status
    assignment.ended_at = now
    assignment.end_reason = reason[:300]
    assignment.end_reason_code, assignment.end_reason_params = code_of(reason), params_of(reason)
    if new_status == AssignmentStatus.CLEARED:
        assignment.cleared_at = now
    assignment.save(update_fields=["status", "ended_at", "end_reason", "end_reason_code", "end_reason_params", "cleared_at"])
    unit_changed = False
    if unit.status in UnitStatus.BUSY:
        unit_changed = _set_unit_status(unit, unit_status, now)
    events = [("assignment.updated", {"call": call, "assignment": assignment, "actor": actor,
                                      "summary": _ended(new_status, reason)})]
    if unit_changed:
        events.append(("unit.updated", {"unit": unit, "call": call, "actor": actor,
                                        "summary": said("unit_status_after", f"{unit.status} ({new_status} on {call.reference})",
                                                        status=unit.status, assignment_status=new_status,
                                                        reference=call.reference)}))
    if deferred is None:
        _record(events)
    else:
        deferred.extend(events)
    return unit_changed


def _ended(status, reason):
    if not reason:
        return said("assignment_ended", status, status=status)
    return said("assignment_ended_because", f"{status} {reason}", status=status, reason=reason)


def _record(events):
    """All journal rows of a change at once: built first, then one lock and one INSERT."""
    record_events(events)


def _after_assignment_change(call, now, actor, reopen=False, events=()):
    """Re-derive the call status; when a need reopened, ask the engine to fill it.

    `events`: the change's journal rows so far, recorded here with the call's own (one
    journal lock, nothing built under it)."""
    events = list(events)
    changed = engine.refresh_call_status(call, now)
    if reopen and call.status in CallStatus.OPEN:
        call.dispatch_requested_at = now
        changed = True
    if changed:
        call.save(update_fields=["status", "dispatched_at", "dispatch_requested_at", "updated_at"])
        events.append(("call.updated", dict(call=call, actor=actor,
                                            summary=said("call_status", f"status {call.status}", status=call.status))))
    _record(events)
    if reopen:
        request_dispatch(call.id)


# --- crew actions (responder devices) -----------------------------------------------------------


def assignment_acknowledge(*, assignment_id, actor=None):
    with transaction.atomic():
        call, unit, assignment = _lock_assignment(assignment_id)
        if assignment.acknowledged_at is not None:
            return assignment  # already acknowledged (maybe arrived since): a phone's retry
        check_transition(ASSIGNMENT_TRANSITIONS, "assignment", assignment.status, AssignmentStatus.ACKNOWLEDGED)
        now = timezone.now()
        assignment.status = AssignmentStatus.ACKNOWLEDGED
        assignment.acknowledged_at = now
        assignment.save(update_fields=["status", "acknowledged_at"])
        _set_unit_status(unit, UnitStatus.EN_ROUTE, now)
        _record([("assignment.updated", dict(call=call, assignment=assignment, actor=actor,
                                             summary=said("acknowledged", "acknowledged"))),
                 ("unit.updated", dict(unit=unit, call=call, actor=actor, summary=said("en_route", "en route")))])
        return assignment


def assignment_decline(*, assignment_id, reason="", actor=None):
    with transaction.atomic():
        call, unit, assignment = _lock_assignment(assignment_id)
        if assignment.status == AssignmentStatus.DECLINED:
            return assignment
        now = timezone.now()
        events = []
        _end_assignment(call, unit, assignment, AssignmentStatus.DECLINED, now, actor,
                        reason or said("declined", "declined"), deferred=events)
        _after_assignment_change(call, now, actor, reopen=True, events=events)
    request_dispatch_waiting()
    return assignment


def assignment_arrive(*, assignment_id, actor=None):
    """On scene. A crew that arrives without having pressed 'acknowledge' acknowledges too."""
    with transaction.atomic():
        call, unit, assignment = _lock_assignment(assignment_id)
        if assignment.on_scene_at is not None:
            return assignment  # already arrived (maybe cleared since): a phone's retry
        now = timezone.now()
        if assignment.status == AssignmentStatus.ASSIGNED:
            assignment.status = AssignmentStatus.ACKNOWLEDGED
            assignment.acknowledged_at = now
            _set_unit_status(unit, UnitStatus.EN_ROUTE, now)
        check_transition(ASSIGNMENT_TRANSITIONS, "assignment", assignment.status, AssignmentStatus.ON_SCENE)
        assignment.status = AssignmentStatus.ON_SCENE
        assignment.on_scene_at = now
        assignment.save(update_fields=["status", "acknowledged_at", "on_scene_at"])
        _set_unit_status(unit, UnitStatus.ON_SCENE, now)
        if call.on_scene_at is None and call.status in CallStatus.OPEN:
            call.on_scene_at = now
            call.status = CallStatus.ON_SCENE
            call.save(update_fields=["on_scene_at", "status", "updated_at"])
            call_changed = True
        else:
            call_changed = False
        events = [("assignment.updated", dict(call=call, assignment=assignment, actor=actor,
                                              summary=said("on_scene", "on scene"))),
                  ("unit.updated", dict(unit=unit, call=call, actor=actor, summary=said("on_scene", "on scene")))]
        if call_changed:
            events.append(("call.updated", dict(call=call, actor=actor,
                                                summary=said("first_on_scene", "first unit on scene"))))
        _record(events)
        return assignment


def assignment_clear(*, assignment_id, transporting=False, actor=None):
    with transaction.atomic():
        call, unit, assignment = _lock_assignment(assignment_id)
        if assignment.status == AssignmentStatus.CLEARED:
            return assignment
        now = timezone.now()
        next_status = UnitStatus.TRANSPORTING if transporting else UnitStatus.AVAILABLE
        events = []
        _end_assignment(call, unit, assignment, AssignmentStatus.CLEARED, now, actor,
                        said("transporting", "transporting") if transporting else "", unit_status=next_status,
                        deferred=events)
        _after_assignment_change(call, now, actor, events=events)
    if not transporting:
        request_dispatch_waiting()
    return assignment


# --- operator actions -------------------------------------------------------------------------


def assignment_cancel(*, assignment_id, reason="", actor=None):
    with transaction.atomic():
        call, unit, assignment = _lock_assignment(assignment_id)
        if assignment.status == AssignmentStatus.CANCELLED:
            return assignment
        now = timezone.now()
        events = []
        _end_assignment(call, unit, assignment, AssignmentStatus.CANCELLED, now, actor,
                        reason or said("cancelled_by_operator", "cancelled by operator"), deferred=events)
        _after_assignment_change(call, now, actor, reopen=True, events=events)
    request_dispatch_waiting()
    return assignment


def assign_unit(*, call_id, unit_id, actor=None):
    """An operator sends a specific unit; 409 if it cannot go now."""
    with transaction.atomic():
        call = Call.objects.select_for_update(of=("self",), no_key=True).select_related("incident_type").get(pk=call_id)
        if call.status not in CallStatus.OPEN:
            raise InvalidOperation(_call_is(call))
        unit = _lock(Unit, unit_id)
        existing = call.assignments.filter(unit=unit, status__in=AssignmentStatus.ACTIVE).first()
        if existing is not None:
            return existing  # already on this call: a repeated request
        if unit.status != UnitStatus.AVAILABLE:
            raise UnitBusy(gettext("Unit %(callsign)s is %(status)s, not available.")
                           % {"callsign": unit.callsign, "status": UnitStatus.LABELS[unit.status]})
        now = timezone.now()
        service, capability = _line_for(call, unit)
        distance = _geodesic_m(call, unit) if call.location is not None and unit.location is not None else None
        Unit.objects.filter(pk=unit.pk).update(status=UnitStatus.DISPATCHED, status_changed_at=now)
        user = actor.get_username() if actor else "operator"
        reason = said("assigned_by", f"assigned by {user}", user=user)
        route = None
        if distance is not None:
            route = routing.travel_times(call.location, [unit.location])[0]
            reason = said("assigned_by_eta",
                          f"{reason}, ETA {engine._minutes(route.eta_s)} ({route.basis.replace('_', ' ')})",
                          user=user, eta_s=route.eta_s, basis=route.basis)
        return engine._create_assignment(call, unit, service, capability, distance, now, actor, reason, route=route)


def _call_is(call):
    """The 409 text of an action on an ended call, in the user's language."""
    return gettext("Call %(reference)s is %(status)s.") % {"reference": call.reference,
                                                            "status": CallStatus.LABELS[call.status]}


def _geodesic_m(call, unit):
    from django.contrib.gis.db.models.functions import Distance

    row = Unit.objects.filter(pk=unit.pk).annotate(d=Distance("location", call.location)).values_list("d", flat=True).first()
    return row.m if row is not None else None


def _line_for(call, unit):
    """The plan line a manually assigned unit covers: an open one it can serve, else an extra."""
    for service, capability, _missing in engine.plan_gaps(call):
        if service == unit.service and (not capability or capability in unit.capabilities):
            return service, capability
    return unit.service, ""


def call_release(*, call_id, actor=None):
    """Release a hold (possible duplicate) and run dispatch again."""
    with transaction.atomic():
        call = Call.objects.select_for_update(of=("self",), no_key=True).get(pk=call_id)
        if call.status not in CallStatus.OPEN:
            raise InvalidOperation(_call_is(call))
        call.hold_reason = ""
        call.dispatch_requested_at = timezone.now()
        call.save(update_fields=["hold_reason", "dispatch_requested_at", "updated_at"])
        record_event("call.updated", call=call, actor=actor, summary=said("released", "released for dispatch"))
        request_dispatch(call.id)
        return call


def _end_call(call, new_status, now, actor):
    """Free every unit of a call that is ending; on-scene crews are cleared, others cancelled.

    Returns (units freed, the journal rows to record). The caller saves the call and
    measures it (_save_ended) before recording them: the first journal row takes the
    journal lock, held to commit, and measuring must not run under it."""
    check_transition(CALL_TRANSITIONS, "call", call.status, new_status)
    active = list(call.assignments.filter(status__in=AssignmentStatus.ACTIVE).order_by("unit_id"))
    # Every row lock first (units in id order, then their assignments), and only then the
    # writes and journal rows: record_event takes the journal lock, and waiting for a unit
    # row while holding it would deadlock with anyone who holds that unit and records.
    locked = [(_lock(Unit, a.unit_id), a) for a in active]
    locked = [(unit, _lock(Assignment, a.pk)) for unit, a in locked]
    freed, events = False, []
    for unit, assignment in locked:
        end = AssignmentStatus.CLEARED if assignment.status == AssignmentStatus.ON_SCENE else AssignmentStatus.CANCELLED
        freed |= _end_assignment(call, unit, assignment, end, now, actor,
                                  said("call_ended", f"call {new_status}", status=new_status), deferred=events)
    call.status = new_status
    call.closed_at = now
    call.unmet_needs = []
    call.dispatch_requested_at = None
    return freed, events


def _save_ended(call):
    call.save()
    # An ended call never changes again: its response-time facts are measured now and
    # commit with the ending (dispatch/metrics.py). Callers record the ending's journal
    # rows only after this, so the journal lock is not held while measuring.
    # Statistics must never stop an operator closing a call: if measuring fails, its
    # savepoint is rolled back, the call ends anyway, and beat's repair measures it later.
    try:
        record_call_metrics([call.pk])
    except DatabaseError:
        logger.exception("measuring call %s failed; the metrics repair will retry", call.pk)


def call_close(*, call_id, disposition, notes="", actor=None):
    with transaction.atomic():
        call = Call.objects.select_for_update(of=("self",), no_key=True).get(pk=call_id)
        if call.status == CallStatus.CLOSED:
            return call
        if disposition not in Disposition.values:
            raise InvalidOperation(gettext("Unknown disposition %(disposition)s.") % {"disposition": repr(disposition)})
        now = timezone.now()
        freed, events = _end_call(call, CallStatus.CLOSED, now, actor)
        call.disposition = disposition
        _save_ended(call)
        events.append(("call.updated", dict(call=call, actor=actor, summary=said("closed_notes", f"closed: {disposition} {notes}".strip(), disposition=disposition, text=notes) if notes
                     else said("closed", f"closed: {disposition}", disposition=disposition))))
        _record(events)
    if freed:
        request_dispatch_waiting()
    return call


def call_cancel(*, call_id, reason="", actor=None):
    with transaction.atomic():
        call = Call.objects.select_for_update(of=("self",), no_key=True).get(pk=call_id)
        if call.status == CallStatus.CANCELLED:
            return call
        now = timezone.now()
        freed, events = _end_call(call, CallStatus.CANCELLED, now, actor)
        call.disposition = Disposition.CANCELLED
        _save_ended(call)
        events.append(("call.updated", dict(call=call, actor=actor, summary=said("cancelled_because", f"cancelled {reason}".strip(), text=reason) if reason
                     else said("cancelled", "cancelled"))))
        _record(events)
    if freed:
        request_dispatch_waiting()
    return call


def call_merge(*, call_id, into_id, actor=None):
    """Merge a duplicate into the call that is being worked; its units are freed."""
    if call_id == into_id:
        raise InvalidOperation(gettext("A call cannot be merged into itself."))
    with transaction.atomic():
        # Two calls: lock in id order so two opposite merges cannot deadlock.
        locked = {c.pk: c for c in Call.objects.select_for_update(of=("self",), no_key=True).filter(pk__in=[call_id, into_id]).order_by("pk")}
        call, into = locked[call_id], locked[into_id]
        if call.status == CallStatus.MERGED:
            if call.merged_into_id == into_id:
                return call  # a repeated request
            # An ended call never changes (its metrics are final): no second merge elsewhere.
            raise InvalidOperation(gettext("Call %(reference)s is already merged into another call.")
                                   % {"reference": call.reference})
        if into.status not in CallStatus.OPEN:
            raise InvalidOperation(gettext("Call %(reference)s is %(status)s; merge into an open call.")
                                   % {"reference": into.reference, "status": CallStatus.LABELS[into.status]})
        now = timezone.now()
        freed, events = _end_call(call, CallStatus.MERGED, now, actor)
        call.merged_into = into
        call.disposition = Disposition.DUPLICATE
        _save_ended(call)
        events.append(("call.updated", dict(call=call, actor=actor, summary=said("merged_into", f"merged into {into.reference}", reference=into.reference))))
        _record(events)
    if freed:
        request_dispatch_waiting()
    return call


# --- unit status from the device --------------------------------------------------------------


def unit_set_status(*, unit_id, status, actor=None):
    """A crew sets available / out_of_service / transporting."""
    if status not in UNIT_SELF_STATUSES:
        raise InvalidOperation(gettext("A crew may set only %(statuses)s.") % {"statuses": ", ".join(UNIT_SELF_STATUSES)})
    with transaction.atomic():
        unit = _lock(Unit, unit_id)
        if unit.status == status:
            return unit
        if unit.assignments.filter(status__in=AssignmentStatus.ACTIVE).exists():
            raise TransitionNotAllowed(
                gettext("Unit %(callsign)s has an active assignment; acknowledge, decline or clear it first.")
                % {"callsign": unit.callsign}
            )
        now = timezone.now()
        _set_unit_status(unit, status, now)
        by = "crew" if actor is not None and getattr(actor, "unit", None) == unit else "supervisor"
        record_event("unit.updated", unit=unit, actor=actor, summary=said(f"{by}_set_status", f"{by} set {status}", status=status))
    if status == UnitStatus.AVAILABLE:
        request_dispatch_waiting()
    return unit


def request_dispatch_waiting():
    """A unit became free: waiting calls are served, most urgent first (after commit)."""
    request_dispatch(None)


# --- the sweep's timers ---------------------------------------------------------------------


def assignment_time_out(*, assignment_id):
    """No acknowledgement in time: the unit is unreachable until its device says otherwise."""
    with transaction.atomic():
        call, unit, assignment = _lock_assignment(assignment_id)
        now = timezone.now()
        if assignment.status != AssignmentStatus.ASSIGNED or assignment.ack_deadline is None or assignment.ack_deadline > now:
            return False
        events = []
        _end_assignment(call, unit, assignment, AssignmentStatus.TIMED_OUT, now, None,
                        said("ack_missed", "no acknowledgement in time"), unit_status=UnitStatus.UNREACHABLE,
                        deferred=events)
        events.append(("alert.raised", dict(
            call=call,
            unit=unit,
            summary=said("ack_timeout", f"{unit.callsign} did not acknowledge", callsign=unit.callsign),
            data={"kind": "ack_timeout", "call": call.id, "reference": call.reference, "unit": unit.id,
                  "callsign": unit.callsign, "assignment": assignment.id},
        )))
        _after_assignment_change(call, now, None, reopen=True, events=events)
        return True


def expire_acknowledgements(limit=200):
    now = timezone.now()
    due = Assignment.objects.filter(status=AssignmentStatus.ASSIGNED, ack_deadline__lte=now).order_by("ack_deadline")
    expired = 0
    for assignment_id in due.values_list("id", flat=True)[:limit]:
        expired += bool(assignment_time_out(assignment_id=assignment_id))
    return expired
