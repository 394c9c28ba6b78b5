"""GET /api/v1/route/ and `eta_s` in the unit list with near= (issue 16)."""

import pytest

from dispatch import roads
from tests.conftest import point
from tests.dispatch.roadnet import NORTH, SOUTH, load, river_with_one_bridge
from tests.factories import UnitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_graph_after(db):
    yield
    roads.clear_graph()


def test_route_over_the_bridge_with_its_geometry(tmp_path, operator_client):
    load(tmp_path, river_with_one_bridge())
    response = operator_client.get("/api/v1/route/", {"from": f"{NORTH},71.43", "to": f"{SOUTH},71.43"})
    assert response.status_code == 200
    body = response.json()
    assert body["basis"] == "road"
    assert body["distance_m"] == pytest.approx(2 * 2095 + 445, rel=0.02)
    assert body["duration_s"] > body["distance_m"] / 20  # well under 72 km/h
    assert body["geometry"]["type"] == "LineString"
    coords = body["geometry"]["coordinates"]
    assert coords[0] == [71.43, NORTH] and coords[-1] == [71.43, SOUTH]


def test_route_without_a_graph_is_the_straight_line(supervisor_client):
    body = supervisor_client.get("/api/v1/route/", {"from": "51.128,71.43", "to": "51.131,71.43"}).json()
    assert body["basis"] == "straight_line"
    assert body["distance_m"] == pytest.approx(334, abs=2)
    assert body["geometry"] == {"type": "LineString", "coordinates": [[71.43, 51.128], [71.43, 51.131]]}


@pytest.mark.parametrize(("params", "field"), [
    ({"to": "51.1,71.4"}, "from"),
    ({"from": "51.1,71.4"}, "to"),
    ({"from": "51.1", "to": "51.1,71.4"}, "from"),
    ({"from": "51.1,71.4", "to": "abc,71.4"}, "to"),
    ({"from": "91,71.4", "to": "51.1,71.4"}, "from"),
    ({"from": "51.1,71.4", "to": "51.1,181"}, "to"),
    ({"from": "51.1,71.4", "to": "nan,71.4"}, "to"),
])
def test_bad_coordinates_are_a_400_naming_the_parameter(operator_client, params, field):
    response = operator_client.get("/api/v1/route/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_route_is_for_operators_and_supervisors_only(crew_a, anon_client):
    params = {"from": "51.128,71.43", "to": "51.131,71.43"}
    assert crew_a.get("/api/v1/route/", params).status_code == 403
    assert anon_client.get("/api/v1/route/", params).status_code in (401, 403)


def test_units_near_a_point_carry_their_eta(tmp_path, operator_client):
    load(tmp_path, river_with_one_bridge())
    across = UnitFactory(location=point(NORTH, 71.43))
    same_bank = UnitFactory(location=point(SOUTH, 71.41))
    UnitFactory(location=None, location_recorded_at=None)
    response = operator_client.get("/api/v1/units/", {"near": f"{SOUTH},71.43,5000"})
    assert response.status_code == 200
    items = {u["id"]: u for u in response.json()["results"]}
    assert set(items) == {across.pk, same_bank.pk}
    assert items[same_bank.pk]["eta_s"] < items[across.pk]["eta_s"]
    assert items[same_bank.pk]["eta_basis"] == "road"
    plain = operator_client.get("/api/v1/units/").json()["results"]
    assert all("eta_s" not in u for u in plain)
    assert operator_client.get("/api/v1/units/", {"near": "51.1,71.4"}).status_code == 400


def test_the_400_follows_the_users_language(operator_client):
    response = operator_client.get("/api/v1/route/", {"from": "x", "to": "51.1,71.4"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 400
    assert "широта" in str(response.json()["from"])
