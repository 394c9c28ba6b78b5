"""GET /metrics: Prometheus text read from PostgreSQL at scrape time; loopback or supervisors."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from calls.models import Call
from core import readers
from core.models import Event, JournalReader
from ops import prometheus
from ops.models import Heartbeat
from tests.conftest import wait_for
from tests.factories import UnitFactory, new_call, token_for

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture(autouse=True)
def _fresh_histogram(monkeypatch):
    """Each test is a new process as far as the settled part of the histogram goes."""
    monkeypatch.setattr(prometheus, "_settled", {"upto": None, "counts": [0] * len(prometheus.DISPATCH_BUCKETS_S),
                                                 "count": 0, "sum": 0.0})


def samples(text):
    """{(sample name, frozenset(labels)): value}"""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def call(priority, status, dispatch_s=None, unmet=()):
    made = new_call()
    received = timezone.now() - timedelta(hours=1)
    Call.objects.filter(pk=made.pk).update(
        priority=priority,
        status=status,
        received_at=received,
        dispatched_at=None if dispatch_s is None else received + timedelta(seconds=dispatch_s),
        unmet_needs=list(unmet),
    )


@pytest.mark.django_db
def test_metrics_for_a_known_centre(client):
    unmet = [{"service": "fire", "capability": None, "count": 1, "reason": "all_busy"}]
    call(1, "pending")
    call(1, "dispatched", dispatch_s=4)
    call(3, "dispatched", dispatch_s=50, unmet=unmet)
    call(2, "closed", dispatch_s=700)
    call(1, "cancelled")
    UnitFactory.create_batch(2, service="medical", status="available")
    UnitFactory(service="police", status="en_route")
    UnitFactory(service="fire", status="out_of_service")
    now = timezone.now()
    Heartbeat.objects.create(name="sweep", kind="sweep", at=now - timedelta(seconds=2))
    Heartbeat.objects.create(name="worker:w1@a", kind="worker", at=now - timedelta(seconds=1))
    Heartbeat.objects.create(name="worker:w2@b", kind="worker", at=now - timedelta(minutes=5))
    Heartbeat.objects.create(name="beat:a:1", kind="beat", at=now, detail={"leader": True})
    Heartbeat.objects.create(name="web:a:1", kind="web", at=now, detail={"websockets": 3})
    Heartbeat.objects.create(name="web:a:2", kind="web", at=now, detail={"websockets": 1})
    Heartbeat.objects.create(name="web:b:9", kind="web", at=now - timedelta(minutes=1), detail={"websockets": 5})

    response = client.get("/metrics")  # the test client's REMOTE_ADDR is 127.0.0.1
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    text = response.content.decode()
    assert 'dispatch112_open_calls{priority="1"} 2.0\n' in text
    got = samples(text)

    def value(name, **labels):
        return got[(name, frozenset(labels.items()))]

    assert [value("dispatch112_open_calls", priority=p) for p in "1234"] == [2, 0, 1, 0]
    assert [value("dispatch112_waiting_calls", priority=p) for p in "1234"] == [1, 0, 1, 0]
    assert value("dispatch112_available_units", service="medical") == 2
    assert value("dispatch112_available_units", service="police") == 0
    assert value("dispatch112_units", service="police", status="en_route") == 1
    assert value("dispatch112_units", service="fire", status="out_of_service") == 1
    assert value("dispatch112_units", service="utility", status="available") == 0
    assert 2 <= value("dispatch112_sweep_age_seconds") < 60  # ages written 2 s and 1 s ago
    assert 1 <= value("dispatch112_worker_heartbeat_age_seconds") < 60
    assert value("dispatch112_workers_alive") == 1
    assert value("dispatch112_beat_leaders") == 1
    assert value("dispatch112_websocket_clients") == 4  # the stale process is not counted

    # 4 s, 50 s and 700 s: cumulative buckets, +Inf = count.
    buckets = {dict(k)["le"]: v for (name, k), v in got.items() if name == "dispatch112_call_dispatch_seconds_bucket"}
    bounds = ["1.0", "2.0", "5.0", "10.0", "15.0", "30.0", "45.0", "60.0", "90.0", "120.0", "300.0", "600.0", "1800.0"]
    assert buckets == dict(zip([*bounds, "+Inf"], [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3]))
    assert value("dispatch112_call_dispatch_seconds_count") == 3
    assert value("dispatch112_call_dispatch_seconds_sum") == pytest.approx(754)


@pytest.mark.django_db
def test_without_heartbeats_ages_are_infinite_and_counts_zero(client):
    got = samples(client.get("/metrics").content.decode())
    assert got[("dispatch112_sweep_age_seconds", frozenset())] == float("inf")
    assert got[("dispatch112_worker_heartbeat_age_seconds", frozenset())] == float("inf")
    assert got[("dispatch112_workers_alive", frozenset())] == 0
    assert got[("dispatch112_websocket_clients", frozenset())] == 0
    assert got[("dispatch112_call_dispatch_seconds_count", frozenset())] == 0


@pytest.mark.django_db
def test_the_histogram_counts_each_call_once_as_calls_settle(client, monkeypatch):
    def histogram():
        got = samples(client.get("/metrics").content.decode())
        return (got[("dispatch112_call_dispatch_seconds_count", frozenset())],
                got[("dispatch112_call_dispatch_seconds_bucket", frozenset({("le", "5.0")}))])

    call(1, "dispatched", dispatch_s=3)  # an hour ago: settled at the first scrape
    assert histogram() == (1, 1)
    recent = new_call()
    now = timezone.now()
    Call.objects.filter(pk=recent.pk).update(status="dispatched", received_at=now - timedelta(seconds=20),
                                             dispatched_at=now)
    assert histogram() == (2, 1)  # dispatched just now: in the live part
    assert histogram() == (2, 1)  # and not counted twice
    monkeypatch.setattr(prometheus, "SETTLE_S", 0.0)
    assert histogram() == (2, 1)  # moved into the settled part, still once
    assert histogram() == (2, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "remote,headers,persona,expected",
    [
        ("127.0.0.1", {}, None, 200),
        ("::1", {}, None, 200),
        ("::ffff:127.0.0.1", {}, None, 200),
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}, None, 403),
        ("127.0.0.1", {"HTTP_FORWARDED": "for=203.0.113.7"}, None, 403),
        ("127.0.0.1", {"HTTP_X_REAL_IP": "203.0.113.7"}, None, 403),
        ("10.0.0.5", {}, None, 403),
        ("10.0.0.5", {"HTTP_AUTHORIZATION": "Token not-a-token"}, None, 403),
        ("10.0.0.5", {}, "operator", 403),
        ("10.0.0.5", {}, "gateway", 403),
        ("10.0.0.5", {}, "supervisor", 200),
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "supervisor", 200),
        ("10.0.0.5", {}, "supervisor-session", 200),
        ("10.0.0.5", {}, "operator-session", 403),
    ],
)
def test_who_may_read_metrics(request, remote, headers, persona, expected):
    client = Client(REMOTE_ADDR=remote)
    if persona:
        role, _, how = persona.partition("-")
        user = request.getfixturevalue(role)
        if how == "session":
            client.force_login(user)
        else:
            headers = {**headers, "HTTP_AUTHORIZATION": f"Token {token_for(user)}"}
    response = client.get("/metrics", **headers)
    assert response.status_code == expected, response.content[:200]
    if expected == 403:
        assert b"dispatch112_" not in response.content


@pytest.mark.realtime
def test_websocket_clients_of_a_real_server_are_counted(asgi_server, operator, client):
    url = f"ws://127.0.0.1:{asgi_server.port}/ws/events/?token={token_for(operator)}"

    def clients():
        return samples(client.get("/metrics").content.decode())[("dispatch112_websocket_clients", frozenset())]

    def web_row(websockets_open):
        row = Heartbeat.objects.filter(kind="web").first()
        return row is not None and row.detail["websockets"] == websockets_open

    with connect(url, open_timeout=5):
        wait_for(lambda: web_row(1), timeout=10, interval=0.1, message="the web heartbeat")
        assert clients() == 1
    # The next beat (every 5 s) reports the socket gone.
    wait_for(lambda: web_row(0), timeout=10, interval=0.1, message="the web heartbeat after the close")
    assert clients() == 0


@pytest.mark.django_db
def test_each_journal_reader_reports_its_lag_and_failures(client):
    readers.register("metrics-probe", lambda events: None)
    try:
        made = new_call()
        JournalReader.objects.create(name="metrics-probe", last_id=0, failures=3)
        got = samples(client.get("/metrics").content.decode())
        newest = Event.objects.filter(call=made).latest("id").id
        assert got[("dispatch112_journal_reader_lag_events", frozenset({("reader", "metrics-probe")}))] == newest
        assert got[("dispatch112_journal_reader_failures", frozenset({("reader", "metrics-probe")}))] == 3
    finally:
        readers.unregister("metrics-probe")
