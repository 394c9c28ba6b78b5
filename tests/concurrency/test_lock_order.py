"""Intake never deadlocks with the engine (issue 13, item 0).

The journal lock is taken by each writing transaction's first event and held to commit.
A transaction that, after taking it, waits for a row another transaction holds while
that one waits for the journal lock is a deadlock: PostgreSQL kills one of them, and if
it is the intake, the caller's call is refused with a 500. The hidden case was a
deferred foreign key: a new call marked as a possible duplicate of call A checks, at
COMMIT (after its journal row), that A exists by taking KEY SHARE on A's row, which the
engine held FOR UPDATE while waiting for the journal lock. Row locks on calls and units
are FOR NO KEY UPDATE now (no id ever changes), which KEY SHARE does not wait for.
The other deferred keys cannot wait on another transaction: an assignment's unit is
already locked by the transaction's own claim, and journal rows carry no constraints
to calls, units or assignments.
"""

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from django.contrib.gis.geos import Point
from django.db import connection, transaction

from calls.models import Call
from calls.services import call_update
from core.journal import JOURNAL_LOCK_KEY, record_event
from core.models import Event
from dispatch import engine, waiting
from dispatch import services as dispatch_services
from dispatch.models import Assignment
from tests.conftest import point
from tests.factories import UnitFactory, new_call
from tests.realtime.test_faults import _dsn
from units import services as unit_services
from units.models import Unit

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def _engine_holding(call_id):
    """What the engine does in a slot, in another thread: lock the call row, work, then
    record events (the journal lock). The body runs while the row is held; on leaving,
    the engine's errors are returned in the yielded list."""
    locked, errors = threading.Event(), []

    def slot():
        try:
            with transaction.atomic():
                call = engine._lock_call(call_id)
                locked.set()
                time.sleep(0.3)  # the other side is now past its journal row and committing
                record_event("call.updated", call=call, summary="engine slot")
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=slot)
    thread.start()
    assert locked.wait(10)
    try:
        yield errors
    finally:
        thread.join(20)


def test_a_possible_duplicate_is_stored_while_the_engine_holds_the_first_call():
    first = new_call("cardiac_arrest", lat=51.128, lon=71.430, accuracy=200)
    with _engine_holding(first.pk) as errors:
        # 400 m away, each ±200 m: a possible duplicate of the first call (flagged; P1 is not held).
        second = new_call("cardiac_arrest", lat=51.1316, lon=71.430, accuracy=200)
    assert errors == []
    assert list(second.possible_duplicates.values_list("id", flat=True)) == [first.pk]


def test_a_located_update_that_finds_a_duplicate_never_deadlocks_with_the_engine():
    first = new_call("gas_leak", lat=51.128, lon=71.430, accuracy=20)
    second = new_call("gas_leak", lat=None)
    with _engine_holding(first.pk) as errors, transaction.atomic():
        call_update(call_id=second.pk, actor=None, changes={},
                    location={"point": Point(71.4301, 51.1281, srid=4326), "accuracy_m": 10})
    assert errors == []
    second.refresh_from_db()
    assert list(second.possible_duplicates.values_list("id", flat=True)) == [first.pk]


def test_a_position_event_never_publishes_a_unit_state_older_than_the_journal_before_it():
    """Issue 13, item 4: the fast path's journal row was built from an unlocked read, so a
    dispatch committing meanwhile was followed by a row showing the unit still available."""
    unit = UnitFactory(service="medical", capabilities=["als"])
    call = new_call("cardiac_arrest")
    claimed, errors = threading.Event(), []

    def dispatch_slot():
        try:
            with transaction.atomic():
                locked = engine._lock_call(call.pk)
                Unit.objects.filter(pk=unit.pk, status="available").update(status="dispatched")
                record_event("unit.updated", unit=Unit.objects.get(pk=unit.pk), call=locked, summary="dispatched")
                claimed.set()
                time.sleep(0.5)  # holding the journal lock: the position publish reads the unit now
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=dispatch_slot)
    thread.start()
    assert claimed.wait(10)
    unit_services.unit_publish_position(unit_id=unit.pk)
    thread.join(20)
    assert errors == []
    last = Event.objects.filter(type="unit.updated", unit_id=unit.pk).order_by("-id").first()
    assert last.summary == "position" and last.data["status"] == "dispatched"


