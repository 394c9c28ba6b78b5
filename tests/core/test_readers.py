"""Journal readers: every event after the cursor, in order, at least once, with back-off.

A reader runs outside any transaction (it may call the network), so these tests commit
(transactional_db) rather than run inside the test's transaction."""

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import transaction
from django.utils import timezone

from config.db import libpq_params
from core import readers
from core.journal import record_event
from core.models import Event, JournalReader
from core.readers import READER_LOCK_CLASS
from tests.conftest import purge_broker, start_beat, start_worker, wait_for
from tests.factories import new_call


@pytest.fixture
def registry():
    before = readers.registered()
    yield
    for name in set(readers.registered()) - set(before):
        readers.unregister(name)


class Collector:
    def __init__(self, fail_times=0, stop_after=None):
        self.got = []
        self.fail_times = fail_times
        self.stop_after = stop_after

    def __call__(self, events):
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("partner down")
        if self.stop_after is not None:
            events = events[: self.stop_after]
            self.got += [e.id for e in events]
            return events[-1].id
        self.got += [e.id for e in events]
        return None


def note(call, text):
    with transaction.atomic():
        return record_event("call.updated", call=call, summary=text).id


def test_a_reader_gets_every_event_after_its_cursor_in_order_once_it_succeeds(transactional_db, registry):
    call = new_call(lat=None)
    before = note(call, "before the reader existed")
    collect = Collector()
    readers.register("r", collect)
    assert readers.run("r") == "ok"
    assert collect.got == []  # a new reader starts at the live edge
    assert JournalReader.objects.get(pk="r").last_id == before
    ids = [note(call, f"n{i}") for i in range(5)]
    assert readers.run("r") == "ok"
    assert collect.got == ids
    assert readers.run("r") == "ok" and collect.got == ids  # nothing twice after success
    status = {s["name"]: s for s in readers.reader_status()}["r"]
    assert status["lag"] == 0 and status["failures"] == 0 and status["last_success_at"]


def test_a_reader_from_the_beginning_and_one_that_wants_some_types(transactional_db, registry):
    call = new_call(lat=None)
    ids = list(Event.objects.order_by("id").values_list("id", flat=True))
    everything, created_only = Collector(), Collector()
    readers.register("all", everything, start="beginning", batch=2)
    readers.register("created", created_only, types={"call.created"}, start="beginning")
    note(call, "x")
    assert readers.run("all") == "ok" and readers.run("created") == "ok"
    assert ids and everything.got == list(Event.objects.order_by("id").values_list("id", flat=True))
    assert created_only.got == list(Event.objects.filter(type="call.created").values_list("id", flat=True))
    assert JournalReader.objects.get(pk="created").last_id == Event.objects.latest("id").id  # passed the others


def test_a_failing_reader_keeps_its_cursor_backs_off_and_gets_the_same_events_again(transactional_db, registry, settings):
    settings.JOURNAL_READER_BACKOFF_MAX_S = 300
    call = new_call(lat=None)
    collect = Collector(fail_times=2)
    readers.register("flaky", collect)
    readers.run("flaky")
    ids = [note(call, "a"), note(call, "b")]
    assert readers.run("flaky") == "failed"
    row = JournalReader.objects.get(pk="flaky")
    assert row.last_id == ids[0] - 1 and row.failures == 1 and "partner down" in row.last_error
    assert timedelta(seconds=1) < row.next_attempt_at - timezone.now() <= timedelta(seconds=2)
    assert readers.run("flaky") == "waiting" and "flaky" not in readers.due_readers()
    JournalReader.objects.filter(pk="flaky").update(next_attempt_at=timezone.now())
    assert readers.run("flaky") == "failed"
    row = JournalReader.objects.get(pk="flaky")
    assert row.failures == 2 and row.next_attempt_at - timezone.now() > timedelta(seconds=3)  # 4 s now
    JournalReader.objects.filter(pk="flaky").update(next_attempt_at=timezone.now())
    assert readers.run("flaky") == "ok"
    assert collect.got == ids
    row = JournalReader.objects.get(pk="flaky")
    assert (row.failures, row.last_error, row.next_attempt_at, row.last_id) == (0, "", None, ids[-1])
    assert [readers.backoff_s(n) for n in (1, 2, 3, 9, 30)] == [2, 4, 8, 300, 300]


