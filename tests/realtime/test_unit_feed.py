"""The unit feed /ws/unit/ through a real ASGI server (uvicorn) and the Redis channel layer:
a unit's device hears its own assignments at once, resumes without a gap, never hears
another unit, and is cut off when its token is replaced."""

import asyncio
import json
import time
from datetime import datetime

import pytest
import redis
import websockets
from django.conf import settings
from django.utils import timezone

from calls.services import call_add_note
from core.journal import FEED_GROUP, call_feed_group, unit_feed_group
from core.models import Event
from dispatch import engine, services
from dispatch.models import Assignment
from dispatch.unit_consumer import unit_events_after
from tests.conftest import client_for, closed_within, point
from tests.factories import UnitFactory, new_call, token_for
from units.services import unit_issue_token, unit_report_positions

pytestmark = pytest.mark.realtime

CARDIAC = {"incident_type": "cardiac_arrest", "location": {"lat": 51.128, "lon": 71.43, "accuracy_m": 15}}


def unit_url(server, query=""):
    return f"ws://127.0.0.1:{server.port}/ws/unit/{query}"


def connect(server, token=None, query="", **kwargs):
    if token:
        kwargs["additional_headers"] = {"Authorization": f"Token {token}"}
    return websockets.connect(unit_url(server, query), open_timeout=5, **kwargs)


async def receive_until(ws, predicate, timeout=10.0):
    got = []
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            got.append(message)
            if predicate(message):
                return got


async def drain(ws, seconds):
    """Every message that arrives within the time."""
    got = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                got.append(json.loads(await ws.recv()))
    except TimeoutError:
        pass
    return got


def refused(url, **kwargs):
    """The HTTP status of a refused handshake, or the close code of an accepted socket."""
    async def attempt():
        try:
            async with websockets.connect(url, open_timeout=5, **kwargs) as ws:
                return await closed_within(ws, 5)
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code

    return asyncio.run(attempt())


def fix(lat, lon):
    return {"lat": lat, "lon": lon, "accuracy_m": 5, "recorded_at": timezone.now()}


def expected_ids(unit, after):
    """What the unit's feed must carry after a journal id, by the journal's own rule."""
    ids, last, more = [], after, True
    while more:
        rows, last, more = unit_events_after(unit.pk, last)
        ids += [r.id for r in rows]
    return ids


def unit_of(message):
    data = message["data"]
    return data["id"] if message["type"] == "unit.updated" else data["unit"]["id"]


def test_a_new_assignment_reaches_the_crew_at_once_through_the_real_worker(live_worker, asgi_server, operator_client,
                                                                           unit_a):
    token = unit_issue_token(unit_id=unit_a.pk, actor=None)

    async def scenario():
        async with connect(asgi_server, token) as ws:
            await asyncio.sleep(0.3)
            posted = time.time()
            created = await asyncio.to_thread(operator_client.post, "/api/v1/calls/", CARDIAC, format="json")
            assert created.status_code == 201
            got = await receive_until(ws, lambda m: m["type"] == "assignment.created", timeout=15)
            received = time.time()
            event = got[-1]
            assert event["data"]["unit"]["id"] == unit_a.pk and event["data"]["call"] == created.json()["id"]
            written = datetime.fromisoformat(event["at"]).timestamp()
            push_ms, post_ms = (received - written) * 1000, (received - posted) * 1000
            print(f"\nassignment.created journal row -> crew socket: {push_ms:.0f} ms; "
                  f"operator POST -> crew socket: {post_ms:.0f} ms")
            assert push_ms < 5000  # a generous bound; the figure is reported, not asserted
            # the rest of the same dispatch follows: its own status, and its call
            more = await receive_until(ws, lambda m: m["type"] == "call.updated", timeout=5)
            assert {"unit.updated", "call.updated"} <= {m["type"] for m in got + more}

    asyncio.run(scenario())


