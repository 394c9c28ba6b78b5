"""format "eido": each event about a call is posted as the call's NENA EIDO JSON, valid
against NENA's published schema (integrations/schema/, NENA-STA-021.1)."""

import json
from pathlib import Path

import jsonschema
import pytest
from django.db import transaction

from core import readers
from core.journal import record_event
from dispatch.eido import call_eido
from tests.conftest import client_for
from tests.factories import UnitFactory, new_call
from tests.integrations.receiver import Receiver
from tests.integrations.test_webhooks import subscribe

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "integrations" / "schema" / "eido-1.0.0.json"


@pytest.fixture(scope="module")
def eido_validator():
    components = json.loads(SCHEMA_FILE.read_text())["components"]
    schema = {"$ref": "#/components/schemas/EmergencyIncidentDataObjectType", "components": components}
    validator_class = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def assert_valid(validator, document):
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.mark.django_db(transaction=True)
def test_eido_subscribers_get_each_call_event_as_a_schema_valid_eido(settings, supervisor_client, eido_validator):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver = Receiver().start()
    try:
        sub = subscribe(supervisor_client, receiver.url, format="eido")
        source = supervisor_client.post("/api/v1/alarm-sources/", {
            "code": "sergek", "name": "Sergek", "kinds": {"crash": {"incident_type": "traffic_accident_injury",
                                                                   "hold": True}}}, format="json").json()
        alarm = client_for(token=source["token"]).post("/api/v1/alarms/", {
            "source": "sergek", "external_id": "e-1", "kind": "crash", "lat": 51.13, "lon": 71.43,
            "occurred_at": "2026-03-01T10:00:00+05:00", "description": "crash",
            "media_url": "https://media.example/clip/e-1.mp4"}, format="json").json()
        unit = UnitFactory(callsign="P-7", service="police")
        with transaction.atomic():
            record_event("unit.updated", unit=unit)  # not about a call: nothing sent
        while readers.run(f"webhook:{sub['id']}") == "ok" and \
                supervisor_client.get(f"/api/v1/subscriptions/{sub['id']}/").json()["pending"]:
            pass
        assert receiver.got, "nothing delivered"
        assert {h["x-dispatch-event"] for h, _ in receiver.got} <= {"call.created", "call.updated", "alert.raised"}
        for headers, body in receiver.got:
            document = json.loads(body)
            assert_valid(eido_validator, document)
            assert document["incidentComponent"]["internalIncidentId"] == alarm["reference"]
            assert headers["x-dispatch-signature"].startswith("sha256=")
        document = json.loads(receiver.got[-1][1])
        assert document["callComponent"][0]["localCallType"] == "alarm"
        (sensor,) = document["alarmsSensorsComponent"]
        assert "sergek" in sensor["csaaAlarmInformation"] and sensor["alarmUrl"] == "https://media.example/clip/e-1.mp4"
        (media,) = document["mediaComponent"]
        assert media["uri"] == "https://media.example/clip/e-1.mp4" and media["contentType"] == "video/mp4"
    finally:
        receiver.stop()


@pytest.mark.django_db
def test_the_eido_of_an_ordinary_call_is_schema_valid_too(eido_validator, operator):
    call = new_call(caller_phone="+77011234567", description="chest pain")
    document = call_eido(call_id=call.pk)
    assert_valid(eido_validator, document)
    assert "alarmsSensorsComponent" not in document


def test_the_schema_catches_a_broken_document(eido_validator):
    """The copy is strict enough to matter: a missing required part is an error."""
    errors = list(eido_validator.iter_errors({"$id": "x", "eidoVersion": "2.0"}))
    assert errors


@pytest.mark.django_db
def test_the_supervisors_eido_of_an_alarm_call_carries_the_alarm_too(eido_validator, supervisor_client):
    alarm = {"source": "sergek", "source_name": "Sergek", "kind": "crash", "external_id": "e-9",
             "occurred_at": "2026-12-01T10:00:00+05:00", "media_url": "https://media.example/clip/e-9.jpg"}
    call = new_call(code="traffic_accident_injury", channel="alarm", alarm=alarm)
    response = supervisor_client.get(f"/api/v1/calls/{call.pk}/eido/")
    assert response.status_code == 200
    document = response.json()
    assert_valid(eido_validator, document)
    (sensor,) = document["alarmsSensorsComponent"]
    assert "Sergek" in sensor["csaaAlarmInformation"] and sensor["alarmUrl"].endswith("e-9.jpg")
    assert document["mediaComponent"][0]["contentType"] == "image/jpeg"
