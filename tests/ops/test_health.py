"""GET /healthz: database, Redis, broker, worker and beat, each "ok" or an object with "ok";
503 naming what is down. Checks run against the real PostgreSQL, Redis, worker and beat."""

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from ops import heartbeats
from ops.health import DEADLINE_S
from ops.models import Heartbeat
from tests.conftest import free_port, purge_broker, start_beat, start_worker, wait_for
from tests.ops.tcp_proxy import TcpProxy

# The database check runs on its own connection (a thread of its own): the rows it reads
# must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

KEYS = ("database", "redis", "broker", "worker", "beat")


def is_ok(value):
    return value == "ok" or (isinstance(value, dict) and value["ok"] is True)


def alive(worker_age_s=1, sweep_age_s=1):
    """A worker and the sweep that beat rings, as their heartbeat rows say."""
    now = timezone.now()
    Heartbeat.objects.create(name="worker:w1@test", kind="worker", at=now - timedelta(seconds=worker_age_s))
    Heartbeat.objects.create(name="sweep", kind="sweep", at=now - timedelta(seconds=sweep_age_s))


def test_without_a_worker_or_beat_healthz_is_503_naming_both(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["down"] == ["worker", "beat"]
    assert [body["database"], body["redis"], body["broker"]] == ["ok", "ok", "ok"]
    assert body["worker"] == {"ok": False, "max_age_s": 15.0, "workers": []}
    assert body["beat"]["ok"] is False and body["beat"]["last_sweep_age_s"] is None
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_real_worker_and_beat_make_every_check_ok_and_a_stopped_worker_is_down_at_once(client):
    purge_broker()
    worker = start_worker("health-worker")
    beat = start_beat("health-beat", DISPATCH_SWEEP_INTERVAL_S=1)
    try:
        response = wait_for(
            lambda: (r := client.get("/healthz")).status_code == 200 and r, timeout=30, message="healthz to turn 200"
        )
        body = response.json()
        assert body["status"] == "ok" and body["down"] == []
        assert all(is_ok(body[key]) for key in KEYS), body
        [row] = body["worker"]["workers"]
        assert row["name"] == f"worker:health-worker@{socket.gethostname()}"
        assert row["pid"] == worker.popen.pid and row["age_s"] < 15
        assert body["beat"]["last_sweep_age_s"] < 10
        # The leader-lock scheduler (ops/beat.py) reports itself; the only beat leads.
        assert all(b["leader"] for b in body["beat"]["beats"])
    finally:
        worker.stop()
        beat.stop()
    # A worker that shuts down cleanly forgets its row: no fresh worker is left at once.
    body = client.get("/healthz").json()
    assert body["worker"] == {"ok": False, "max_age_s": 15.0, "workers": []}
    assert "worker" in body["down"]


def test_a_worker_whose_heartbeat_is_older_than_three_intervals_is_down(client):
    alive(worker_age_s=2)
    body = client.get("/healthz").json()
    assert body["worker"]["ok"] is True and body["down"] == []
    Heartbeat.objects.filter(name="worker:w1@test").update(at=timezone.now() - timedelta(seconds=16))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["down"] == ["worker"]
    [row] = response.json()["worker"]["workers"]
    assert row["name"] == "worker:w1@test" and 16 <= row["age_s"] < 20


def test_beat_is_down_when_the_last_sweep_is_older_than_three_sweep_periods(client, settings):
    settings.DISPATCH_SWEEP_INTERVAL_S = 3  # limit: max(3 × 3 s, 10 s) = 10 s
    alive(sweep_age_s=8)
    assert client.get("/healthz").status_code == 200
    Heartbeat.objects.filter(name="sweep").update(at=timezone.now() - timedelta(seconds=11))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["down"] == ["beat"]
    assert response.json()["beat"]["max_age_s"] == 10.0
    settings.DISPATCH_SWEEP_INTERVAL_S = 5  # limit 15 s
    assert client.get("/healthz").status_code == 200


def test_unreachable_redis_is_503_naming_redis(client, settings):
    alive()
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["redis"]
    assert body["redis"]["ok"] is False and "Connection" in body["redis"]["error"]
    assert body["broker"] == "ok"


def test_unreachable_database_reports_worker_and_beat_unknown_without_a_500(client, monkeypatch):
    alive()
    # New connections (the check's own thread) go to a closed port; this thread's stays open.
    monkeypatch.setitem(connections.settings["default"], "PORT", str(free_port()))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["database", "worker", "beat"]
    assert body["database"]["ok"] is False and "OperationalError" in body["database"]["error"]
    assert body["worker"]["ok"] is False and body["worker"]["error"].startswith("unknown")
    assert body["redis"] == "ok" and body["broker"] == "ok"


def test_healthz_answers_within_its_deadline_when_the_database_hangs(client, monkeypatch):
    # A server that accepts connections and never says a word (a hung host behind a firewall).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    monkeypatch.setitem(connections.settings["default"], "PORT", str(listener.getsockname()[1]))
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        took = time.monotonic() - started
        assert response.status_code == 503
        assert response.json()["down"] == ["database", "worker", "beat"]
        assert "TimeoutError" in response.json()["database"]["error"]
        assert DEADLINE_S <= took < DEADLINE_S + 5  # the answer comes; the slack is for a busy machine
    finally:
        listener.close()  # the abandoned check's connection attempt now fails and its thread ends


def test_a_heartbeat_never_raises_and_reconnects_after_the_database_comes_back(monkeypatch):
    results = []

    def in_a_thread():
        # Own thread, own connection: the one this test holds is not disturbed.
        try:
            with monkeypatch.context() as patch:
                # (the same dict as every connection's settings_dict)
                patch.setitem(connections.settings["default"], "PORT", str(free_port()))
                results.append(heartbeats.beat("worker:flaky", "worker", {"pid": 1}))
            results.append(heartbeats.beat("worker:flaky", "worker", {"pid": 2}))
        finally:
            connections.close_all()

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(10)
    assert results == [False, True]
    assert Heartbeat.objects.get(name="worker:flaky").detail == {"pid": 2}


def test_the_worker_heartbeat_survives_a_database_outage(client):
    db = connections["default"].settings_dict
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)).start()
    url = f"postgis://{db['USER']}:{db['PASSWORD']}@127.0.0.1:{proxy.port}/{db['NAME']}"
    worker = start_worker("outage-worker", DATABASE_URL=url)
    name = f"worker:outage-worker@{socket.gethostname()}"
    try:
        wait_for(lambda: Heartbeat.objects.filter(name=name).exists(), timeout=10, message="the first heartbeat")
        proxy.cut()
        wait_for(
            lambda: f"heartbeat {name} not written" in worker.output(),
            timeout=10,
            interval=0.2,
            message="a heartbeat to fail",
        )
        proxy.restore()
        restored = timezone.now()
        wait_for(
            lambda: Heartbeat.objects.get(name=name).at > restored,
            timeout=10,
            interval=0.2,
            message="the heartbeat to resume",
        )
        assert client.get("/healthz").json()["worker"]["ok"] is True
        assert worker.popen.poll() is None
    finally:
        worker.stop()
        proxy.stop()


def test_a_readers_worker_is_reported_apart_and_never_stands_in_for_the_dispatch_worker(client):
    """The Procfile's `readers` (journal queue only) must not make a dead dispatch worker look alive."""
    purge_broker()
    readers = start_worker("health-readers", queues="journal")
    try:
        body = wait_for(lambda: (b := client.get("/healthz").json())["readers"]["ok"] and b, timeout=30,
                        message="the readers worker's heartbeat")
        assert body["worker"]["ok"] is False and "worker" in body["down"]
        [row] = body["readers"]["workers"]
        assert row["name"] == f"readers:health-readers@{socket.gethostname()}"
    finally:
        readers.stop()
    # Without it, deliveries wait but the centre is not "down" for that alone.
    alive()
    body = client.get("/healthz").json()
    assert body["readers"]["ok"] is False and body["down"] == [] and body["status"] == "ok"
