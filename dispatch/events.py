"""The event journal: the only way state changes are announced.

`record_event` runs inside the service's transaction and inserts one row that is both
the audit trail and the outbox of the live feed. After commit the row is published to
the channel layer, which is only a doorbell: it is at-most-once (PITFALLS.md), so the
websocket consumer and the REST feed read the journal itself, and the sweep republishes
rows whose publish never happened (a crash or a Redis outage between commit and publish).

Ids in commit order. A bigserial is taken at insert, not at commit, so without care a
slow transaction makes id 104 visible after 105 and a client resuming "after 105" loses
104. Every insert first takes one transaction-level advisory lock, held until commit, so
journal inserts and commits happen one transaction at a time and ids become visible in
order. Services call record_event as their last statement so the lock is held briefly.
"""

import json
import logging
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from .models import Event

log = logging.getLogger(__name__)

JOURNAL_LOCK_KEY = 112_000_001
FEED_GROUP = "events"

EVENT_TYPES = (
    "call.created",
    "call.updated",
    "assignment.created",
    "assignment.updated",
    "unit.updated",
    "alert.raised",
)


def _representation(type_, call, unit, assignment):
    # Imported here: serializers import the models of every app, and this module is
    # imported by calls and units services.
    from .serializers import AssignmentSerializer, CallSerializer, UnitSerializer

    if type_.startswith("call."):
        return CallSerializer(call).data
    if type_.startswith("assignment."):
        return AssignmentSerializer(assignment).data
    if type_.startswith("unit."):
        return UnitSerializer(unit).data
    raise ValueError(f"no representation for {type_}")


def record_event(type_, *, call=None, unit=None, assignment=None, actor=None, summary="", data=None):
    """Insert one journal row in the current transaction and publish it after commit."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_}")
    if not connection.in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change it records")
    if data is None:
        data = _representation(type_, call, unit, assignment)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [JOURNAL_LOCK_KEY])
        cur.execute("SELECT max(id) FROM dispatch_event")
        (previous_id,) = cur.fetchone()
    event = Event.objects.create(
        previous_id=previous_id,
        type=type_,
        at=timezone.now(),
        call=call,
        unit=unit or (assignment.unit if assignment is not None else None),
        assignment=assignment,
        actor=actor,
        summary=summary[:300],
        data=_jsonable(data),
    )
    transaction.on_commit(lambda: publish_events([event]))
    return event


def _jsonable(data):
    # DRF's ReturnDict holds datetimes as strings already; make sure of plain types.
    from rest_framework.utils.encoders import JSONEncoder

    return json.loads(json.dumps(data, cls=JSONEncoder))


def event_message(event):
    """The wire form of an event (websocket and REST feed)."""
    return {"id": event.id, "type": event.type, "at": event.at.isoformat(), "data": event.data}


def publish_events(events):
    """Ring the doorbell for committed events; never raises (the sweep retries)."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    try:
        for event in events:
            async_to_sync(layer.group_send)(
                FEED_GROUP,
                {"type": "journal.event", "previous_id": event.previous_id, "event": event_message(event)},
            )
    except Exception:  # Redis down: the rows stay unpublished and the sweep retries.
        log.warning("publishing events %s failed; the sweep will retry", [e.id for e in events], exc_info=True)
        return
    Event.objects.filter(id__in=[e.id for e in events]).update(published_at=timezone.now())


def republish_unpublished(older_than_s=2.0, limit=500):
    """Publish journal rows that committed but never reached the channel layer."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    events = list(Event.objects.filter(published_at__isnull=True, at__lt=cutoff).order_by("id")[:limit])
    publish_events(events)
    return len(events)


# --- asking the engine to look at calls ----------------------------------------------------

_broker_down_until = 0.0


def request_dispatch(call_id=None):
    """Ask a worker, after commit, to fill a call's needs (or all waiting calls).

    The database is the record: the caller has already set `dispatch_requested_at` (or
    the call has unmet needs), so the beat sweep finds the call even if this message is
    lost. The broker is therefore asked best-effort, with a short timeout, and not at all
    for a few seconds after it failed, so that requests never queue up behind a dead Redis.
    """
    transaction.on_commit(lambda: _send_dispatch(call_id))


def _send_dispatch(call_id):
    import time

    from config.celery import app

    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return
    try:
        if call_id is None:
            app.send_task("dispatch.tasks.dispatch_waiting", retry=False)
        else:
            app.send_task("dispatch.tasks.dispatch_call", args=[call_id], retry=False)
    except Exception:
        _broker_down_until = time.monotonic() + 5.0
        log.warning("broker unreachable; call %s will be dispatched by the sweep", call_id, exc_info=True)
