"""POST /api/v1/aml/: the gateway's fixes reach the caller's call; every message is kept."""

import pytest

from calls.models import AmlMessage, Call
from core.models import Event
from dispatch import engine
from tests.calls.test_aml_parser import v1
from tests.conftest import point
from tests.factories import UnitFactory

pytestmark = pytest.mark.django_db

AML = "/api/v1/aml/"
CALLER = "+77011234567"


def test_only_the_gateway_may_post(anon_client, operator_client, gateway_client):
    body = {"msisdn": CALLER, "message": v1()}
    assert anon_client.post(AML, body, format="json").status_code == 401
    assert operator_client.post(AML, body, format="json").status_code == 403
    assert gateway_client.post(AML, body, format="json").status_code == 201


def test_fix_attaches_to_the_open_call_and_better_fix_replaces_worse(gateway_client, operator_client):
    call = operator_client.post("/api/v1/calls/", {
        "incident_type": "cardiac_arrest", "caller_phone": "8 701 123 45 67",
        "location": {"lat": 51.2, "lon": 71.5, "accuracy_m": 500}}, format="json").json()
    response = gateway_client.post(AML, {"msisdn": CALLER, "message": v1(rd="15")}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["fix"]["lat"] == pytest.approx(51.12845) and body["fix"]["accuracy_m"] == 15
    assert body["call"] == {"id": call["id"]}
    # The operator sees the call moved to the fix (the gateway is only told which call).
    assert operator_client.get(f"/api/v1/calls/{call['id']}/").json()["location"] == {
        "lat": pytest.approx(51.12845), "lon": pytest.approx(71.43046), "accuracy_m": 15.0, "source": "aml"}
    assert Event.objects.filter(call_id=call["id"], type="call.updated", summary__startswith="AML").count() == 1
    # A worse fix is stored and linked, but does not move the call.
    gateway_client.post(AML, {"msisdn": CALLER, "message": v1(rd="80", lt="+51.20000")}, format="json")
    assert Call.objects.get(pk=call["id"]).location_accuracy_m == 15
    assert AmlMessage.objects.filter(call_id=call["id"]).count() == 2


def test_fix_before_the_call_is_attached_to_the_next_call_from_that_number(gateway_client, operator_client):
    gateway_client.post(AML, {"msisdn": CALLER, "message": v1()}, format="json")
    call = operator_client.post("/api/v1/calls/", {"incident_type": "cardiac_arrest", "caller_phone": CALLER},
                                format="json").json()
    assert call["location"]["source"] == "aml" and call["location"]["accuracy_m"] == 15
    assert not Event.objects.filter(call_id=call["id"], type="alert.raised", data__kind="no_location").exists()


def test_the_gateway_learns_which_call_and_nothing_about_it(gateway_client, operator_client):
    """A gateway account names any number: the answer must not read out the call behind it."""
    secrets = {"caller_name": "Aigerim Secretova", "description": "confidential: domestic violence, 3rd floor"}
    unit = UnitFactory(service="medical", capabilities=["als"], callsign="MED-SECRET-9", location=point(51.2, 71.5))
    created = operator_client.post("/api/v1/calls/", {
        "incident_type": "cardiac_arrest", "caller_phone": CALLER, **secrets,
        "location": {"lat": 51.2, "lon": 71.5, "accuracy_m": 500}}, format="json")
    assert created.status_code == 201, created.content
    call_id = created.json()["id"]
    engine.dispatch_call(call_id)
    call = operator_client.get(f"/api/v1/calls/{call_id}/").json()
    assert unit.callsign in [a["unit"]["callsign"] for a in call["assignments"]]  # there is something to leak

    response = gateway_client.post(AML, {"msisdn": CALLER, "message": v1()}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body == {"fix": body["fix"], "call": {"id": call_id}}
    assert set(body["fix"]) == {"id", "msisdn", "lat", "lon", "accuracy_m", "fix_time", "positioning", "warnings"}
    text = response.content.decode()
    for leak in [*secrets.values(), call["reference"], unit.callsign, "assignments", "caller_name", "description",
                 "address"]:
        assert leak not in text
    # The fix still reached the call.
    assert operator_client.get(f"/api/v1/calls/{call_id}/").json()["location"]["source"] == "aml"


@pytest.mark.parametrize(
    "message,words",
    [
        (v1(pm="N"), "fix"),
        (v1(lt="+95.00000"), "lt"),
        ("hello", "AML"),
    ],
)
def test_rejected_message_is_400_with_the_reason_and_still_stored(gateway_client, message, words):
    response = gateway_client.post(AML, {"msisdn": CALLER, "message": message}, format="json")
    assert response.status_code == 400
    reason = response.json()["message"][0]
    assert words.lower() in reason.lower()
    stored = AmlMessage.objects.get()
    assert stored.accepted is False and stored.reason == reason and stored.raw == message


def test_a_message_whose_length_field_is_wrong_is_used_and_flagged(gateway_client, operator_client):
    call = operator_client.post("/api/v1/calls/", {"incident_type": "cardiac_arrest", "caller_phone": CALLER},
                                format="json").json()
    message = v1().rsplit("ml=", 1)[0] + "ml=10"
    response = gateway_client.post(AML, {"msisdn": CALLER, "message": message}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["fix"]["warnings"] == [f"ml: declared length 10 but message has {len(message)} characters"]
    assert body["call"] == {"id": call["id"]}
    assert operator_client.get(f"/api/v1/calls/{call['id']}/").json()["location"]["source"] == "aml"
    stored = AmlMessage.objects.get()
    assert stored.accepted is True and stored.parsed["warnings"] == body["fix"]["warnings"]


def test_missing_or_huge_message_is_a_field_error(gateway_client):
    assert "message" in gateway_client.post(AML, {"msisdn": CALLER}, format="json").json()
    assert gateway_client.post(AML, {"msisdn": CALLER, "message": "x" * 5000}, format="json").status_code == 400
