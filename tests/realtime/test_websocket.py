"""The live feed through a real ASGI server (uvicorn) and the Redis channel layer."""

import asyncio
import json

import pytest
import websockets

from core.models import Event
from dispatch import engine
from tests.conftest import crew, free_port, start_asgi
from tests.factories import UnitFactory, token_for

pytestmark = pytest.mark.realtime

VALID = {"incident_type": "cardiac_arrest", "location": {"lat": 51.128, "lon": 71.43, "accuracy_m": 15}}


def ws_url(server, query=""):
    return f"ws://127.0.0.1:{server.port}/ws/events/{query}"


async def receive_until(ws, predicate, timeout=10.0):
    got = []
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            got.append(message)
            if predicate(message, got):
                return got


def refused(url, **kwargs):
    async def attempt():
        try:
            async with websockets.connect(url, open_timeout=5, **kwargs) as ws:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code
        except websockets.exceptions.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else -1
        return None

    return asyncio.run(attempt())


def test_anonymous_responder_gateway_and_bad_tokens_are_refused(asgi_server, gateway, unit_a):
    crew(unit_a)
    unit_a.refresh_from_db()
    device_token = token_for(unit_a.user)
    assert refused(ws_url(asgi_server)) == 403
    assert refused(ws_url(asgi_server, "?token=nope")) == 403
    assert refused(ws_url(asgi_server, f"?token={device_token}")) == 403
    assert refused(ws_url(asgi_server), additional_headers={"Authorization": f"Token {token_for(gateway)}"}) == 403


def test_operator_sees_call_created_live_and_replays_after_reconnect(asgi_server, operator, operator_client):
    token = token_for(operator)

    async def scenario():
        headers = {"Authorization": f"Token {token}"}
        async with websockets.connect(ws_url(asgi_server, "?since=0"), additional_headers=headers) as ws:
            await asyncio.sleep(0.3)
            created = await asyncio.to_thread(operator_client.post, "/api/v1/calls/", VALID, format="json")
            call_id = created.json()["id"]
            got = await receive_until(ws, lambda m, _: m.get("type") == "call.created")
            assert got[-1]["data"]["id"] == call_id
            seen = got[-1]["id"]
        # While disconnected: the engine finds no unit → a call.updated and an alert.
        await asyncio.to_thread(engine.dispatch_call, call_id)
        missed = await asyncio.to_thread(lambda: list(Event.objects.filter(id__gt=seen).values_list("id", flat=True)))
        assert missed
        async with websockets.connect(ws_url(asgi_server, f"?since={seen}&token={token}")) as ws:
            got = await receive_until(ws, lambda m, g: m.get("id") == missed[-1])
            assert [m["id"] for m in got] == missed

    asyncio.run(scenario())


def test_assignment_created_reaches_an_operator_on_another_server_process(asgi_server, operator, operator_client):
    """Write through one ASGI process (and a real worker-less engine call), read on another."""
    second_port = free_port()
    second = start_asgi(second_port)
    UnitFactory(service="medical", capabilities=["als"])
    token = token_for(operator)

    async def scenario():
        async with websockets.connect(ws_url(asgi_server, f"?token={token}")) as ws:
            await asyncio.sleep(0.3)

            def create_via_second_server():
                import urllib.request

                request = urllib.request.Request(
                    f"http://127.0.0.1:{second_port}/api/v1/calls/", data=json.dumps(VALID).encode(),
                    headers={"Authorization": f"Token {token}", "Content-Type": "application/json"}, method="POST")
                with urllib.request.urlopen(request, timeout=10) as response:
                    return json.loads(response.read())

            call = await asyncio.to_thread(create_via_second_server)
            await asyncio.to_thread(engine.dispatch_call, call["id"])
            got = await receive_until(ws, lambda m, _: m.get("type") == "assignment.created")
            ids = [m["id"] for m in got]
            assert ids == sorted(set(ids))  # in order, no duplicate
            assert got[-1]["data"]["call"] == call["id"]

    try:
        asyncio.run(scenario())
    finally:
        second.stop()