def test_crew_resumes_after_a_reconnect_with_exactly_what_it_missed(asgi_server, unit_a, operator):
    token = unit_issue_token(unit_id=unit_a.pk, actor=None)
    other = UnitFactory(callsign="B-9", service="medical", capabilities=["bls"], location=point(51.14, 71.45))

    async def scenario():
        async with connect(asgi_server, token) as ws:
            await asyncio.sleep(0.3)
            call = await asyncio.to_thread(new_call, "cardiac_arrest")
            await asyncio.to_thread(engine.dispatch_call, call.pk)
            got = await receive_until(ws, lambda m: m["type"] == "assignment.created")
            seen = got[-1]["id"]
        assignment = await asyncio.to_thread(lambda: Assignment.objects.get(unit=unit_a))

        def while_away():
            services.assignment_acknowledge(assignment_id=assignment.pk)
            call_add_note(call_id=call.pk, text="gate code 1234", actor=operator)
            other_call = new_call("injury_fall", lat=51.14, lon=71.45)
            engine.dispatch_call(other_call.pk)
            unit_report_positions(unit_id=other.pk, fixes=[fix(51.141, 71.451)])
            services.assignment_arrive(assignment_id=assignment.pk)

        await asyncio.to_thread(while_away)
        missed = await asyncio.to_thread(expected_ids, unit_a, seen)
        async with connect(asgi_server, token, query=f"?since={seen}") as ws:
            got = await receive_until(ws, lambda m: m.get("id") == missed[-1])
            assert [m["id"] for m in got] == missed
            types = [m["type"] for m in got]
            assert "call.updated" in types  # the operator's note on its call
            assert types.count("assignment.updated") == 2  # acknowledged, on scene
            assert all(unit_of(m) == unit_a.pk for m in got if not m["type"].startswith("call."))
            assert {m["data"]["id"] for m in got if m["type"].startswith("call.")} == {call.pk}
            # asked after the replay: the last id it examined is the journal's newest
            await ws.send(json.dumps({"type": "ping"}))
            pong = await receive_until(ws, lambda m: m["type"] == "pong")
            newest = await asyncio.to_thread(lambda: Event.objects.order_by("-id").values_list("id", flat=True)[0])
            assert pong[-1]["last_id"] == newest

    asyncio.run(scenario())


