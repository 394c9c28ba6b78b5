"""Call history for supervisors: the extra filters (operator, unit, bbox) and who may read
what (operators read history; only supervisors export, read statistics, EIDO and tracks)."""

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from dispatch import engine
from tests.conftest import client_for, crew, point
from tests.factories import UnitFactory, make_user, new_call, token_for

from .builders import make_assignment, make_call

pytestmark = pytest.mark.django_db

CALLS = "/api/v1/calls/"


def refs(response):
    assert response.status_code == 200, response.content
    return [c["reference"] for c in response.json()["results"]]


def test_operator_filter_finds_the_calls_a_user_logged(supervisor_client, operator):
    other = make_user("op2", "operator")
    now = timezone.now()
    mine = make_call(now, created_by=operator)
    make_call(now - timedelta(minutes=1), created_by=other)
    make_call(now - timedelta(minutes=2))
    assert refs(supervisor_client.get(CALLS, {"operator": "op1"})) == [mine.reference]
    assert refs(supervisor_client.get(CALLS, {"operator": "nobody"})) == []


def test_unit_filter_finds_each_call_once_even_when_the_unit_went_twice(supervisor_client):
    unit, other = UnitFactory(), UnitFactory()
    now = timezone.now()
    call = make_call(now)
    make_assignment(call, unit, after_s=5, status="declined")
    make_assignment(call, unit, after_s=60)
    make_assignment(make_call(now - timedelta(minutes=5)), other, after_s=5)
    assert refs(supervisor_client.get(CALLS, {"unit": unit.pk})) == [call.reference]
    assert supervisor_client.get(CALLS, {"unit": "A-1"}).status_code == 400


def test_bbox_keeps_the_lat_lon_rectangle_of_the_map(supervisor_client):
    now = timezone.now()
    inside = make_call(now, location=point(51.10, 71.40))
    # 55 m inside the southern edge, halfway across a 1°-wide box: a geodesic test would
    # drop it (the great-circle edge bulges ~100 m north there); the map shows it inside.
    edge = make_call(now - timedelta(minutes=1), location=point(51.0005, 71.45))
    make_call(now - timedelta(minutes=2), location=point(50.9990, 71.45))  # just south
    make_call(now - timedelta(minutes=3), location=point(51.10, 72.10))  # east
    make_call(now - timedelta(minutes=4), location=None, accuracy_m=None)  # not located
    box = {"bbox": "70.95,51.0,71.95,51.2"}
    assert refs(supervisor_client.get(CALLS, box)) == [inside.reference, edge.reference]


@pytest.mark.parametrize("value", ["71,51,72", "a,b,c,d", "71.6,51.0,71.3,51.2", "71.3,51.2,71.6,51.0",
                                   "71.3,-91,71.6,51", "nan,51,71.6,51.2", "-200,51,71,52"])
def test_bad_bbox_is_a_400_naming_the_field(supervisor_client, value):
    response = supervisor_client.get(CALLS, {"bbox": value})
    assert response.status_code == 400
    assert "bbox" in response.json()


def test_filters_combine_with_keyset_pagination(supervisor_client, operator):
    now = timezone.now()
    expected = [make_call(now - timedelta(minutes=i), created_by=operator, location=point(51.1, 71.4)).reference
                for i in range(5)]
    make_call(now - timedelta(minutes=10), location=point(51.1, 71.4))
    seen, url, params = [], CALLS, {"operator": "op1", "bbox": "71.3,51.0,71.6,51.2", "page_size": 2}
    while url:
        response = supervisor_client.get(url, params)
        seen += refs(response)
        url, params = response.json()["next"], None
    assert seen == expected


# --- who may do what -------------------------------------------------------------------------


@pytest.fixture
def personas(operator, supervisor, gateway, unit_a):
    return {
        "anon": client_for(),
        "operator": client_for(token=token_for(operator)),
        "supervisor": client_for(token=token_for(supervisor)),
        "gateway": client_for(token=token_for(gateway)),
        "crew": crew(unit_a),
    }


PERSONAS = ("anon", "operator", "supervisor", "gateway", "crew")
MATRIX = [
    ("get", "/api/v1/calls/?operator=op1&bbox=71.3,51.0,71.6,51.2", (401, 200, 200, 403, 403)),
    ("get", "/api/v1/calls/{call}/timeline/", (401, 200, 200, 403, 403)),
    ("get", "/api/v1/calls/export.csv", (401, 403, 200, 403, 403)),
    ("get", "/api/v1/stats/", (401, 403, 200, 403, 403)),
    ("get", "/api/v1/calls/{call}/eido/", (401, 403, 200, 403, 403)),
    ("get", "/api/v1/units/{unit}/track/", (401, 403, 200, 403, 403)),
    ("post", "/api/v1/units/{idle}/out-of-service/", (401, 403, 200, 403, 403)),
]


