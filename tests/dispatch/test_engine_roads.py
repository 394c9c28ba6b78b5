"""The engine ranks the nearest units by driving time (issue 16), on synthetic road graphs
in real PostGIS + pgRouting, and falls back to the straight line without blocking."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection

from dispatch import engine, roads, routing, services
from dispatch.models import Assignment
from tests.conftest import client_for, point
from tests.dispatch.roadnet import NORTH, SOUTH, load, one_way_loop, river_with_one_bridge, street
from tests.factories import UnitFactory, new_call
from units.models import Unit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_graph_after(db):
    yield
    roads.clear_graph()


def medic(lat, lon, **kw):
    return UnitFactory(service="medical", capabilities=["als"], location=point(lat, lon), **kw)


def the_assignment(call):
    (assignment,) = Assignment.objects.filter(call=call, status="assigned")
    return assignment


def test_the_unit_across_the_river_loses_to_a_farther_one_on_the_same_bank(tmp_path):
    load(tmp_path, river_with_one_bridge())
    across = medic(NORTH, 71.43)  # 445 m by air, 4.6 km by road over the only bridge
    same_bank = medic(SOUTH, 71.41)  # 1.4 km by air and by road
    call = new_call(lat=SOUTH, lon=71.43)
    assert engine.dispatch_call(call.pk) == 1
    a = the_assignment(call)
    assert a.unit == same_bank
    assert a.basis == "road"
    assert a.route_m == pytest.approx(1397, rel=0.02)
    assert a.eta_s == pytest.approx(1397 / (25 / 3.6), rel=0.02)  # a residential street, 25 km/h
    assert a.distance_m == pytest.approx(1397, rel=0.02)  # the air distance is still recorded
    assert "by road: ETA 3 min" in a.reason and "nearest" in a.reason
    across.refresh_from_db()
    assert across.status == "available"


def test_a_unit_just_across_a_narrow_river_with_a_far_bridge_loses_to_one_on_the_same_bank(tmp_path):
    """The bridge is outside the first search's box, so the unit across is cut off there;
    by air it would be the nearest (200 m), so it is searched again and loses by road."""
    across_lat = SOUTH + 0.0018  # ~200 m north
    load(tmp_path, [
        street(SOUTH, 71.40, SOUTH, 71.46, steps=60),
        street(across_lat, 71.40, across_lat, 71.46, steps=60),
        street(SOUTH, 71.46, across_lat, 71.46, steps=2, name="Bridge"),  # ~4 km east
        # Side streets: junctions between the call and the unit on the same bank, so that
        # its route is found by the search (not along the call's own stretch).
        street(SOUTH, 71.401, SOUTH - 0.001, 71.401, steps=1),
        street(SOUTH, 71.403, SOUTH - 0.001, 71.403, steps=1),
    ])
    across = medic(across_lat, 71.4)
    same_bank = medic(SOUTH, 71.4043)  # ~300 m east, by road too
    call = new_call(lat=SOUTH, lon=71.40)
    engine.dispatch_call(call.pk)
    a = the_assignment(call)
    assert a.unit == same_bank and a.basis == "road"
    across.refresh_from_db()
    assert across.status == "available"


def test_a_unit_down_a_one_way_street_loses_to_one_that_can_drive_it(tmp_path):
    load(tmp_path, one_way_loop())
    downstream = medic(SOUTH, 71.435)  # nearer, but would drive round the loop
    upstream = medic(SOUTH, 71.42)
    call = new_call(lat=SOUTH, lon=71.43)
    engine.dispatch_call(call.pk)
    assert the_assignment(call).unit == upstream
    downstream.refresh_from_db()
    assert downstream.status == "available"


def test_without_a_graph_the_nearest_by_air_goes_with_a_straight_line_eta():
    near = medic(51.131, 71.43)
    medic(51.16, 71.43)
    call = new_call()
    engine.dispatch_call(call.pk)
    a = the_assignment(call)
    assert a.unit == near and a.basis == "straight_line"
    assert a.route_m == pytest.approx(a.distance_m, rel=0.01)
    assert a.eta_s == pytest.approx(a.distance_m / (25 / 3.6), rel=0.01)
    assert "by air: 334 m, ETA ~48 s (no road route)" in a.reason


def test_a_call_on_a_disconnected_island_is_served_by_air(tmp_path):
    load(tmp_path, [*river_with_one_bridge(), street(51.138, 71.42, 51.138, 71.44, steps=4, name="Island")])
    north = medic(NORTH, 71.43)  # 667 m by air, no road to the island
    medic(SOUTH, 71.43)
    call = new_call(lat=51.138, lon=71.43)
    engine.dispatch_call(call.pk)
    a = the_assignment(call)
    assert a.unit == north and a.basis == "straight_line"


def test_an_operator_assignment_records_the_route_and_the_api_shows_it(tmp_path, operator):
    load(tmp_path, river_with_one_bridge())
    across = medic(NORTH, 71.43)
    call = new_call(code="cardiac_arrest", lat=SOUTH, lon=71.43)
    a = services.assign_unit(call_id=call.pk, unit_id=across.pk, actor=operator)
    assert a.basis == "road" and a.route_m == pytest.approx(2 * 2095 + 445, rel=0.02)
    assert "ETA" in a.reason
    (body,) = client_for(operator).get(f"/api/v1/calls/{call.pk}/").json()["assignments"]
    assert body["basis"] == "road"
    assert body["route_m"] == pytest.approx(a.route_m) and body["eta_s"] == pytest.approx(a.eta_s)


@pytest.mark.django_db(transaction=True)
def test_dispatch_goes_on_while_the_graph_is_reloaded(tmp_path):
    """Reloads swap the tables under running dispatches: each dispatch gets a unit, by road
    (the old or the new graph) or by air (it met the swap past its budget), never an error."""
    load(tmp_path, river_with_one_bridge())
    units = [medic(SOUTH, 71.40 + 0.001 * k) for k in range(12)]
    calls = [new_call(lat=SOUTH, lon=71.455 - 0.004 * k) for k in range(12)]  # apart: no duplicates
    errors, stop = [], threading.Event()

    def reload():
        try:
            graphs = [one_way_loop(), river_with_one_bridge()]
            k = 0
            while not stop.is_set():
                load(tmp_path, graphs[k % 2], name=f"g{k}.osm")
                k += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    loader = threading.Thread(target=reload)
    loader.start()
    try:
        for call in calls:
            assert engine.dispatch_call(call.pk) >= 1
    finally:
        stop.set()
        loader.join()
    assert errors == []
    made = Assignment.objects.filter(call__in=calls)
    assert made.count() == 12
    assert set(made.values_list("basis", flat=True)) <= {"road", "straight_line"}
    assert "road" in set(made.values_list("basis", flat=True))
    assert Unit.objects.filter(pk__in=[u.pk for u in units], status="dispatched").count() == 12


def test_seed_demo_loads_the_astana_graph_once_and_dispatch_uses_it(capsys):
    call_command("seed_demo", "--no-gazetteer")
    info = roads.graph_info()
    assert info["edges"] > 10_000 and "OpenStreetMap" in info["attribution"]
    assert "road graph: " in capsys.readouterr().out
    loaded_at = info["loaded_at"]
    call_command("seed_demo", "--no-gazetteer")  # a graph is there: left alone
    assert roads.graph_info()["loaded_at"] == loaded_at
    # Across the Esil from the Baiterek (left bank) to the old centre (right bank).
    leg = routing.travel_times((71.4305, 51.1283), [(71.4230, 51.1650)])[0]
    assert leg.basis == "road" and leg.route_m > routing.air_m((71.4305, 51.1283), (71.4230, 51.1650))