def _holds_journal_lock():
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                    "AND ((classid::bigint << 32) | objid::bigint) = %s", [JOURNAL_LOCK_KEY])
        return cur.fetchone()[0] > 0


@pytest.mark.parametrize("end", ["close", "cancel", "merge"])
def test_an_ending_call_is_measured_before_the_journal_lock_is_taken(monkeypatch, end):
    """Issue 13, item 5: the metrics SQL ran while every other writer waited on the lock."""
    UnitFactory(service="medical", capabilities=["als"])
    call = new_call("cardiac_arrest")
    other = new_call("cardiac_arrest", lat=51.2, lon=71.5)
    engine.dispatch_call(call.pk)  # an active assignment: ending the call writes its rows too
    seen = []
    measure = dispatch_services.record_call_metrics
    monkeypatch.setattr(dispatch_services, "record_call_metrics",
                        lambda ids: seen.append(_holds_journal_lock()) or measure(ids))
    if end == "close":
        dispatch_services.call_close(call_id=call.pk, disposition="resolved")
    elif end == "cancel":
        dispatch_services.call_cancel(call_id=call.pk)
    else:
        dispatch_services.call_merge(call_id=call.pk, into_id=other.pk)
    assert seen == [False]
    assert Event.objects.filter(call=call, type="assignment.updated").exists()


def test_intake_of_duplicates_under_concurrent_dispatch_never_fails():
    """Callers about the same incidents while the engine works on them: every call stored."""
    for i in range(6):
        UnitFactory(service="medical", capabilities=["als"], location=point(51.128 + i * 0.003, 71.43))
    seed = [new_call("cardiac_arrest", lat=51.128 + i * 0.002, accuracy=100) for i in range(4)]
    errors, created = [], []
    stop = threading.Event()

    def intake(k):
        try:
            for j in range(8):
                created.append(new_call("cardiac_arrest", lat=51.128 + ((k + j) % 4) * 0.002 + 0.0003,
                                        accuracy=100).pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def engine_loop():
        try:
            while not stop.is_set():
                for call in seed:
                    engine.dispatch_call(call.pk)
                waiting.dispatch_waiting(grace=timedelta(0))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=engine_loop) for _ in range(2)]
    callers = [threading.Thread(target=intake, args=(k,)) for k in range(4)]
    for t in workers + callers:
        t.start()
    for t in callers:
        t.join(60)
    stop.set()
    for t in workers:
        t.join(60)
    assert errors == []
    assert len(created) == 32
    duplicates = Call.objects.filter(pk__in=created, possible_duplicates__isnull=False).distinct().count()
    assert duplicates == 32  # every one was compared with an open call of the same place


def test_an_assignment_is_dated_when_its_unit_is_claimed_not_when_the_pass_began():
    """A pass that waited on a lock dated its assignments before the wait, so a unit freed
    meanwhile looked as if it had served two calls at once (bench/chaos.py)."""
    UnitFactory(service="medical", capabilities=["als"])
    call = new_call("cardiac_arrest")
    holder = psycopg.connect(_dsn())
    holder.execute("SELECT id FROM calls_call WHERE id = %s FOR UPDATE", [call.pk])
    done = []
    thread = threading.Thread(target=lambda: (done.append(engine.dispatch_call(call.pk)), connection.close()))
    thread.start()
    time.sleep(0.4)  # the pass is waiting for the call's row
    (released_at,) = holder.execute("SELECT clock_timestamp()").fetchone()
    holder.rollback()
    holder.close()
    thread.join(20)
    assert done == [1]
    assignment = Assignment.objects.get(call=call)
    assert assignment.assigned_at >= released_at