@pytest.mark.parametrize("method,path,expected", MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_permissions(personas, unit_a, method, path, expected):
    call = make_call(timezone.now())
    idle = UnitFactory()
    url = path.format(call=call.pk, unit=unit_a.pk, idle=idle.pk)
    got = tuple(getattr(personas[p], method)(url).status_code for p in PERSONAS)
    assert got == expected


def test_unknown_ids_are_404(supervisor_client):
    assert supervisor_client.get("/api/v1/calls/999999/eido/").status_code == 404
    assert supervisor_client.get("/api/v1/units/999999/track/").status_code == 404
    assert supervisor_client.post("/api/v1/units/999999/out-of-service/").status_code == 404


# --- units: out of service, tracks ------------------------------------------------------------


def test_supervisor_takes_an_idle_unit_out_of_service_and_it_is_journaled(supervisor_client, supervisor):
    from core.models import Event

    unit = UnitFactory(status="available")
    response = supervisor_client.post(f"/api/v1/units/{unit.pk}/out-of-service/")
    assert response.status_code == 200 and response.json()["status"] == "out_of_service"
    assert Event.objects.filter(unit=unit, type="unit.updated", actor=supervisor).exists()
    again = supervisor_client.post(f"/api/v1/units/{unit.pk}/out-of-service/")
    assert again.status_code == 200 and again.json()["status"] == "out_of_service"


def test_a_unit_working_a_call_cannot_be_taken_out_of_service(supervisor_client):
    unit = UnitFactory(status="en_route")
    make_assignment(make_call(timezone.now(), status="dispatched"), unit, after_s=5, ack_s=5, status="acknowledged")
    response = supervisor_client.post(f"/api/v1/units/{unit.pk}/out-of-service/")
    assert response.status_code == 409 and "detail" in response.json()


def test_track_returns_the_fixes_in_the_window_oldest_first(supervisor_client):
    from units.models import UnitPosition

    unit = UnitFactory()
    t0 = timezone.now() - timedelta(minutes=30)
    for i in range(5):
        UnitPosition.objects.create(unit=unit, location=point(51.1 + i / 1000, 71.4), accuracy_m=5, heading=0,
                                    speed_mps=10, recorded_at=t0 + timedelta(minutes=i))
    UnitPosition.objects.create(unit=UnitFactory(), location=point(), recorded_at=t0)  # another unit
    params = {"from": (t0 + timedelta(minutes=1)).isoformat(), "to": (t0 + timedelta(minutes=3)).isoformat()}
    body = supervisor_client.get(f"/api/v1/units/{unit.pk}/track/", params).json()
    assert body["unit"]["callsign"] == unit.callsign and body["truncated"] is False
    assert [round(p["lat"], 3) for p in body["points"]] == [51.101, 51.102, 51.103]
    assert set(body["points"][0]) == {"lat", "lon", "accuracy_m", "heading", "speed_mps", "recorded_at"}
    # default window: the last hour
    assert len(supervisor_client.get(f"/api/v1/units/{unit.pk}/track/").json()["points"]) == 5


@pytest.mark.parametrize("params,field", [
    ({"from": "soon"}, "from"),
    ({"to": "2026-02-30T00:00:00Z"}, "to"),
    ({"from": "2026-03-02T10:00:00Z", "to": "2026-03-02T09:00:00Z"}, "to"),
    ({"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z"}, "from"),
])
def test_bad_track_window_is_a_400_naming_the_field(supervisor_client, unit_a, params, field):
    response = supervisor_client.get(f"/api/v1/units/{unit_a.pk}/track/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_q_finds_a_reference_a_phone_or_words(supervisor_client):
    now = timezone.now()
    a = make_call(now, caller_phone="+77011234567", address="проспект Кабанбай батыра, 11")
    b = make_call(now - timedelta(minutes=1), caller_phone="+77019876543", address="улица Кенесары, 40",
                  description="запах газа в подъезде")
    searches = {
        a.reference.lower(): [a.reference],  # a reference, any case
        "+7 701 123-45-67": [a.reference],  # a phone as it is dictated
        "87019876543": [b.reference],  # with the trunk prefix
        "6543": [b.reference],  # the last digits
        "кенесары": [b.reference],  # words: address, description, caller name
        "газа": [b.reference],
        "11": [a.reference],  # short digits are words: a house number
        "C-1999-000001": [],
    }
    for q, expected in searches.items():
        assert refs(supervisor_client.get(CALLS, {"q": q})) == expected, q


def test_q_words_are_literal_text_not_patterns(supervisor_client):
    now = timezone.now()
    a = make_call(now, address="ул. Абая (угол Иманова) 10+2", description="50% ожогов")
    make_call(now - timedelta(minutes=1), address="ул Абая 10")
    for q in ["ул. Абая", "(угол", "10+2", "50%", "ОЖОГОВ", "абая (УГОЛ"]:
        assert refs(supervisor_client.get(CALLS, {"q": q})) == [a.reference], q
    assert refs(supervisor_client.get(CALLS, {"q": "a.*"})) == []


def test_history_pages_show_each_call_exactly_as_the_call_endpoint_does(supervisor_client, supervisor):
    """The list is built from plain rows (dispatch.history.call_list_representation) for speed;
    every kind of call must come out field for field as CallSerializer writes it."""
    unit, other = UnitFactory(service="medical"), UnitFactory(service="police")
    now = timezone.now()
    located = make_call(now, dispatch_s=12, on_scene_s=300, disposition="resolved", address="Кенесары 40",
                        caller_phone="+77010000001", caller_name="Айгерим", description="боль в груди")
    make_assignment(located, unit, after_s=5, status="declined")
    make_assignment(located, other, after_s=12, ack_s=3, on_scene_s=200)
    unlocated = make_call(now - timedelta(minutes=1), status="pending", location=None, accuracy_m=None,
                          hold_reason="duplicate", unmet_needs=[{"service": "fire", "reason": "all_busy"}])
    unlocated.possible_duplicates.add(located)
    merged = make_call(now - timedelta(minutes=2), status="merged", disposition="duplicate", merged_into=located)
    open_call = make_call(now - timedelta(minutes=3), status="dispatched", dispatch_s=7)
    make_assignment(open_call, unit, after_s=7, status="assigned")

    response = supervisor_client.get(CALLS, {"page_size": 10})
    assert response.status_code == 200, response.content
    listed = response.json()["results"]
    assert [c["id"] for c in listed] == [located.pk, unlocated.pk, merged.pk, open_call.pk]
    for item in listed:
        single = supervisor_client.get(f"{CALLS}{item['id']}/")
        assert single.status_code == 200
        assert item == single.json()
    assert listed[0]["location"] is not None and len(listed[0]["assignments"]) == 2
    assert listed[1]["location"] is None and listed[1]["possible_duplicates"] == [located.pk]
    assert listed[2]["merged_into"] == located.pk


def test_a_dispatched_call_is_listed_byte_for_byte_as_the_call_endpoint_writes_it(supervisor_client):
    # Through the engine: distances, acknowledgement deadlines and reasons are filled in.
    UnitFactory(service="medical", capabilities=["als"], location=point(51.131, 71.43))
    UnitFactory(service="police", location=point(51.129, 71.431))
    call = new_call("cardiac_arrest", accuracy=12.5)
    engine.dispatch_call(call.pk)
    (item,) = supervisor_client.get(CALLS).json()["results"]
    assert item["assignments"] and item["assignments"][0]["distance_m"] and item["assignments"][0]["ack_deadline"]
    single = supervisor_client.get(f"{CALLS}{call.pk}/")
    assert JSONRenderer().render(item) == single.content


def test_the_json_format_suffix_lists_calls(supervisor_client):
    make_call(timezone.now())
    response = supervisor_client.get("/api/v1/calls.json")
    assert response.status_code == 200 and len(response.json()["results"]) == 1


@pytest.mark.parametrize("position", ["garbage", "2026-01-01 10:00:00", "2026-13-45 10:00:00+00:00"])
def test_a_forged_cursor_is_a_404_not_a_500(supervisor_client, position):
    make_call(timezone.now())
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
    response = supervisor_client.get(CALLS, {"cursor": cursor})
    bad_offset = base64.b64encode(b"o=x").decode()
    undecodable = supervisor_client.get(CALLS, {"cursor": bad_offset})  # DRF's own invalid-cursor answer
    assert response.status_code == undecodable.status_code == 404
    assert response.json() == undecodable.json()


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu"])
def test_list_times_match_the_call_endpoint_in_any_time_zone(supervisor_client, zone):
    """The list formats its own timestamps (dispatch.history.call_list_representation): `Z` for
    UTC, summer and winter offsets, negative and half-hour ones, a historical offset with
    seconds, with and without microseconds — always as DRF writes them."""
    unit = UnitFactory(service="medical")
    moments = [datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC),
               datetime(2026, 1, 15, 23, 59, 59, 120000, tzinfo=UTC),
               datetime(1890, 6, 1, 8, 30, 5, 7, tzinfo=UTC)]
    with override_settings(TIME_ZONE=zone):
        for at in moments:
            call = make_call(at, dispatch_s=1.5, on_scene_s=61, status="closed")
            make_assignment(call, unit, after_s=1.5, ack_s=2.25, on_scene_s=59.5)
        listed = supervisor_client.get(CALLS, {"received_after": "1800-01-01T00:00:00Z"}).json()["results"]
        assert len(listed) == 3
        for item in listed:
            single = supervisor_client.get(f"{CALLS}{item['id']}/")
            assert JSONRenderer().render(item) == single.content
    summer = {"UTC": "2026-07-01T12:00:00Z", "Europe/Berlin": "2026-07-01T14:00:00+02:00",
              "America/St_Johns": "2026-07-01T09:30:00-02:30", "Asia/Kathmandu": "2026-07-01T17:45:00+05:45"}
    assert listed[0]["received_at"] == summer[zone]
    if zone == "Europe/Berlin":  # local mean time until 1893: an offset with seconds
        assert listed[2]["received_at"] == "1890-06-01T09:23:33.000007+00:53:28"
