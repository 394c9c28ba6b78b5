"""The operators' feed while Redis (the channel layer) is down: it keeps working from
PostgreSQL, says it is degraded, and goes back to live doorbells when Redis returns."""

import json
import time

import pytest
import requests
import websockets.sync.client

from core.models import Event
from tests.conftest import free_port, start_asgi
from tests.factories import make_user, token_for

pytestmark = pytest.mark.realtime


class Socket:
    def __init__(self, port, token, since=None):
        query = f"token={token}" + (f"&since={since}" if since is not None else "")
        self.ws = websockets.sync.client.connect(f"ws://127.0.0.1:{port}/ws/events/?{query}", open_timeout=5)
        self.events, self.statuses = [], []

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            except TimeoutError:
                return
            if message.get("type") == "status":
                self.statuses.append(message["degraded"])
            elif message.get("id") is not None:
                self.events.append(message["id"])

    def wait(self, predicate, timeout=10, message="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            self.pump(0.1)
        raise AssertionError(f"timed out waiting for {message}")


def test_feed_follows_the_journal_while_the_channel_layer_is_down(transactional_db, private_redis):
    token = token_for(make_user("op-degraded", "operator"))
    port = free_port()
    web = start_asgi(port, REDIS_URL=private_redis.url, CELERY_BROKER_URL=private_redis.url)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"

    def post_call(lat):
        response = session.post(f"http://127.0.0.1:{port}/api/v1/calls/", timeout=10, json={
            "incident_type": "other", "location": {"lat": lat, "lon": 71.43}})
        assert response.status_code == 201, response.content
        return response.json()["id"]

    try:
        live = Socket(port, token, since=0)
        post_call(51.10)
        live.wait(lambda: live.events and live.events[-1] == Event.objects.latest("id").id, message="live event")
        assert live.statuses == []

        private_redis.kill()
        post_call(51.12)  # the web still takes calls; its doorbell cannot ring
        live.wait(lambda: live.statuses == [True], message="the open socket to say degraded")
        live.wait(lambda: live.events[-1] == Event.objects.latest("id").id, timeout=5,
                  message="the event written during the outage, read from the journal")
        # A console that connects during the outage is served too, not refused.
        late = Socket(port, token, since=live.events[0] - 1)
        late.wait(lambda: late.statuses == [True] and late.events and late.events[-1] == live.events[-1],
                  message="a new socket during the outage")
        post_call(51.14)
        for sock in (live, late):
            sock.wait(lambda s=sock: s.events[-1] == Event.objects.latest("id").id, timeout=5,
                      message="polling to deliver the next event")

        private_redis.start()
        for sock in (live, late):
            sock.wait(lambda s=sock: s.statuses[-1] is False, timeout=10, message="live again after Redis returns")
        post_call(51.16)
        for sock in (live, late):
            sock.wait(lambda s=sock: s.events[-1] == Event.objects.latest("id").id, timeout=5,
                      message="the doorbell after the outage")
        journal = list(Event.objects.order_by("id").values_list("id", flat=True))
        assert live.events == journal
        assert late.events == journal[journal.index(live.events[0]):]
        for sock in (live, late):
            sock.ws.close()
    finally:
        web.stop()
    assert "Traceback" not in web.output(), web.output()[-3000:]


def test_handshake_during_a_redis_outage_is_accepted(transactional_db, private_redis):
    token = token_for(make_user("op-degraded-2", "operator"))
    port = free_port()
    private_redis.kill()
    web = start_asgi(port, REDIS_URL=private_redis.url, CELERY_BROKER_URL=private_redis.url)
    try:
        sock = Socket(port, token)
        sock.wait(lambda: sock.statuses == [True], message="degraded status on a fresh socket")
        sock.ws.close()
    finally:
        web.stop()
