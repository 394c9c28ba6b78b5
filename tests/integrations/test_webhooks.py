"""Events out: supervisors' subscriptions, delivered by journal readers to a real HTTP
receiver, signed, in journal order, at least once, whatever the partner does meanwhile."""

import hashlib
import hmac
import json
import threading

import pytest
from django.db import connection, transaction

from config.celery import app as celery_app
from core import readers
from core.journal import event_message, record_event
from core.models import Event, JournalReader
from integrations.models import Subscription
from tests.conftest import purge_broker, start_beat, start_worker, wait_for
from tests.factories import new_call
from tests.integrations.receiver import Receiver

SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def allowed(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1", "partner.example:8443"]
    settings.WEBHOOK_CONNECT_TIMEOUT_S = 1.0
    settings.WEBHOOK_READ_TIMEOUT_S = 2.0
    settings.JOURNAL_READER_BACKOFF_MAX_S = 300
    return settings


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.release.set()
    r.stop()


def subscribe(client, url, events=("*",), format="event", secret=SECRET):
    response = client.post("/api/v1/subscriptions/", {"url": url, "events": list(events), "format": format,
                                                      "secret": secret}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def note(call, text):
    with transaction.atomic():
        return record_event("call.updated", call=call, summary=text).id


def run(subscription_id):
    return readers.run(f"webhook:{subscription_id}")


def retry_now(subscription_id):
    JournalReader.objects.filter(pk=f"webhook:{subscription_id}").update(next_attempt_at=None)


# --- registration ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("change, field", [
    ({"url": "http://10.0.0.5/hook"}, "url"),
    ({"url": "http://localhost/hook"}, "url"),
    ({"url": "http://partner.example/hook"}, "url"),  # allowed only on port 8443
    ({"url": "ftp://127.0.0.1/hook"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"format": "xml"}, "format"),
    ({"events": ["call.exploded"]}, "events"),
    ({"events": []}, "events"),
    ({"events": ["*", "call.created"]}, "events"),
    ({"events": "call.created"}, "events"),
    ({"secret": None}, "secret"),
    ({"secret": "short"}, "secret"),
])
def test_a_bad_registration_is_a_400_naming_the_field(allowed, supervisor_client, change, field):
    body = {"url": "http://127.0.0.1:9/hook", "events": ["call.created"], "format": "event", "secret": SECRET, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = supervisor_client.post("/api/v1/subscriptions/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_no_host_is_allowed_unless_configured(settings, supervisor_client):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    response = supervisor_client.post("/api/v1/subscriptions/", {"url": "http://127.0.0.1/h", "events": ["*"],
                                                                 "secret": SECRET}, format="json")
    assert response.status_code == 400 and "url" in response.json()


@pytest.mark.django_db
def test_supervisors_list_get_pause_resume_and_delete_a_subscription(allowed, supervisor_client, operator_client):
    sub = subscribe(supervisor_client, "https://partner.example:8443/in", events=["call.created", "call.updated"])
    assert set(sub) >= {"id", "url", "events", "format", "last_delivered_id", "pending", "last_error",
                        "last_success_at", "paused"} and "secret" not in sub
    assert sub["pending"] == 0 and sub["paused"] is False
    new_call(lat=None)
    got = supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").json()
    assert got["pending"] == 1 and got["last_delivered_id"] == sub["last_delivered_id"]
    assert supervisor_client.patch(f"/api/v1/subscriptions/{sub['id']}/", {"paused": True},
                                   format="json").json()["paused"] is True
    assert f"webhook:{sub['id']}" not in readers.due_readers()
    assert supervisor_client.patch(f"/api/v1/subscriptions/{sub['id']}/", {"paused": False},
                                   format="json").json()["paused"] is False
    bad = supervisor_client.patch(f"/api/v1/subscriptions/{sub['id']}/", {"url": "http://10.1.1.1/"}, format="json")
    assert bad.status_code == 400 and "url" in bad.json()
    assert [s["id"] for s in supervisor_client.get("/api/v1/subscriptions/").json()] == [sub["id"]]
    assert operator_client.get("/api/v1/subscriptions/").status_code == 403
    assert operator_client.post("/api/v1/subscriptions/", {}, format="json").status_code == 403
    assert supervisor_client.delete(f"/api/v1/subscriptions/{sub['id']}/").status_code == 204
    assert not JournalReader.objects.filter(pk=f"webhook:{sub['id']}").exists()
    assert supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").status_code == 404


def test_reader_tasks_go_to_their_own_queue():
    """Not beside dispatch: a hanging partner holds up only the `readers` worker."""
    router = celery_app.amqp.router
    for task in ("core.tasks.run_journal_reader", "core.tasks.run_journal_readers"):
        assert router.route({}, task)["queue"].name == "journal"
    assert router.route({}, "dispatch.tasks.dispatch_call")["queue"].name != "journal"


