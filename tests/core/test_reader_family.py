"""Reader families: readers whose list lives in the database (one per webhook subscription),
each with its own cursor, back-off and pause, run by the same runner."""

import pytest
from django.db import transaction
from django.utils import timezone

from core import readers
from core.journal import record_event
from core.models import JournalReader
from tests.factories import new_call


def note(call, text):
    with transaction.atomic():
        return record_event("call.updated", call=call, summary=text).id


class Members:
    """A family kept in memory for the test: {name: handler}; a name dropped is gone."""

    def __init__(self):
        self.handlers = {}

    def names(self):
        return sorted(self.handlers)

    def reader_for(self, name):
        handle = self.handlers.get(name)
        return readers.make_reader(name, handle) if handle else None


@pytest.fixture
def family():
    members = Members()
    readers.register_family("fam:", names=members.names, reader_for=members.reader_for)
    yield members
    readers.unregister_family("fam:")


def test_family_members_are_due_run_and_reported_each_from_its_own_cursor(transactional_db, family):
    call = new_call(lat=None)
    got = {"fam:1": [], "fam:2": []}
    family.handlers = {name: (lambda events, name=name: got[name].extend(e.id for e in events)) for name in got}
    assert {"fam:1", "fam:2"} <= set(readers.due_readers())
    assert readers.run("fam:1") == "ok" and readers.run("fam:2") == "ok"  # live edge
    first = note(call, "a")
    assert readers.run("fam:1") == "ok"
    second = note(call, "b")
    assert readers.run("fam:1") == "ok" and readers.run("fam:2") == "ok"
    assert got == {"fam:1": [first, second], "fam:2": [first, second]}
    status = {s["name"]: s for s in readers.reader_status()}
    assert status["fam:1"]["lag"] == 0 and status["fam:2"]["last_id"] == second


def test_a_member_that_is_gone_is_unknown_and_no_longer_due(transactional_db, family):
    family.handlers = {"fam:9": lambda events: None}
    assert readers.run("fam:9") == "ok"
    family.handlers = {}
    assert readers.run("fam:9") == "unknown"
    assert "fam:9" not in readers.due_readers()
    assert "fam:9" not in {s["name"] for s in readers.reader_status()}
    assert readers.run("elsewhere:1") == "unknown"


def test_a_failing_member_backs_off_alone_and_a_paused_one_waits(transactional_db, family):
    call = new_call(lat=None)
    healthy = []

    def broken(events):
        raise ConnectionError("partner down")

    family.handlers = {"fam:bad": broken, "fam:good": lambda events: healthy.extend(e.id for e in events)}
    readers.run("fam:bad"), readers.run("fam:good")
    event = note(call, "x")
    assert readers.run("fam:bad") == "failed" and readers.run("fam:good") == "ok"
    assert healthy == [event]
    due = readers.due_readers()
    assert "fam:bad" not in due and "fam:good" in due
    JournalReader.objects.filter(pk="fam:good").update(paused=True)
    assert "fam:good" not in readers.due_readers() and readers.run("fam:good") == "waiting"


def test_a_handler_that_stops_part_way_keeps_its_progress_and_backs_off(transactional_db, family):
    call = new_call(lat=None)
    seen = []

    def two_then_fail(events):
        for event in events:
            if len(seen) == 2:
                raise readers.Stopped(seen[-1], ConnectionError("partner went away"))
            seen.append(event.id)

    family.handlers = {"fam:p": two_then_fail}
    readers.run("fam:p")
    ids = [note(call, str(i)) for i in range(4)]
    assert readers.run("fam:p") == "failed"
    row = JournalReader.objects.get(pk="fam:p")
    assert row.last_id == ids[1] and row.failures == 1 and "partner went away" in row.last_error
    assert row.next_attempt_at > timezone.now()
    seen.clear()
    JournalReader.objects.filter(pk="fam:p").update(next_attempt_at=None)
    readers.run("fam:p")
    assert seen == ids[2:]  # from where it stopped, none lost, none again
