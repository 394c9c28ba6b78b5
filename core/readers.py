"""Journal readers: side effects that follow the journal, each from its own cursor.

The websocket feed is for screens; everything else that must happen because something
happened (a partner system told, a notification sent) is a reader. A reader is a name
and a function; the runner hands it the journal rows after its cursor, oldest first,
and moves the cursor only after the function returned. So a reader gets every event, in
journal order, at least once: after a crash between its work and the cursor's update it
sees the same rows again, and must treat the event id as its de-duplication key.

Journal ids become visible in commit order (core/journal.py), so "the rows after my
cursor" never skips a row that commits late.

A failing reader is retried with exponential back-off (2, 4, 8 … seconds, at most
JOURNAL_READER_BACKOFF_MAX_S) and holds up no other reader: beat starts one task per due
reader every JOURNAL_READERS_INTERVAL_S (core/tasks.py), each run is bounded by
READER_BUDGET_S, and a session advisory lock per reader lets only one run at a time
anywhere. No database transaction is open while a reader works (it may call the network).

Adding one, in the owning app's AppConfig.ready:

    from core import readers
    readers.register("sms-on-assignment", send_sms, types={"assignment.created"})

where `send_sms(events)` takes a list of core.models.Event and either returns None (all
handled) or the id of the last event it handled (the cursor stops there; the rest come
again in the next run), or raises (nothing is taken as handled; retried after back-off).
A new reader starts at the live edge (events recorded after its first run), or at the
journal's beginning with `start="beginning"`. A handler that got part way and then failed
raises `Stopped(last_handled_id, cause)`: the cursor keeps the progress and the failure
backs off as any other.

A family is a set of readers whose list lives in the database (one per partner system's
subscription, integrations/): `register_family("webhook:", names=..., reader_for=...)`,
where `names()` gives the members' full names ("webhook:12") and `reader_for(name)` builds
the member's Reader (`make_reader(...)`), or None when it no longer exists. The runner,
`due_readers()` and `reader_status()` treat members like registered readers, each with its
own cursor row, back-off and lock.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone

from .models import Event, JournalReader

log = logging.getLogger(__name__)

READER_LOCK_CLASS = 112_000_100  # advisory lock (class, hashtext(name)) per reader
READER_BUDGET_S = 5.0


@dataclass(frozen=True)
class Reader:
    name: str
    handle: object
    types: frozenset | None = None  # None: every event type
    batch: int = 100
    start: str = "live"

    def wants(self, event):
        return self.types is None or event.type in self.types


_registry = {}


class Stopped(Exception):
    """Raised by a handler that handled the events up to `handled_id`, then failed."""

    def __init__(self, handled_id, cause):
        super().__init__(str(cause))
        self.handled_id = handled_id
        self.cause = cause


def make_reader(name, handle, *, types=None, batch=100, start="live"):
    if start not in ("live", "beginning"):
        raise ValueError("start must be 'live' or 'beginning'")
    if not 1 <= batch <= 10_000:
        raise ValueError("batch must be between 1 and 10000")
    return Reader(name, handle, frozenset(types) if types is not None else None, batch, start)


def register(name, handle, *, types=None, batch=100, start="live"):
    _registry[name] = make_reader(name, handle, types=types, batch=batch, start=start)


def unregister(name):
    _registry.pop(name, None)


def registered():
    return dict(_registry)


@dataclass(frozen=True)
class Family:
    prefix: str
    names: object  # () -> iterable of member names, each starting with prefix
    reader_for: object  # (name) -> Reader or None


_families = {}


def register_family(prefix, *, names, reader_for):
    if not prefix:
        raise ValueError("a family needs a prefix")
    _families[prefix] = Family(prefix, names, reader_for)


def unregister_family(prefix):
    _families.pop(prefix, None)


def _lookup(name):
    reader = _registry.get(name)
    if reader is not None:
        return reader
    for prefix, family in _families.items():
        if name.startswith(prefix):
            return family.reader_for(name)
    return None


def all_names():
    """Registered readers, then every family's current members."""
    names = list(_registry)
    for family in _families.values():
        names.extend(n for n in family.names() if n not in _registry)
    return names


def backoff_s(failures):
    return min(settings.JOURNAL_READER_BACKOFF_MAX_S, 2 ** min(failures, 20))


