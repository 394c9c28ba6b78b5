"""REST API: auth, roles, validation (400 naming the field, nothing written), 404/409."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from calls.models import Call
from core.models import Event
from dispatch import services
from dispatch.models import Assignment
from tests.conftest import client_for, crew
from tests.factories import UnitFactory
from units.models import Unit

pytestmark = pytest.mark.django_db

CALLS = "/api/v1/calls/"
VALID = {"incident_type": "cardiac_arrest", "caller_phone": "+7 701 123 45 67",
         "location": {"lat": 51.128, "lon": 71.43, "accuracy_m": 15}}


def test_operator_logs_a_call_and_gets_the_spec_representation(operator_client):
    response = operator_client.post(CALLS, VALID, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith("C-") and body["status"] == "pending"
    assert body["priority"] == 1 and body["incident_type"] == "cardiac_arrest"
    assert body["caller_phone"] == "+77011234567"
    assert body["location"] == {"lat": 51.128, "lon": 71.43, "accuracy_m": 15.0, "source": "operator"}
    for field in ("received_at", "dispatched_at", "on_scene_at", "closed_at", "hold_reason", "possible_duplicates",
                  "merged_into", "unmet_needs", "assignments", "disposition"):
        assert field in body
    # Committed, with its journal row, before the 201.
    assert Call.objects.filter(pk=body["id"]).exists()
    assert Event.objects.filter(call_id=body["id"], type="call.created").exists()


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"incident_type": "alien_invasion"}, "incident_type"),
        ({**VALID, "priority": 0}, "priority"),
        ({**VALID, "priority": 5}, "priority"),
        ({**VALID, "priority": "high"}, "priority"),
        ({**VALID, "location": {"lat": 91, "lon": 71}}, "location"),
        ({**VALID, "location": {"lat": 51, "lon": -181}}, "location"),
        ({**VALID, "location": {"lat": "NaN", "lon": 71}}, "location"),
        ({**VALID, "location": {"lat": "Infinity", "lon": 71}}, "location"),
        ({**VALID, "location": {"lat": 51, "lon": 71, "accuracy_m": -1}}, "location"),
        ({**VALID, "location": "here"}, "location"),
        ({**VALID, "address": "Кенесары 40"}, "location"),
        ({**VALID, "caller_phone": "call me maybe"}, "caller_phone"),
        ({**VALID, "channel": "pigeon"}, "channel"),
        ({**VALID, "description": "x" * 5001}, "description"),
        ({}, "incident_type"),
    ],
)
def test_bad_call_input_is_a_400_naming_the_field_and_writes_nothing(operator_client, payload, field):
    response = operator_client.post(CALLS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Call.objects.count() == 0 and Event.objects.count() == 0


def test_malformed_json_and_nan_literals_are_400(operator_client):
    for body in ('{"incident_type": ', '{"incident_type": "other", "location": {"lat": NaN, "lon": 1}}', "[1,2"):
        response = operator_client.generic("POST", CALLS, body, content_type="application/json")
        assert response.status_code == 400, body
    assert Call.objects.count() == 0


def test_huge_body_is_refused_without_a_500(operator_client):
    body = json.dumps({"incident_type": "other", "description": "x" * (2 * 1024 * 1024)})
    response = operator_client.generic("POST", CALLS, body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert Call.objects.count() == 0


def test_roles_on_the_call_api(anon_client, gateway_client, operator_client, supervisor_client, unit_a):
    assert anon_client.get(CALLS).status_code == 401
    assert gateway_client.get(CALLS).status_code == 403
    assert crew(unit_a).get(CALLS).status_code == 403
    assert operator_client.get(CALLS).status_code == 200
    assert supervisor_client.get(CALLS).status_code == 200


def test_unknown_ids_are_404(operator_client):
    assert operator_client.get(f"{CALLS}999999/").status_code == 404
    assert operator_client.post(f"{CALLS}999999/close/", {"disposition": "resolved"}, format="json").status_code == 404
    created = operator_client.post(CALLS, VALID, format="json").json()
    assert operator_client.post(f"{CALLS}{created['id']}/assign/", {"unit": 424242}, format="json").status_code == 404
    assert operator_client.post(f"{CALLS}{created['id']}/merge/", {"into": 424242}, format="json").status_code == 404
    assert operator_client.post("/api/v1/assignments/999/cancel/", {}, format="json").status_code == 404


def test_close_with_disposition_then_impossible_moves_are_409(operator_client):
    created = operator_client.post(CALLS, VALID, format="json").json()
    url = f"{CALLS}{created['id']}"
    assert operator_client.post(f"{url}/close/", {"disposition": "teleported"}, format="json").status_code == 400
    closed = operator_client.post(f"{url}/close/", {"disposition": "false_alarm", "notes": "kids"}, format="json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = operator_client.post(f"{url}/close/", {"disposition": "false_alarm"}, format="json")
    assert again.status_code == 200  # repeating a transition is a no-op
    assert operator_client.post(f"{url}/cancel/", {}, format="json").status_code == 409
    assert operator_client.patch(f"{url}/", {"priority": 2}, format="json").status_code == 409


def test_assign_busy_unit_is_409_and_timeline_shows_every_step(operator_client, operator):
    busy = UnitFactory(service="police", status="en_route")
    free = UnitFactory(service="police")
    created = operator_client.post(CALLS, {**VALID, "incident_type": "noise_complaint"}, format="json").json()
    url = f"{CALLS}{created['id']}"
    response = operator_client.post(f"{url}/assign/", {"unit": busy.pk}, format="json")
    assert response.status_code == 409 and "detail" in response.json()
    response = operator_client.post(f"{url}/assign/", {"unit": free.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["assignments"][0]["unit"]["callsign"] == free.callsign
    operator_client.post(f"{url}/notes/", {"text": "caller is on the 3rd floor"}, format="json")
    timeline = operator_client.get(f"{url}/timeline/").json()
    assert [e["type"] for e in timeline][:1] == ["call.created"]
    assert any(e["summary"] == "note: caller is on the 3rd floor" and e["actor"] == operator.username for e in timeline)
    assert [e["id"] for e in timeline] == sorted(e["id"] for e in timeline)


def test_long_notes_and_closing_notes_are_kept_whole_and_a_note_over_the_limit_is_a_400(operator_client):
    created = operator_client.post(CALLS, {**VALID, "incident_type": "noise_complaint"}, format="json").json()
    url = f"{CALLS}{created['id']}"
    note = ("Caller describes the scene: " + "очень длинное описание " * 60).strip()  # ~1,400 characters
    assert operator_client.post(f"{url}/notes/", {"text": note}, format="json").status_code == 200
    too_long = operator_client.post(f"{url}/notes/", {"text": "x" * 2001}, format="json")
    assert too_long.status_code == 400 and "text" in too_long.json()
    closing = ("Handed over to the district officer. " * 50).strip()  # 1,849 characters
    assert operator_client.post(f"{url}/close/", {"disposition": "resolved", "notes": closing},
                                format="json").status_code == 200
    summaries = [e["summary"] for e in operator_client.get(f"{url}/timeline/").json()]
    assert f"note: {note}" in summaries
    assert f"closed: resolved {closing}" in summaries


def test_call_list_filters(operator_client):
    operator_client.post(CALLS, VALID, format="json")
    operator_client.post(CALLS, {"incident_type": "power_outage", "location": {"lat": 51.2, "lon": 71.5}},
                         format="json")
    assert len(operator_client.get(CALLS, {"incident_type": "power_outage"}).json()["results"]) == 1
    assert len(operator_client.get(CALLS, {"service": "utility"}).json()["results"]) == 1
    assert len(operator_client.get(CALLS, {"near": "51.128,71.43,500"}).json()["results"]) == 1
    assert len(operator_client.get(CALLS, {"status": "pending,dispatched"}).json()["results"]) == 2
    assert len(operator_client.get(CALLS, {"priority": "3"}).json()["results"]) == 1
    assert operator_client.get(CALLS, {"near": "north"}).status_code == 400
    assert operator_client.get(CALLS, {"status": "sleeping"}).status_code == 400
    assert operator_client.get(CALLS, {"received_after": "yesterday"}).status_code == 400


def test_events_feed_over_rest(operator_client, anon_client):
    operator_client.post(CALLS, VALID, format="json")
    page = operator_client.get("/api/v1/events/", {"since": 0}).json()
    assert page["results"][0]["type"] == "call.created"
    assert set(page["results"][0]) == {"id", "type", "at", "data"}
    last = page["last_id"]
    at_edge = operator_client.get("/api/v1/events/", {"since": last}).json()
    assert at_edge["results"] == [] and at_edge["last_id"] == last and "resync" not in at_edge
    # A cursor from beyond this journal (after a restore) is told to resync, not echoed.
    beyond = operator_client.get("/api/v1/events/", {"since": last + 1000}).json()
    assert beyond == {"results": [], "next": None, "previous": None, "last_id": last, "resync": True}
    assert operator_client.get("/api/v1/events/", {"since": "x"}).status_code == 400
    assert anon_client.get("/api/v1/events/").status_code == 401


def test_token_login_and_incident_types(anon_client, operator):
    response = anon_client.post("/api/v1/auth/token/", {"username": "op1", "password": "pass-1234-word"}, format="json")
    assert response.status_code == 200 and response.json()["expiry"]
    issued = response.json()["token"]
    assert anon_client.post("/api/v1/auth/token/", {"username": "op1", "password": "no"}, format="json").status_code == 400
    types = anon_client.get("/api/v1/incident-types/")
    assert types.status_code == 401
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {issued}")
    codes = {t["code"]: t for t in anon_client.get("/api/v1/incident-types/").json()}
    for code in ("traffic_accident_injury", "cardiac_arrest", "gas_leak", "building_fire", "power_outage",
                 "noise_complaint", "other"):
        assert code in codes
    assert codes["gas_leak"]["plan"] == [{"service": "utility", "capability": "gas", "count": 1},
                                         {"service": "fire", "capability": None, "count": 1}]
    assert codes["cardiac_arrest"]["name_kk"] and codes["cardiac_arrest"]["name_ru"]


def test_schema_and_docs_are_served(anon_client):
    schema = anon_client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/calls/" in schema.content
    assert anon_client.get("/api/docs/").status_code == 200


def test_browser_pages_redirect_anonymous_visitors_to_login(client):
    for url in ("/", "/supervisor/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_create_account_prints_a_new_token_last_and_rotates(capsys):
    call_command("create_account", "alice", "--role", "operator", "--password", "s3cret-pass")
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert client_for(token=first).get("/api/v1/incident-types/").status_code == 200
    call_command("create_account", "alice", "--role", "supervisor")
    second = capsys.readouterr().out.strip().splitlines()[-1]
    assert second != first
    assert client_for(token=first).get("/api/v1/incident-types/").status_code == 401
    assert client_for(token=second).get("/api/v1/stats/").status_code == 200  # a supervisor's endpoint
    alice = get_user_model().objects.get(username="alice")
    assert list(alice.groups.values_list("name", flat=True)) == ["supervisor"]


def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo", "--no-gazetteer", "--no-roads")
    count = Unit.objects.count()
    call_command("seed_demo", "--no-gazetteer", "--no-roads")
    assert Unit.objects.count() == count >= 40
    assert set(Unit.objects.values_list("service", flat=True)) == {"police", "medical", "fire", "utility"}
    assert Unit.objects.filter(status="available", location__isnull=False).count() == count
    out = capsys.readouterr().out
    assert "operator" in out and "/accounts/login/" in out


def test_seed_demo_units_come_through_the_services_and_the_journal():
    call_command("seed_demo", "--no-gazetteer", "--no-roads")
    unit = Unit.objects.get(callsign="P-101")
    summaries = list(Event.objects.filter(unit=unit, type="unit.updated").order_by("id").values_list("summary",
                                                                                                   flat=True))
    assert summaries[0] == "unit created" and "position" in summaries and summaries[-1].endswith("set available")


def test_a_restarted_run_command_leaves_changed_passwords_and_units_alone(capsys):
    """Issue 14: every `make run` re-ran seed_demo, resetting demo passwords and units."""
    call_command("seed_demo", "--no-gazetteer", "--no-roads", "--if-empty")  # the first start: empty database
    operator = get_user_model().objects.get(username="operator")
    operator.set_password("a-new-secret-pass")
    operator.save()
    unit = Unit.objects.get(callsign="P-101")
    services.unit_set_status(unit_id=unit.pk, status="out_of_service")
    Unit.objects.filter(pk=unit.pk).update(location_recorded_at=timezone.now() - timedelta(hours=5))
    events = Event.objects.count()
    capsys.readouterr()
    call_command("seed_demo", "--no-gazetteer", "--no-roads", "--if-empty")  # every later start
    assert "not added" in capsys.readouterr().out
    call_command("seed_demo", "--no-gazetteer", "--no-roads")  # even when asked for by hand
    out = capsys.readouterr().out
    operator.refresh_from_db()
    unit.refresh_from_db()
    assert operator.check_password("a-new-secret-pass")
    assert "exists, left unchanged" in out and "operator112" not in out and "API token" not in out
    assert unit.status == "out_of_service" and unit.location_recorded_at < timezone.now() - timedelta(hours=4)
    assert Event.objects.count() == events  # nothing rewritten behind the journal's back


def test_crew_acts_only_on_its_own_unit(unit_a, unit_b, operator_client):
    UnitFactory(service="medical", capabilities=["als"], status="out_of_service")
    created = operator_client.post(CALLS, VALID, format="json").json()
    from dispatch import engine

    engine.dispatch_call(created["id"])
    assignment = Assignment.objects.get(call_id=created["id"])
    owner, other = (unit_a, unit_b) if assignment.unit == unit_a else (unit_b, unit_a)
    url = f"/api/v1/assignments/{assignment.pk}"
    assert crew(other).post(f"{url}/acknowledge/").status_code == 404
    assert operator_client.post(f"{url}/acknowledge/").status_code == 403
    owner_client = crew(owner)
    response = owner_client.post(f"{url}/acknowledge/")
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"
    assert owner_client.post(f"{url}/acknowledge/").status_code == 200  # repeated: same state
    assert owner_client.post(f"{url}/decline/", {"reason": "too late"}, format="json").status_code == 409
    me = owner_client.get("/api/v1/me/").json()
    assert me["unit"]["id"] == owner.pk and me["assignment"]["id"] == assignment.pk
    assert me["call"]["id"] == created["id"]


def test_position_reports_never_move_a_unit_back(unit_a):
    client = crew(unit_a)
    newer = {"lat": 51.15, "lon": 71.45, "accuracy_m": 5, "recorded_at": "2030-01-01T10:00:10+05:00"}
    older = {"lat": 51.10, "lon": 71.40, "accuracy_m": 5, "recorded_at": "2030-01-01T10:00:00+05:00"}
    from django.utils import timezone

    now = timezone.now()
    newer["recorded_at"] = now.isoformat()
    older["recorded_at"] = (now - timezone.timedelta(seconds=10)).isoformat()
    assert client.post("/api/v1/me/location/", newer, format="json").status_code == 200
    response = client.post("/api/v1/me/location/", [older], format="json")
    assert response.status_code == 200
    assert response.json() == {"unit": unit_a.pk, "accepted": 1, "applied": False}
    unit_a.refresh_from_db()
    assert unit_a.location.y == pytest.approx(51.15)
    assert unit_a.positions.count() == 2
    for bad in ({"lat": 95, "lon": 1, "recorded_at": now.isoformat()}, {"lat": 51, "lon": 71}, [],
                {"lat": "NaN", "lon": 71, "recorded_at": now.isoformat()}):
        assert client.post("/api/v1/me/location/", bad, format="json").status_code == 400


def test_a_crews_whole_day_through_the_rest_api(operator_client, supervisor_client):
    from django.utils import timezone

    from dispatch import engine

    unit = supervisor_client.post("/api/v1/units/", {"callsign": "A-77", "service": "medical",
                                                     "capabilities": ["als"]}, format="json").json()
    assert unit["status"] == "out_of_service" and unit["location"] is None
    token = supervisor_client.post(f"/api/v1/units/{unit['id']}/token/").json()["token"]
    phone = client_for_token(token)
    assert phone.post("/api/v1/me/status/", {"status": "available"}, format="json").json()["status"] == "available"
    fix = {"lat": 51.129, "lon": 71.431, "accuracy_m": 8, "recorded_at": timezone.now().isoformat()}
    assert phone.post("/api/v1/me/location/", fix, format="json").json()["applied"] is True
    call = operator_client.post(CALLS, VALID, format="json").json()
    engine.dispatch_call(call["id"])
    me = phone.get("/api/v1/me/").json()
    assignment = me["assignment"]
    assert me["unit"]["status"] == "dispatched" and me["call"]["id"] == call["id"]
    url = f"/api/v1/assignments/{assignment['id']}"
    assert phone.post(f"{url}/acknowledge/").json()["status"] == "acknowledged"
    assert phone.get("/api/v1/me/").json()["unit"]["status"] == "en_route"
    assert phone.post(f"{url}/arrive/").json()["status"] == "on_scene"
    assert operator_client.get(f"{CALLS}{call['id']}/").json()["status"] == "on_scene"
    assert phone.post(f"{url}/clear/", {"transporting": True}, format="json").json()["status"] == "cleared"
    assert phone.get("/api/v1/me/").json()["unit"]["status"] == "transporting"
    assert phone.post("/api/v1/me/status/", {"status": "available"}, format="json").json()["status"] == "available"
    closed = operator_client.post(f"{CALLS}{call['id']}/close/", {"disposition": "transported"}, format="json")
    assert closed.json()["status"] == "closed"
    assert phone.post("/api/v1/me/status/", {"status": "out_of_service"}, format="json").json()["status"] == \
        "out_of_service"
    timeline = [e["summary"] for e in operator_client.get(f"{CALLS}{call['id']}/timeline/").json()]
    assert any("acknowledged" in s for s in timeline) and any("on scene" in s for s in timeline)


def client_for_token(token):
    from tests.conftest import client_for

    return client_for(token=token)