def test_a_unit_never_hears_another_unit_and_live_equals_replay(asgi_server, operator):
    """Two units on the feed while both are dispatched, move and work: each socket gets only
    its own rows, the live relay sends exactly what the journal's rule says, and a call's
    rows stop when the unit's assignment on it ends."""
    unit_a = UnitFactory(callsign="A-1", service="medical", capabilities=["als"])
    unit_b = UnitFactory(callsign="A-2", service="medical", capabilities=["bls"], location=point(51.14, 71.45))
    token_a = unit_issue_token(unit_id=unit_a.pk, actor=None)
    token_b = unit_issue_token(unit_id=unit_b.pk, actor=None)
    start = Event.objects.order_by("-id").values_list("id", flat=True)[0]

    def work():
        call_a = new_call("cardiac_arrest")
        call_b = new_call("injury_fall", lat=51.14, lon=71.45)
        engine.dispatch_call(call_a.pk)
        engine.dispatch_call(call_b.pk)
        a = Assignment.objects.get(unit=unit_a)
        b = Assignment.objects.get(unit=unit_b)
        for n in range(3):
            unit_report_positions(unit_id=unit_b.pk, fixes=[fix(51.14 + n / 1000, 71.45)])
        services.assignment_acknowledge(assignment_id=b.pk)
        call_add_note(call_id=call_b.pk, text="B's call only", actor=operator)
        services.assignment_acknowledge(assignment_id=a.pk)
        services.assignment_arrive(assignment_id=a.pk)
        services.assignment_clear(assignment_id=a.pk)
        call_add_note(call_id=call_a.pk, text="after A left", actor=operator)
        note = Event.objects.order_by("-id").values_list("id", flat=True)[0]
        services.assignment_arrive(assignment_id=b.pk)
        return call_a.pk, call_b.pk, note

    layer = redis.Redis.from_url(settings.REDIS_URL)

    def members(group):
        return set(layer.zrange(f"asgi:group:{group}", 0, -1))

    async def scenario():
        async with connect(asgi_server, token_a) as ws_a, connect(asgi_server, token_b) as ws_b:
            await asyncio.sleep(0.3)
            # Each crew listens to its own unit's doorbells, never to the whole city's feed.
            socket_a, socket_b = members(unit_feed_group(unit_a.pk)), members(unit_feed_group(unit_b.pk))
            assert socket_a and socket_b and not socket_a & socket_b
            assert not (socket_a | socket_b) & members(FEED_GROUP)
            call_a, call_b, note = await asyncio.to_thread(work)
            got_a, got_b = await asyncio.gather(drain(ws_a, 2.0), drain(ws_b, 2.0))
            # ... and to the calls its unit was sent to, once it has heard of them.
            assert socket_a <= members(call_feed_group(call_a)) and not socket_a & members(call_feed_group(call_b))
        return call_a, call_b, note, got_a, got_b

    call_a, call_b, note, got_a, got_b = asyncio.run(scenario())
    for unit, call, got in ((unit_a, call_a, got_a), (unit_b, call_b, got_b)):
        events = [m for m in got if m.get("id")]
        assert [m["id"] for m in events] == expected_ids(unit, start)  # live relay == journal rule
        assert all(unit_of(m) == unit.pk for m in events if not m["type"].startswith("call."))
        assert {m["data"]["id"] for m in events if m["type"].startswith("call.")} == {call}
    assert note not in [m.get("id") for m in got_a]  # a note on A's call after its assignment ended
    assert Event.objects.get(pk=note).call_id == call_a
    assert any(m["type"] == "unit.updated" and m["data"]["location"] for m in got_b)  # B's own positions


def test_bad_revoked_and_foreign_tokens_are_refused(asgi_server, operator, unit_a):
    old = unit_issue_token(unit_id=unit_a.pk, actor=None)
    assert refused(unit_url(asgi_server)) == 403  # no token
    assert refused(unit_url(asgi_server, "?token=not-a-token")) == 403
    assert refused(unit_url(asgi_server, f"?token={token_for(operator)}")) == 403  # not a unit
    assert refused(unit_url(asgi_server, "?since=x"), additional_headers={"Authorization": f"Token {old}"}) == 403  # a bad cursor
    # the operators' feed still refuses a device token
    assert refused(f"ws://127.0.0.1:{asgi_server.port}/ws/events/?token={old}") == 403
    new = unit_issue_token(unit_id=unit_a.pk, actor=None)
    assert refused(unit_url(asgi_server, f"?token={old}")) == 403
    assert refused(unit_url(asgi_server, f"?token={new}")) is None  # accepted, stays open


def test_a_supervisors_new_token_closes_the_lost_phones_socket(asgi_server, supervisor_client, unit_a):
    old = unit_issue_token(unit_id=unit_a.pk, actor=None)

    async def scenario():
        async with connect(asgi_server, query=f"?token={old}") as ws:
            assert await closed_within(ws, 0.5) is None  # signed in and open
            started = time.monotonic()
            answer = await asyncio.to_thread(supervisor_client.post, f"/api/v1/units/{unit_a.pk}/token/")
            assert answer.status_code == 200
            assert await closed_within(ws, 5) == 4401
            print(f"\nnew token issued -> old socket closed 4401: {(time.monotonic() - started) * 1000:.0f} ms")
            return answer.json()["token"]

    new = asyncio.run(scenario())
    assert refused(unit_url(asgi_server, f"?token={old}")) == 403
    assert client_for(token=new).get("/api/v1/me/").status_code == 200
