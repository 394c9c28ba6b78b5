"""The ASGI fast path for position reports answers exactly like the Django view."""

import json
import threading
import urllib.error
import urllib.request

import psycopg
import pytest
import websockets.sync.client
from django.utils import timezone
from psycopg.conninfo import make_conninfo

from config.db import libpq_params
from core.journal import JOURNAL_LOCK_KEY
from core.models import Event
from tests.conftest import client_for, crew, wait_for
from tests.factories import UnitFactory, token_for
from tests.realtime.test_faults import _dsn

pytestmark = pytest.mark.realtime

URL = "/api/v1/me/location/"


def post_raw(port, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{URL}", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_fast_path_and_django_view_agree_on_every_case(asgi_server, operator):
    unit = UnitFactory(service="police", location_recorded_at=timezone.now() - timezone.timedelta(minutes=2))
    device = crew(unit)
    unit.refresh_from_db()
    token = token_for(unit.user)
    now = timezone.now()

    def fix(seconds, lat=51.13):
        return {"lat": lat, "lon": 71.43, "accuracy_m": 5, "recorded_at": (now - timezone.timedelta(seconds=seconds)).isoformat()}

    cases = [
        ("single fix", json.dumps(fix(30)).encode(), token),
        ("batch", json.dumps([fix(20), fix(10, 51.14)]).encode(), token),
        ("older fix", json.dumps(fix(60)).encode(), token),
        ("empty batch", b"[]", token),
        ("latitude out of range", json.dumps({**fix(5), "lat": 95}).encode(), token),
        ("NaN string", json.dumps({**fix(5), "lat": "NaN"}).encode(), token),
        ("missing recorded_at", json.dumps({"lat": 51.1, "lon": 71.4}).encode(), token),
        ("not an object", b'"hello"', token),
        ("no token", json.dumps(fix(5)).encode(), None),
        ("bad token", json.dumps(fix(5)).encode(), "nope"),
        ("operator token", json.dumps(fix(5)).encode(), token_for(operator)),
    ]
    for name, body, tok in cases:
        fast_status, fast_body = post_raw(asgi_server.port, body, tok)
        client = client_for(token=tok) if tok else client_for()
        view = client.generic("POST", URL, body, content_type="application/json")
        assert fast_status == view.status_code, name
        if fast_status == 200:
            assert fast_body.keys() == view.json().keys(), name
        else:
            assert set(fast_body) == set(view.json()), (name, fast_body, view.json())
    for body in (b'{"lat": NaN, "lon": 1}', b"{broken", b"x" * (2 * 1024 * 1024)):
        status, _ = post_raw(asgi_server.port, body, token)
        assert status in (400, 413)
    unit.refresh_from_db()
    assert unit.location.y == pytest.approx(51.14)  # the newest fix of the batch, never the older one
    assert unit.positions.count() >= 4
    # The journal row is written after the report committed: it carries the new position.
    first = Event.objects.filter(unit=unit, type="unit.updated", summary="position").order_by("id").first()
    assert first.data["location"]["lat"] == pytest.approx(51.13)
    # The crew's own view of its unit (the Django path, its own token) shows what the fast path stored.
    me = device.get("/api/v1/me/").json()["unit"]
    assert me["id"] == unit.pk and me["location"]["lat"] == pytest.approx(51.14)


def test_a_position_waiting_on_the_journal_lock_does_not_stall_the_process(asgi_server, operator):
    """Issue 13, item 5: the position's journal row waited for the journal lock on the
    process's one shared sync thread, and every websocket handshake waited behind it."""
    unit = UnitFactory(service="police")
    crew(unit)
    unit.refresh_from_db()
    token = token_for(unit.user)
    holder = psycopg.connect(_dsn(), autocommit=True)
    answers = []
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", [JOURNAL_LOCK_KEY])  # a long writer elsewhere
        body = json.dumps({"lat": 51.2, "lon": 71.5, "accuracy_m": 5,
                           "recorded_at": timezone.now().isoformat()}).encode()
        report = threading.Thread(target=lambda: answers.append(post_raw(asgi_server.port, body, token)))
        report.start()
        wait_for(lambda: _waiting_on_journal_lock(holder), message="the position's journal row to wait")
        # While it waits, an operator's console connects and is served by the same process.
        url = f"ws://127.0.0.1:{asgi_server.port}/ws/events/?token={token_for(operator)}"
        with websockets.sync.client.connect(url, open_timeout=5) as ws:
            ws.send('{"type": "ping"}')
            assert json.loads(ws.recv(timeout=5))["type"] == "pong"
        assert answers == []  # the report is still waiting: the lock was never released
    finally:
        holder.execute("SELECT pg_advisory_unlock(%s)", [JOURNAL_LOCK_KEY])
        holder.close()
    report.join(15)
    assert answers and answers[0][0] == 200


def _waiting_on_journal_lock(conn):
    (count,) = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()
    return count > 0


@pytest.mark.django_db
def test_the_fast_path_connects_with_djangos_parameters_and_server_limits():
    """Its pool used to format host/port/user/password itself: libpq options (the server
    timeouts, sslmode, certificates) from DATABASE_URL were lost."""
    with psycopg.connect(make_conninfo("", **libpq_params())) as conn:
        (value,) = conn.execute("SHOW idle_in_transaction_session_timeout").fetchone()
    assert value == "1min"