# --- delivery ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_each_event_is_posted_signed_with_its_type_and_journal_id_from_the_live_edge(allowed, supervisor_client,
                                                                                     receiver):
    call = new_call(lat=None)
    before = Event.objects.latest("id").id
    sub = subscribe(supervisor_client, receiver.url, events=["call.updated"])
    ids = [note(call, "first"), note(call, "second")]
    new_call(lat=None)  # call.created: not subscribed
    assert run(sub["id"]) == "ok"
    assert receiver.deliveries() == ids and before not in receiver.deliveries()
    for (headers, body), event_id in zip(receiver.got, ids, strict=True):
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-dispatch-signature"], expected)
        assert headers["x-dispatch-event"] == "call.updated" and headers["content-type"] == "application/json"
        assert json.loads(body) == json.loads(json.dumps(event_message(Event.objects.get(pk=event_id))))
    state = supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").json()
    assert state["pending"] == 0 and state["last_error"] is None and state["last_success_at"]


@pytest.mark.django_db(transaction=True)
def test_a_partner_down_refusing_then_failing_gets_everything_in_order_when_back(allowed, supervisor_client):
    receiver = Receiver()  # not started: connections refused
    sub = subscribe(supervisor_client, receiver.url)
    call = new_call(lat=None)
    expected = list(Event.objects.filter(id__gt=sub["last_delivered_id"]).order_by("id").values_list("id", flat=True))
    assert run(sub["id"]) == "failed"
    state = supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").json()
    assert state["last_delivered_id"] == sub["last_delivered_id"] and state["pending"] == len(expected)
    assert "Connection" in state["last_error"]
    assert run(sub["id"]) == "waiting"  # backing off

    receiver.mode = "fail"
    receiver.start()
    try:
        expected.append(note(call, "while it fails"))
        retry_now(sub["id"])
        assert run(sub["id"]) == "failed"
        assert "HTTP 500" in supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").json()["last_error"]
        assert JournalReader.objects.get(pk=f"webhook:{sub['id']}").failures == 2

        receiver.mode = "ok"
        expected.append(note(call, "when it is back"))
        retry_now(sub["id"])
        assert run(sub["id"]) == "ok"
        assert receiver.deliveries() == expected  # each once past its 500s, in journal order
        arrived = [int(h["x-dispatch-delivery"]) for h, _ in receiver.got]
        assert arrived == sorted(arrived)  # a retry repeats the same event; nothing overtakes
        state = supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").json()
        assert state["pending"] == 0 and state["last_error"] is None and state["last_delivered_id"] == expected[-1]
    finally:
        receiver.stop()


@pytest.mark.django_db(transaction=True)
def test_a_hanging_partner_does_not_hold_up_another_subscriber(allowed, supervisor_client, receiver):
    allowed.WEBHOOK_READ_TIMEOUT_S = 20
    fast = Receiver().start()
    try:
        receiver.mode = "hold"
        slow_sub = subscribe(supervisor_client, receiver.url)
        fast_sub = subscribe(supervisor_client, fast.url)
        call = new_call(lat=None)
        ids = [note(call, str(i)) for i in range(3)]
        outcome = {}

        def run_slow():
            try:
                outcome["slow"] = run(slow_sub["id"])
            finally:
                connection.close()

        slow = threading.Thread(target=run_slow)
        slow.start()
        wait_for(lambda: receiver.got, message="the slow partner to be holding a request")
        assert run(fast_sub["id"]) == "ok"
        assert set(ids) <= set(fast.deliveries())
        assert slow.is_alive() and "slow" not in outcome  # still stuck in its first request
        receiver.release.set()
        receiver.mode = "ok"
        slow.join(30)
        assert outcome["slow"] == "ok"
        retry_now(slow_sub["id"])
        while run(slow_sub["id"]) == "ok" and set(ids) - set(receiver.deliveries()):
            pass
        assert receiver.deliveries() == fast.deliveries()
    finally:
        fast.stop()


@pytest.mark.django_db(transaction=True)
def test_a_deleted_subscription_is_no_longer_run(allowed, supervisor_client, receiver):
    sub = subscribe(supervisor_client, receiver.url)
    supervisor_client.delete(f"/api/v1/subscriptions/{sub['id']}/")
    new_call(lat=None)
    assert run(sub["id"]) == "unknown" and receiver.got == []
    assert f"webhook:{sub['id']}" not in readers.due_readers()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_and_the_readers_worker_deliver_a_new_call_to_a_partner(allowed, supervisor_client, operator_client,
                                                                     receiver):
    env = {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "JOURNAL_READERS_INTERVAL_S": "0.5"}
    purge_broker()
    worker = start_worker("webhook-readers", queues="journal", **env)
    beat = start_beat("webhook-beat", **env)
    try:
        sub = subscribe(supervisor_client, receiver.url, events=["call.created", "call.updated"])
        call = operator_client.post("/api/v1/calls/", {"incident_type": "other"}, format="json").json()
        operator_client.post(f"/api/v1/calls/{call['id']}/notes/", {"text": "hello partner"}, format="json")
        expected = list(Event.objects.filter(call_id=call["id"], type__in=["call.created", "call.updated"])
                        .order_by("id").values_list("id", flat=True))
        wait_for(lambda: set(expected) <= set(receiver.deliveries()), timeout=30,
                 message="the partner to receive the call's events:\n" + worker.output()[-2000:])
        assert receiver.deliveries() == expected
        bodies = receiver.bodies()
        assert bodies[0]["type"] == "call.created" and bodies[0]["data"]["id"] == call["id"]
        state = supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").json()
        wait_for(lambda: supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").json()["pending"] == 0,
                 message="the cursor to pass the delivered events")
        assert state["last_error"] is None
    finally:
        beat.stop()
        worker.stop()
