"""PostgreSQL lost under running web, worker, beat and a websocket client.

The processes reach PostgreSQL through a proxy the test cuts (what a server restart does
to them: open connections drop, new ones are refused) and then every backend is
terminated from the server side. During a gap the web answers 503 with Retry-After,
never 500; afterwards every process reconnects by itself within seconds, every call that
was answered 201 is stored and dispatched, and a resuming websocket client has every
journal row exactly once, in order.
"""

import json
import threading
import time

import pytest
import requests
import websockets.sync.client
from django.conf import settings
from django.db import connection

from core.models import Event
from dispatch.models import Assignment
from tests.conftest import free_port, point, start_asgi, start_beat, start_worker, wait_for
from tests.factories import UnitFactory, make_user, token_for
from tests.ops.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.worker, pytest.mark.realtime]


class FeedClient(threading.Thread):
    """An operator's socket that resumes from its last id whenever it is closed."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.ids, self.closes, self.last_id = [], [], 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            url = f"ws://127.0.0.1:{self.port}/ws/events/?since={self.last_id}&token={self.token}"
            try:
                with websockets.sync.client.connect(url, open_timeout=3) as ws:
                    while not self.stopped.is_set():
                        try:
                            message = json.loads(ws.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if message.get("id") is not None:
                            self.ids.append(message["id"])
                            self.last_id = message["id"]
            except websockets.exceptions.ConnectionClosed as exc:
                self.closes.append(exc.rcvd.code if exc.rcvd else None)
            except (OSError, websockets.exceptions.InvalidHandshake, TimeoutError) as exc:
                self.closes.append(type(exc).__name__)
            time.sleep(0.2)


def _post_call(client, i):
    body = {"incident_type": "noise_complaint",
            "location": {"lat": 51.10 + (i % 40) * 0.004, "lon": 71.38 + (i // 40) * 0.01, "accuracy_m": 10}}
    try:
        return client.post(f"{client.base_url}/api/v1/calls/", json=body, timeout=10)
    except requests.RequestException as exc:
        raise AssertionError(f"the web process stopped answering: {exc!r}") from exc


def _drive_through_gap(client, make_gap, end_gap, counter, outcomes):
    """Post calls before, during and after a gap; returns seconds from the end of the gap to a 201."""
    for _ in range(2):
        outcomes.append(_post_call(client, next(counter)))
    make_gap()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        outcomes.append(_post_call(client, next(counter)))
        time.sleep(0.2)
    end_gap()
    ended = time.monotonic()
    while True:
        response = _post_call(client, next(counter))
        outcomes.append(response)
        if response.status_code == 201:
            return time.monotonic() - ended
        assert time.monotonic() - ended < 10, "web did not recover"
        time.sleep(0.1)


def _terminate_backends():
    with connection.cursor() as cur:
        # Only the app role's own backends: the role is not a superuser (issue 14), and an
        # autovacuum worker on this database would make pg_terminate_backend raise.
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND usename = current_user AND pid <> pg_backend_pid()")
        return cur.fetchone()[0]


def test_processes_ride_out_a_lost_database_with_503s_and_nothing_lost(transactional_db):
    db = settings.DATABASES["default"]
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    url = f"postgis://{db['USER']}:{db['PASSWORD']}@127.0.0.1:{proxy.port}/{db['NAME']}"
    token = token_for(make_user("op-outage", "operator"))
    for i in range(40):
        UnitFactory(service="police", location=point(51.10 + i * 0.004, 71.38))
    port = free_port()
    web = start_asgi(port, DATABASE_URL=url, DB_POOL_MAX_SIZE=4)
    worker = start_worker("outage", DATABASE_URL=url)
    beat = start_beat("outage-beat", DATABASE_URL=url, DISPATCH_SWEEP_INTERVAL_S=1)
    feed = FeedClient(port, token)
    client = requests.Session()
    client.base_url = f"http://127.0.0.1:{port}"
    client.headers["Authorization"] = f"Token {token}"
    outcomes, counter = [], iter(range(10_000))
    try:
        feed.start()
        recover_cut = _drive_through_gap(client, proxy.cut, proxy.restore, counter, outcomes)
        recover_kill = _drive_through_gap(client, _terminate_backends, lambda: None, counter, outcomes)
        statuses = [r.status_code for r in outcomes]
        assert set(statuses) <= {201, 503}, statuses
        assert 503 in statuses  # the cut was seen, and answered honestly
        assert all(r.headers.get("Retry-After") for r in outcomes if r.status_code == 503)
        assert recover_cut <= 5 and recover_kill <= 5, (recover_cut, recover_kill)

        created = [r.json()["id"] for r in outcomes if r.status_code == 201]
        wait_for(lambda: Assignment.objects.filter(call_id__in=created).values("call_id").distinct().count()
                 == len(created), timeout=30, message="every stored call dispatched after the outage")
        units = list(Assignment.objects.values_list("unit_id", flat=True))
        assert len(units) == len(set(units))  # no unit twice
        journal = list(Event.objects.order_by("id").values_list("id", flat=True))
        wait_for(lambda: feed.ids[-1:] == journal[-1:], timeout=20, message="the feed to catch up")
        assert feed.ids == journal  # every event once, in order, across the reconnects
        assert worker.popen.poll() is None and beat.popen.poll() is None and web.popen.poll() is None
    finally:
        feed.stopped.set()
        client.close()
        for proc in (beat, worker, web):
            proc.stop()
        proxy.cut()
    assert "Internal Server Error" not in web.output(), web.output()[-3000:]
