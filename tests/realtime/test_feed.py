"""Gap-free delivery of the journal: commit order, reconnects, two servers, republish."""

import asyncio
import json
import random
import threading
import time

import pytest
import websockets
from django.db import connection, transaction
from django.utils import timezone

from calls.models import IncidentType
from calls.services import call_add_note, call_create
from core import journal
from core.models import Event
from tests.conftest import free_port, point, start_asgi
from tests.factories import UnitFactory, token_for
from units.services import unit_report_positions

pytestmark = pytest.mark.realtime


def _new_call():
    return call_create(actor=None, incident_type=IncidentType.objects.get(code="other"),
                       location={"point": point(), "accuracy_m": 5})


@pytest.mark.django_db(transaction=True)
def test_journal_ids_become_visible_in_commit_order():
    """A slow transaction cannot make a later id visible before an earlier one."""
    call = _new_call()
    inside = threading.Event()
    results = {}

    def slow():
        with transaction.atomic():
            results["slow"] = journal.record_event("call.updated", call=call, summary="slow")
            inside.set()
            time.sleep(0.8)  # holds the journal lock until commit
        connection.close()

    def fast():
        inside.wait(5)
        started = time.monotonic()
        with transaction.atomic():
            results["fast"] = journal.record_event("call.updated", call=call, summary="fast")
        results["waited"] = time.monotonic() - started
        connection.close()

    threads = [threading.Thread(target=slow), threading.Thread(target=fast)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results["fast"].id > results["slow"].id
    assert results["fast"].previous_id == results["slow"].id
    assert results["waited"] > 0.5  # it waited for the slow one to commit


async def _collect(port, token, since, seconds):
    got = []
    url = f"ws://127.0.0.1:{port}/ws/events/?since={since}&token={token}"
    async with websockets.connect(url) as ws:
        try:
            async with asyncio.timeout(seconds):
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("id") is not None:
                        got.append(message["id"])
        except TimeoutError:
            pass
    return got


def test_no_gap_no_duplicate_under_concurrent_writers_and_reconnects_across_two_servers(asgi_server, operator):
    second = start_asgi(free_port())
    second.port = int(second.popen.args[second.popen.args.index("--port") + 1])
    calls = [_new_call() for _ in range(4)]
    start_id = Event.objects.order_by("-id").values_list("id", flat=True).first()
    stop = threading.Event()

    def writer(call):
        while not stop.is_set():
            call_add_note(call_id=call.pk, actor=None, text="tick")
            time.sleep(random.uniform(0, 0.01))
        connection.close()

    threads = [threading.Thread(target=writer, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    received = []
    rng = random.Random(6)
    try:
        last = start_id
        for i in range(8):  # reconnect repeatedly, alternating servers
            port = (asgi_server.port, second.port)[i % 2]
            got = asyncio.run(_collect(port, token_for(operator), last, rng.uniform(0.2, 0.6)))
            received += got
            last = received[-1] if received else last
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    try:
        expected = list(Event.objects.filter(id__gt=start_id).order_by("id").values_list("id", flat=True))
        # Final catch-up on the first server: everything up to the end.
        received += asyncio.run(_collect(asgi_server.port, token_for(operator), received[-1], 1.5))
    finally:
        second.stop()
    assert len(expected) > 100
    assert received == expected, "gap, duplicate or reordering in the feed"


def test_rows_whose_publish_was_lost_are_republished_by_the_sweep(asgi_server, operator, monkeypatch):
    async def scenario():
        url = f"ws://127.0.0.1:{asgi_server.port}/ws/events/?token={token_for(operator)}"
        async with websockets.connect(url) as ws:
            await asyncio.sleep(0.3)

            def write_without_publishing():
                monkeypatch.setattr(journal, "publish_events", lambda events: None)
                call = _new_call()
                monkeypatch.undo()
                return call

            call = await asyncio.to_thread(write_without_publishing)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1.0):
                    await ws.recv()
            from dispatch.tasks import sweep

            await asyncio.to_thread(sweep)  # the beat sweep's doorbell
            async with asyncio.timeout(5):
                message = json.loads(await ws.recv())
            assert message["type"] == "call.created" and message["data"]["id"] == call.pk

    asyncio.run(scenario())


@pytest.mark.django_db
def test_position_only_updates_reach_the_journal_at_most_once_a_second_per_unit():
    unit = UnitFactory(service="police", location_recorded_at=timezone.now() - timezone.timedelta(minutes=1))
    base = timezone.now() - timezone.timedelta(seconds=30)
    for i in range(20):
        fix = {"lat": 51.128 + i * 0.001, "lon": 71.43, "accuracy_m": 5,
               "recorded_at": base + timezone.timedelta(seconds=i)}
        unit_report_positions(unit_id=unit.pk, fixes=[fix])
    assert Event.objects.filter(unit=unit, type="unit.updated", summary="position").count() == 1
    unit.refresh_from_db()
    assert unit.location.y == pytest.approx(51.128 + 19 * 0.001)  # the live row still follows every fix
    assert unit.positions.count() == 20


def test_a_client_too_far_behind_is_told_to_refetch_state(transactional_db, operator):
    server = start_asgi(free_port(), FEED_MAX_REPLAY=5)
    port = int(server.popen.args[server.popen.args.index("--port") + 1])
    first = _new_call()
    for _ in range(8):
        call_add_note(call_id=first.pk, actor=None, text="more")
    latest = Event.objects.order_by("-id").values_list("id", flat=True).first()

    async def first_message():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/events/?since=0&token={token_for(operator)}") as ws:
            async with asyncio.timeout(5):
                return json.loads(await ws.recv())

    try:
        message = asyncio.run(first_message())
    finally:
        server.stop()
    assert latest - 0 > 5
    assert message["type"] == "resync" and message["last_id"] == latest


def test_an_idle_operator_socket_stays_open_and_live(asgi_server, operator):
    """Quiet minutes happen; the socket must not drop after the Redis read timeout."""

    async def scenario():
        async with websockets.connect(f"ws://127.0.0.1:{asgi_server.port}/ws/events/?token={token_for(operator)}") as ws:
            await asyncio.sleep(7)
            call = await asyncio.to_thread(_new_call)
            async with asyncio.timeout(5):
                message = json.loads(await ws.recv())
            assert message["type"] == "call.created" and message["data"]["id"] == call.pk

    asyncio.run(scenario())
    assert "Exception in ASGI application" not in asgi_server.output()
