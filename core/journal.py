"""The event journal: the only way state changes are announced.

`record_event` runs inside the service's transaction and inserts one row that is both
the audit trail and the outbox of the live feed. After commit the row is published to
the channel layer, which is only a doorbell: it is at-most-once (docs/traps.md), so the
websocket consumer and the REST feed read the journal itself, and the sweep rings the
doorbell for the newest row, which makes every consumer read whatever it missed (a crash
or a Redis outage between commit and publish).

Ids in commit order. A bigserial is taken at insert, not at commit, so without care a
slow transaction makes id 104 visible after 105 and a client resuming "after 105" loses
104. Every insert first takes one transaction-level advisory lock, held until commit, so
journal inserts and commits happen one transaction at a time and ids become visible in
order. Services record their events as their last statements, all of a change at once
(record_events: representations built first, then the lock once and one INSERT), so the
lock is held briefly.
"""

import asyncio
import json
import logging
import os
import queue
import threading

from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from .models import Event
from .texts import code_of, params_of

log = logging.getLogger(__name__)

JOURNAL_LOCK_KEY = 112_000_001
FEED_GROUP = "events"


# The unit feed's doorbells (/ws/unit/): a unit's own rows ring its group, a call's rows
# the call's group, which the sockets of the units working that call join. With every
# crew's socket in FEED_GROUP each of them was handed every event of the city to throw
# away: 135 moving crews in the simulated day (sim/) made every socket, the operators' too,
# seconds late.
def unit_feed_group(unit_id):
    return f"events.unit.{unit_id}"


def call_feed_group(call_id):
    return f"events.call.{call_id}"


def unit_feed_groups(item):
    """The unit-feed groups a published item rings (item: see publish_events)."""
    groups = []
    if item.get("unit"):
        groups.append(unit_feed_group(item["unit"]))
    if item.get("call") and item["event"]["type"].startswith("call."):
        groups.append(call_feed_group(item["call"]))
    return groups

EVENT_TYPES = (
    "call.created",
    "call.updated",
    "assignment.created",
    "assignment.updated",
    "unit.updated",
    "alert.raised",
)


# How each kind of object is represented in its events: its REST representation, built by
# the app that owns the API (dispatch registers these in its AppConfig.ready). The journal
# itself knows no serializer, so every app can record events without importing the web face.
_representations = {}


def register_representation(prefix, build):
    """build(call=, unit=, assignment=) → the data of an event whose type starts with prefix."""
    _representations[prefix] = build


def _representation(type_, call, unit, assignment):
    for prefix, build in _representations.items():
        if type_.startswith(prefix):
            return build(call=call, unit=unit, assignment=assignment)
    raise ValueError(f"no representation registered for {type_}")


def record_event(type_, *, call=None, unit=None, assignment=None, actor=None, summary="", data=None):
    """Insert one journal row in the current transaction and publish it after commit."""
    return record_events([(type_, {"call": call, "unit": unit, "assignment": assignment, "actor": actor,
                                   "summary": summary, "data": data})])[0]