def test_a_reader_may_stop_part_way_and_goes_on_next_run(transactional_db, registry):
    call = new_call(lat=None)
    collect = Collector(stop_after=1)
    readers.register("slow", collect)
    readers.run("slow")
    ids = [note(call, str(i)) for i in range(3)]
    for _ in range(3):
        assert readers.run("slow") == "ok"
    assert collect.got == ids


def test_a_paused_reader_and_a_reader_running_elsewhere_are_left_alone(transactional_db, registry):
    collect = Collector()
    readers.register("p", collect)
    readers.run("p")
    JournalReader.objects.filter(pk="p").update(paused=True)
    assert readers.run("p") == "waiting" and "p" not in readers.due_readers()
    JournalReader.objects.filter(pk="p").update(paused=False)
    with psycopg.connect(**libpq_params(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [READER_LOCK_CLASS, "p"])
        assert readers.run("p") == "busy"
        # (closing a connection frees its locks only once the server notices: unlock now)
        other.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [READER_LOCK_CLASS, "p"])
    assert readers.run("p") == "ok"


def test_a_reader_never_runs_inside_a_transaction(db, registry):
    readers.register("t", Collector())
    with transaction.atomic(), pytest.raises(RuntimeError):
        readers.run("t")


def test_events_committed_out_of_id_order_reach_the_reader_in_order(transactional_db, registry):
    """A slow transaction holding the journal lock: the reader never skips its row."""
    call = new_call(lat=None)
    collect = Collector()
    readers.register("order", collect)
    readers.run("order")
    started = threading.Event()

    def slow():
        with transaction.atomic():
            record_event("call.updated", call=call, summary="slow")
            started.set()
            time.sleep(0.5)

    worker = threading.Thread(target=slow)
    worker.start()
    started.wait(5)
    readers.run("order")  # while the slow one is uncommitted: sees nothing yet, skips nothing
    worker.join()
    note(call, "after")
    readers.run("order")
    summaries = list(Event.objects.filter(id__in=collect.got).order_by("id").values_list("summary", flat=True))
    assert summaries == ["slow", "after"] and collect.got == sorted(collect.got)


@pytest.mark.worker
def test_beat_and_a_real_worker_run_a_reader_registered_by_a_module(transactional_db, tmp_path, operator_client):
    sink = tmp_path / "reader.txt"
    env = {"JOURNAL_READER_MODULES": "tests.core.file_reader", "READER_TEST_FILE": str(sink),
           "JOURNAL_READERS_INTERVAL_S": "0.5"}
    purge_broker()
    worker = start_worker("reader-worker", queues="journal", **env)  # the Procfile's `readers`
    beat = start_beat("reader-beat", **env)
    try:
        call = operator_client.post("/api/v1/calls/", {"incident_type": "other"}, format="json").json()
        operator_client.post(f"/api/v1/calls/{call['id']}/notes/", {"text": "hello"}, format="json")
        expected = list(Event.objects.filter(type__in=["call.created", "call.updated"]).order_by("id")
                        .values_list("id", flat=True))

        def delivered():
            return sink.exists() and [int(line.split()[0]) for line in sink.read_text().split("\n") if line]

        wait_for(lambda: set(expected) <= set(delivered() or []), timeout=30,
                 message="the reader's file to hold the call's events")
        got = delivered()
        wanted = Event.objects.filter(type__in=["call.created", "call.updated"], id__lte=max(got))
        assert got == list(wanted.order_by("id").values_list("id", flat=True))  # in order, none twice
        assert JournalReader.objects.get(pk="test-file").last_id >= max(got)
    finally:
        beat.stop()
        worker.stop()