def due_readers(now=None):
    """Names of the registered readers that may run now (not paused, not backing off)."""
    now = now or timezone.now()
    names = all_names()
    held_back = set(
        JournalReader.objects.filter(name__in=names)
        .filter(Q(paused=True) | Q(next_attempt_at__gt=now)).values_list("name", flat=True)
    )
    return [name for name in names if name not in held_back]


class _ReaderLock:
    def __init__(self, name):
        self.name = name
        self.held = False

    def __enter__(self):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [READER_LOCK_CLASS, self.name])
            self.held = cur.fetchone()[0]
        return self.held

    def __exit__(self, *exc):
        if self.held:
            try:
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [READER_LOCK_CLASS, self.name])
            except Exception:  # the connection is gone, and the lock with it
                log.info("reader %s: lock released with its connection", self.name)


def _cursor_row(reader):
    row = JournalReader.objects.filter(pk=reader.name).first()
    if row is None:
        start = 0 if reader.start == "beginning" else (Event.objects.aggregate(m=Max("id"))["m"] or 0)
        JournalReader.objects.get_or_create(pk=reader.name, defaults={"last_id": start})
        row = JournalReader.objects.get(pk=reader.name)
    return row


def run(name, *, budget_s=READER_BUDGET_S):
    """One bounded run of a reader: "ok", "busy" (running elsewhere), "waiting", "failed"."""
    if connection.in_atomic_block:
        raise RuntimeError("a journal reader must not run inside a transaction")
    reader = _lookup(name)
    if reader is None:
        return "unknown"
    with _ReaderLock(name) as got:
        if not got:
            return "busy"
        state = _cursor_row(reader)
        if state.paused or (state.next_attempt_at and state.next_attempt_at > timezone.now()):
            return "waiting"
        deadline = time.monotonic() + budget_s
        while True:
            rows = list(Event.objects.filter(id__gt=state.last_id).order_by("id")[: reader.batch])
            if not rows:
                return "ok"
            wanted = [event for event in rows if reader.wants(event)]
            try:
                handled = reader.handle(wanted) if wanted else None
            except Stopped as stop:
                if stop.handled_id is not None and state.last_id < int(stop.handled_id) <= rows[-1].id:
                    JournalReader.objects.filter(pk=name).update(last_id=int(stop.handled_id),
                                                                 last_success_at=timezone.now())
                    state.last_id, state.failures = int(stop.handled_id), 0  # progress: back-off anew
                _failed(state, stop.cause)
                return "failed"
            except Exception as exc:
                _failed(state, exc)
                return "failed"
            last = rows[-1].id if handled is None else int(handled)
            if last < state.last_id or last > rows[-1].id:
                _failed(state, ValueError(f"handler returned {handled}, outside {state.last_id}..{rows[-1].id}"))
                return "failed"
            JournalReader.objects.filter(pk=name).update(
                last_id=last, failures=0, last_error="", last_success_at=timezone.now(), next_attempt_at=None
            )
            state.last_id, state.failures = last, 0
            if last < rows[-1].id or time.monotonic() >= deadline:
                return "ok"  # partly handled, or out of time: the next run goes on


def _failed(state, exc):
    failures = state.failures + 1
    wait = backoff_s(failures)
    log.warning("journal reader %s failed after event %s (%d in a row, next try in %d s): %s: %s",
                state.name, state.last_id, failures, wait, type(exc).__name__, exc)
    JournalReader.objects.filter(pk=state.name).update(
        failures=failures, last_error=f"{type(exc).__name__}: {exc}"[:2000],
        next_attempt_at=timezone.now() + timedelta(seconds=wait),
    )


def reader_status():
    """[{name, last_id, lag, failures, last_error, last_success_at, next_attempt_at, paused}]."""
    newest = Event.objects.aggregate(m=Max("id"))["m"] or 0
    names = all_names()
    rows = {r.name: r for r in JournalReader.objects.filter(name__in=names)}
    out = []
    for name in sorted(names):
        row = rows.get(name)
        out.append({
            "name": name,
            "last_id": row.last_id if row else None,
            "lag": newest - row.last_id if row else None,
            "failures": row.failures if row else 0,
            "last_error": row.last_error if row else "",
            "last_success_at": row.last_success_at if row else None,
            "next_attempt_at": row.next_attempt_at if row else None,
            "paused": row.paused if row else False,
        })
    return out