def record_events(items):
    """Insert the journal rows of one change together: [(type, {call=, unit=, assignment=,
    actor=, summary=, data=})] in order; returns the Event rows.

    Every representation is built first, and only then is the journal lock taken, once, for
    one multi-row INSERT: the lock is held to commit and serialises every writer of the
    journal, so nothing slow may run after it (bench/README.md found 88 % of the database
    waits on it). The ids are taken from the sequence under the lock, so each row's
    `previous_id` is the row before it, and the first row's the last one committed.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change it records")
    rows = []
    for type_, kw in items:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_}")
        call, unit, assignment = kw.get("call"), kw.get("unit"), kw.get("assignment")
        data = kw.get("data")
        if data is None:
            data = _representation(type_, call, unit, assignment)
        actor = kw.get("actor")
        if actor is not None and not getattr(actor, "is_authenticated", False):
            actor = None
        summary = kw.get("summary", "")
        rows.append(Event(type=type_, call=call, unit=unit or (assignment.unit if assignment is not None else None),
                          assignment=assignment, actor=actor, summary=str(summary), summary_code=code_of(summary),
                          summary_params=params_of(summary), data=_jsonable(data)))
    if not rows:
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [JOURNAL_LOCK_KEY])
        # A statement of its own after the lock: its snapshot sees every journal row
        # committed before we got the lock.
        cur.execute(
            "SELECT (SELECT max(id) FROM dispatch_event),"
            " ARRAY(SELECT nextval(pg_get_serial_sequence('dispatch_event', 'id')) FROM generate_series(1, %s))",
            [len(rows)],
        )
        previous_id, ids = cur.fetchone()
    at = timezone.now()
    for event, event_id in zip(rows, ids, strict=True):
        event.id, event.previous_id, event.at = event_id, previous_id, at
        previous_id = event_id
    Event.objects.bulk_create(rows)
    transaction.on_commit(lambda: publish_events(rows))
    return rows


def _jsonable(data):
    # DRF's ReturnDict holds datetimes as strings already; make sure of plain types.
    return json.loads(json.dumps(data, cls=JSONEncoder))


def event_message(event):
    """The wire form of an event (websocket and REST feed)."""
    return {"id": event.id, "type": event.type, "at": event.at.isoformat(), "data": event.data}


class _Publisher:
    """One long-lived event loop per process that rings the feed's doorbell.

    `async_to_sync(group_send)` per event made a new loop and a new Redis connection each
    time in Celery workers (and has leaked connections with channels-redis 4, docs/traps.md).
    Here commits only put messages on a queue; a daemon thread with its own loop drains it
    and sends everything that piled up as one group message. Publishing never blocks a
    request; a message lost here is recovered by the sweep's doorbell and the consumers'
    heartbeat, because every consumer reads gaps from the journal.
    """

    MAX_BATCH = 200
    SEND_TIMEOUT_S = 2.0
    # Doorbells waiting while Redis hangs (each send waits SEND_TIMEOUT_S). Past this the
    # oldest are dropped: a newer doorbell makes consumers read everything before it from
    # the journal anyway, so only memory would be lost by keeping them.
    MAX_QUEUED = 1000

    def __init__(self):
        self.queue = queue.Queue(self.MAX_QUEUED)
        self.lock = threading.Lock()
        self.pid = None
        self.dropped = 0

    def submit(self, items):
        with self.lock:
            if self.pid != os.getpid():  # first use, or a forked child (Celery prefork)
                self.queue = queue.Queue(self.MAX_QUEUED)
                threading.Thread(target=self._run, name="journal-publisher", daemon=True).start()
                self.pid = os.getpid()
        while True:
            try:
                self.queue.put_nowait(items)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    @staticmethod
    async def _send(layer, batch, by_group):
        await asyncio.gather(
            layer.group_send(FEED_GROUP, {"type": "journal.events", "events": batch}),
            *(layer.group_send(group, {"type": "journal.events", "events": items}) for group, items in by_group.items()),
        )

    def _run(self):
        # A daemon thread blocking on the queue, with a persistent loop of its own (the
        # channel layer keeps its Redis pool per loop, so the connection is reused). No
        # executor threads: those would keep a finishing process (a management command,
        # a worker shutting down) from exiting.
        loop = asyncio.new_event_loop()
        layer = get_channel_layer()
        while True:
            batch = list(self.queue.get())
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.extend(self.queue.get_nowait())
                except queue.Empty:
                    break
            by_group = {}
            for item in batch:
                for group in unit_feed_groups(item):
                    by_group.setdefault(group, []).append(item)
            try:
                loop.run_until_complete(asyncio.wait_for(self._send(layer, batch, by_group), self.SEND_TIMEOUT_S))
            except Exception as exc:  # Redis down or hanging: one line, not a traceback per batch
                log.warning("publishing %d events failed (%s: %s); consumers will read them from the journal",
                            len(batch), type(exc).__name__, exc)


_publisher = _Publisher()


def publish_events(events):
    """Ring the doorbell for committed events; returns at once, never raises."""
    if events and get_channel_layer() is not None:
        _publisher.submit([{"previous_id": e.previous_id, "event": event_message(e), "unit": e.unit_id, "call": e.call_id}
                           for e in events])


def ring_latest():
    """The sweep's doorbell: announce the newest journal row.

    A consumer that missed any earlier publish sees that the row's `previous_id` is not
    the last id it sent and reads the gap from the journal, so one message repairs any
    number of lost ones (a crash between commit and publish, a Redis outage).
    """
    latest = Event.objects.order_by("-id").first()
    if latest is not None:
        publish_events([latest])
    return latest.id if latest else None
