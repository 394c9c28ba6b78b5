"""The waiting pass: every call that still needs units, served in order of priority then
age (SPEC rule 3), whenever a unit comes free and on every sweep.

It pages through the waiting calls and lets the engine (dispatch/engine.py) fill each
one; a unit that comes free mid-round sends it back to the top. One pass runs at a time
(a session advisory lock), and a request that finds the lock taken is counted, so the
holder goes round again before it lets go.
"""

import time
from datetime import timedelta

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from calls.models import Call
from calls.statuses import CallStatus
from units.models import Unit
from units.statuses import UnitStatus

from .engine import REASON_QUEUED, _finish_pass, dispatch_call, fresh_cutoff

# A call asked for dispatch less than this long ago is left to its own task.
OWN_TASK_GRACE = timedelta(seconds=2)
WAITING_PAGE = 200
# One waiting pass stops after this long; what it did not reach keeps its request flag
# and unmet needs, and the next pass (the sweep's, every few seconds) goes on from the top.
WAITING_PASS_BUDGET_S = 20.0
WAITING_PASS_LOCK_KEY = 112_000_003


def _waiting_page(after, grace):
    """Open, located, unheld calls that need the engine (unmet needs, or their own request
    older than the grace period: a lost task), most urgent then oldest, after `after`."""
    qs = Call.objects.filter(status__in=CallStatus.OPEN, location__isnull=False, hold_reason="").filter(
        Q(dispatch_requested_at__lte=timezone.now() - grace) | ~Q(unmet_needs=[])
    )
    if after is not None:
        priority, received_at, pk = after
        qs = qs.filter(
            Q(priority__gt=priority)
            | Q(priority=priority, received_at__gt=received_at)
            | Q(priority=priority, received_at=received_at, id__gt=pk)
        )
    return qs.order_by("priority", "received_at", "id")[:WAITING_PAGE]


def free_units(now=None):
    """(ids of available units, {service: [capability sets]} of those the engine may
    choose: located and fresh), from one read of the available units."""
    ids, capacity = set(), {}
    choosable = ExpressionWrapper(
        Q(location__isnull=False, location_recorded_at__gte=fresh_cutoff(now)), output_field=BooleanField()
    )
    rows = Unit.objects.filter(status=UnitStatus.AVAILABLE).values_list(
        "id", "service", "capabilities", choosable
    )
    for unit_id, service, capabilities, fresh in rows:
        ids.add(unit_id)
        if fresh:
            capacity.setdefault(service, []).append(set(capabilities))
    return ids, capacity


def _could_be_served(unmet_needs, capacity):
    for need in unmet_needs:
        if need.get("reason") == REASON_QUEUED:
            return True  # it was left to a more urgent call: look again (a unit, or all_busy)
        capability = need.get("capability")
        if any(not capability or capability in caps for caps in capacity.get(need.get("service"), ())):
            return True
    return False


class _PassLock:
    """One waiting pass at a time (session advisory lock): passes asked for by every freed
    unit would otherwise run side by side over the same calls."""

    def __enter__(self):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [WAITING_PASS_LOCK_KEY])
            self.held = cur.fetchone()[0]
        return self.held

    def __exit__(self, *exc):
        if self.held:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [WAITING_PASS_LOCK_KEY])


def dispatch_waiting(grace=OWN_TASK_GRACE, budget_s=WAITING_PASS_BUDGET_S):
    """Serve every waiting call, in order of priority then age (SPEC rule 3).

    Paged by (priority, received_at, id), so no call is out of reach however many wait.
    A call is tried when its own request is pending (new, or its task was lost) or when
    some available unit could serve one of its unmet lines; the others cost nothing
    (a cold snap's hundreds of heating calls with no utility crew free). A request is
    only cleared by trying its call. A unit that comes free while a round runs sends it
    back to the top, since the calls already passed come first. Returns the number of
    units assigned, or None when another pass holds the lock: that pass was told (the
    request counter) and goes round again before it lets go.
    """
    deadline = time.monotonic() + budget_s
    # Counted before trying the lock: a holder that checks the counter after unlocking
    # cannot miss a request that failed to get the lock.
    _count_request()
    served = None
    while True:
        with _PassLock() as held:
            if not held:
                return served
            seen = _requests_counted()
            made, complete = _one_waiting_round(grace, deadline)
            served = (served or 0) + made
            _finish_undispatchable(grace)
        # Asked for again meanwhile (its requester found the lock taken): go round again.
        if not complete or _requests_counted() == seen or time.monotonic() > deadline:
            return served


def _count_request():
    with connection.cursor() as cur:
        cur.execute("SELECT nextval('dispatch_waiting_request_seq')")


def _requests_counted():
    with connection.cursor() as cur:
        cur.execute("SELECT last_value FROM dispatch_waiting_request_seq")
        return cur.fetchone()[0]


def _one_waiting_round(grace, deadline):
    """(units assigned, whether every waiting call was looked at)."""
    made, after = 0, None
    known, capacity = free_units()
    while True:
        page = list(_waiting_page(after, grace).values("id", "priority", "received_at", "unmet_needs",
                                                        "dispatch_requested_at"))
        restart = False
        for row in page:
            if time.monotonic() > deadline:
                return made, False
            if row["dispatch_requested_at"] is not None or _could_be_served(row["unmet_needs"], capacity):
                made += dispatch_call(row["id"], in_order=True)
                free, capacity = free_units()
                # A crew came free: the calls already passed are more urgent than the
                # rest, so they get the first look at it.
                restart = bool(free - known)
                known = free
                if restart:
                    break
        if restart:
            after = None
            continue
        if len(page) < WAITING_PAGE:
            return made, True
        last = page[-1]
        after = (last["priority"], last["received_at"], last["id"])


def _finish_undispatchable(grace):
    """Calls asked for that the engine cannot serve (no location, held, ended) get their
    request cleared and their reasons recorded; dispatchable ones never are, untried."""
    stale = Call.objects.filter(dispatch_requested_at__lte=timezone.now() - grace).exclude(
        status__in=CallStatus.OPEN, location__isnull=False, hold_reason=""
    )
    for call_id in stale.values_list("id", flat=True)[:WAITING_PAGE]:
        _finish_pass(call_id, timezone.now())
