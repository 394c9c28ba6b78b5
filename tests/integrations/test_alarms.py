"""Alarms in: registered sources post alarms with their own token; each (source, external_id)
raises one call, also when repeats arrive at the same moment."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from calls.models import Call
from core.models import Event
from integrations.models import Alarm, AlarmSource
from tests.conftest import client_for
from tests.factories import new_call

pytestmark = pytest.mark.django_db

SERGEK = {"code": "sergek", "name": "Sergek cameras",
          "kinds": {"crash": {"incident_type": "traffic_accident_injury", "priority": 2, "hold": True}}}
SCHOOL = {"code": "school-42", "name": "School 42 panic button",
          "kinds": {"panic": {"incident_type": "assault", "hold": False}}}


def register(supervisor_client, body=SERGEK):
    response = supervisor_client.post("/api/v1/alarm-sources/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def alarm(**over):
    body = {"source": "sergek", "external_id": "cam7-000123", "kind": "crash", "lat": 51.128, "lon": 71.43,
            "occurred_at": timezone.now().isoformat(), "description": "Collision detected, 2 vehicles",
            "media_url": "https://media.sergek.example/clips/000123.mp4"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def sergek(supervisor_client):
    source = register(supervisor_client)
    return client_for(token=source["token"])


def test_registering_a_source_answers_its_id_and_a_token_that_posts_alarms(supervisor_client):
    source = register(supervisor_client)
    assert set(source) >= {"id", "code", "name", "kinds", "token"}
    assert source["kinds"]["crash"] == {"incident_type": "traffic_accident_injury", "priority": 2, "hold": True}
    listed = supervisor_client.get("/api/v1/alarm-sources/").json()
    assert [s["code"] for s in listed] == ["sergek"] and "token" not in listed[0]
    response = client_for(token=source["token"]).post("/api/v1/alarms/", alarm(), format="json")
    assert response.status_code == 201, response.content


def test_a_camera_alarm_is_an_alarm_call_held_for_an_operator_with_its_source_and_media(sergek, operator_client):
    response = sergek.post("/api/v1/alarms/", alarm(), format="json")
    assert response.status_code == 201, response.content
    call = response.json()
    assert call["channel"] == "alarm" and call["incident_type"] == "traffic_accident_injury"
    assert call["priority"] == 2 and call["hold_reason"] == "alarm_unconfirmed"
    assert call["location"]["lat"] == pytest.approx(51.128) and call["location"]["source"] == "alarm"
    assert call["alarm"]["source"] == "sergek" and call["alarm"]["kind"] == "crash"
    assert call["alarm"]["media_url"] == "https://media.sergek.example/clips/000123.mp4"
    assert call["alarm"]["external_id"] == "cam7-000123" and call["alarm"]["occurred_at"]
    stored = Call.objects.get(pk=call["id"])
    assert stored.created_by.username == "alarm-source-sergek"
    assert Event.objects.filter(call=stored, type="call.created").count() == 1
    # The operator confirms: Release dispatches it like any held call.
    released = operator_client.post(f"/api/v1/calls/{call['id']}/dispatch/")
    assert released.status_code == 200, released.content
    assert released.json()["hold_reason"] is None


def test_a_panic_button_is_dispatched_at_once(supervisor_client):
    school = client_for(token=register(supervisor_client, SCHOOL)["token"])
    response = school.post("/api/v1/alarms/", alarm(source="school-42", kind="panic", external_id="p-1",
                                                    media_url=None), format="json")
    assert response.status_code == 201, response.content
    call = response.json()
    assert call["hold_reason"] is None and call["channel"] == "alarm" and call["alarm"]["media_url"] is None
    assert Call.objects.get(pk=call["id"]).dispatch_requested_at is not None


def test_the_same_alarm_again_answers_200_with_the_same_call_and_writes_nothing(sergek):
    first = sergek.post("/api/v1/alarms/", alarm(), format="json")
    events = Event.objects.count()
    again = sergek.post("/api/v1/alarms/", alarm(description="sent again"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Call.objects.count() == 1 and Alarm.objects.count() == 1 and Event.objects.count() == events
    other = sergek.post("/api/v1/alarms/", alarm(external_id="cam7-000124"), format="json")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("body, field", [
    (alarm(source="other"), "source"),
    (alarm(kind="fire"), "kind"),
    (alarm(lat=91), "lat"),
    (alarm(lon="east"), "lon"),
    (alarm(lat="NaN"), "lat"),
    (alarm(occurred_at="yesterday"), "occurred_at"),
    (alarm(occurred_at=(timezone.now() + timedelta(hours=2)).isoformat()), "occurred_at"),
    (alarm(media_url="javascript:alert(1)"), "media_url"),
    (alarm(media_url="ftp://x.example/clip"), "media_url"),
    (alarm(external_id=""), "external_id"),
    (alarm(external_id="x" * 201), "external_id"),
    (alarm(description="x" * 5001), "description"),
    ({"source": "sergek", "kind": "crash", "lat": 51.1, "lon": 71.4}, "external_id"),
])
def test_a_bad_alarm_is_a_400_naming_the_field_and_writes_nothing(sergek, body, field):
    response = sergek.post("/api/v1/alarms/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert Call.objects.count() == 0 and Alarm.objects.count() == 0


def test_a_body_over_the_limit_is_refused_and_writes_nothing(sergek, settings):
    response = sergek.post("/api/v1/alarms/", alarm(description="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)),
                           format="json")
    assert response.status_code in (400, 413), response.content
    assert Call.objects.count() == 0


def test_a_token_speaks_only_for_its_own_source(supervisor_client):
    register(supervisor_client)
    school = client_for(token=register(supervisor_client, SCHOOL)["token"])
    response = school.post("/api/v1/alarms/", alarm(), format="json")
    assert response.status_code == 400 and "source" in response.json()
    assert Call.objects.count() == 0


def test_only_alarm_sources_post_alarms_and_only_supervisors_register_them(operator_client, gateway_client,
                                                                           supervisor_client, anon_client):
    register(supervisor_client)
    for client in (operator_client, gateway_client, supervisor_client):
        assert client.post("/api/v1/alarms/", alarm(), format="json").status_code == 403
    assert anon_client.post("/api/v1/alarms/", alarm(), format="json").status_code == 401
    assert operator_client.post("/api/v1/alarm-sources/", SCHOOL, format="json").status_code == 403
    assert operator_client.get("/api/v1/alarm-sources/").status_code == 403


@pytest.mark.parametrize("body, field", [
    ({**SERGEK, "code": "Bad Code"}, "code"),
    ({**SERGEK, "kinds": {}}, "kinds"),
    ({**SERGEK, "kinds": {"crash": {"incident_type": "no_such_type"}}}, "kinds"),
    ({**SERGEK, "kinds": {"crash": {"incident_type": "assault", "priority": 9}}}, "kinds"),
    ({**SERGEK, "kinds": {"crash": {"incident_type": "assault", "colour": "red"}}}, "kinds"),
    ({**SERGEK, "kinds": {"bad kind!": {"incident_type": "assault"}}}, "kinds"),
    ({"code": "x", "kinds": SERGEK["kinds"]}, "name"),
])
def test_a_bad_source_registration_is_a_400_naming_the_field(supervisor_client, body, field):
    response = supervisor_client.post("/api/v1/alarm-sources/", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert not AlarmSource.objects.exists()


def test_a_source_code_is_registered_once_changed_by_patch_and_deleted_with_its_token(supervisor_client):
    source = register(supervisor_client)
    again = supervisor_client.post("/api/v1/alarm-sources/", SERGEK, format="json")
    assert again.status_code == 400 and "code" in again.json()
    patched = supervisor_client.patch(f"/api/v1/alarm-sources/{source['id']}/",
                                      {"kinds": {"crash": {"incident_type": "traffic_accident_injury", "hold": False}}},
                                      format="json")
    assert patched.status_code == 200 and patched.json()["kinds"]["crash"]["hold"] is False
    device = client_for(token=source["token"])
    assert device.post("/api/v1/alarms/", alarm(), format="json").json()["hold_reason"] is None
    rotated = supervisor_client.post(f"/api/v1/alarm-sources/{source['id']}/token/").json()["token"]
    assert device.post("/api/v1/alarms/", alarm(external_id="2"), format="json").status_code == 401
    assert client_for(token=rotated).post("/api/v1/alarms/", alarm(external_id="2"), format="json").status_code == 201
    assert supervisor_client.delete(f"/api/v1/alarm-sources/{source['id']}/").status_code == 204
    assert client_for(token=rotated).post("/api/v1/alarms/", alarm(external_id="3"), format="json").status_code == 401
    assert Call.objects.count() == 2  # its calls stay
    # The code may be registered again (its account comes back with a new token).
    assert register(supervisor_client)["token"] not in (source["token"], rotated)


def test_a_camera_alarm_and_a_phone_call_about_the_same_crash_are_one_incident(sergek, operator_client):
    phone = new_call(code="traffic_accident_injury", lat=51.1281, lon=71.4302, accuracy=20)
    response = sergek.post("/api/v1/alarms/", alarm(), format="json")
    call = response.json()
    assert call["possible_duplicates"] == [phone.pk]
    alert = Event.objects.filter(call_id=call["id"], type="alert.raised", data__kind="possible_duplicate").get()
    assert alert.data["held"] is True
    merged = operator_client.post(f"/api/v1/calls/{call['id']}/merge/", {"into": phone.pk}, format="json")
    assert merged.status_code == 200, merged.content
    assert Call.objects.get(pk=call["id"]).merged_into_id == phone.pk
    # The other way round: a phone call after the alarm is flagged as its duplicate.
    second = sergek.post("/api/v1/alarms/", alarm(external_id="cam7-9", lat=51.2, lon=71.5), format="json").json()
    later = operator_client.post("/api/v1/calls/", {"incident_type": "traffic_accident_injury",
                                                    "location": {"lat": 51.2001, "lon": 71.5, "accuracy_m": 15}},
                                 format="json").json()
    assert later["possible_duplicates"] == [second["id"]]


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_of_one_alarm_raise_one_call(supervisor_client):
    token = register(supervisor_client)["token"]
    barrier = threading.Barrier(8)
    answers, errors = [], []

    def send():
        try:
            client = client_for(token=token)
            barrier.wait(10)
            response = client.post("/api/v1/alarms/", alarm(), format="json")
            answers.append((response.status_code, response.json()["id"]))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(code for code, _ in answers) == [200] * 7 + [201]
    assert len({call_id for _, call_id in answers}) == 1
    assert Call.objects.count() == 1 and Alarm.objects.count() == 1
    assert Event.objects.filter(type="call.created").count() == 1
