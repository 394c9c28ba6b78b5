"""The road graph (load_roads, dispatch/roads.py) and travel times (dispatch/routing.py) on
small synthetic networks in real PostGIS + pgRouting."""

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from dispatch import roads, routing
from tests.dispatch.roadnet import NORTH, SOUTH, load, one_way_loop, osm_xml, river_with_one_bridge, street

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_graph_after(db):
    yield
    roads.clear_graph()  # other tests rank by air, as without a graph


def edges():
    with connection.cursor() as cur:
        cur.execute("SELECT road_class, oneway, cost_s, reverse_cost_s, length_m, name FROM road_edge ORDER BY id")
        return cur.fetchall()


def test_loader_keeps_drivable_ways_splits_at_junctions_and_costs_by_class_and_maxspeed(tmp_path):
    load(tmp_path, [
        street(SOUTH, 71.40, SOUTH, 71.42, steps=2, highway="primary", name="Main"),
        street(SOUTH, 71.41, NORTH, 71.41, steps=1, highway="residential", maxspeed="36"),  # crosses Main's middle
        street(NORTH, 71.40, NORTH, 71.42, steps=2, highway="footway"),  # not for cars
        street(NORTH, 71.43, NORTH, 71.44, steps=2, highway="tertiary", oneway="-1"),
    ])
    rows = edges()
    assert len(rows) == 4  # Main cut in two at the crossing, the side street, the one-way
    main = [r for r in rows if r[5] == "Main"]
    assert len(main) == 2 and all(r[1] is False and r[2] == r[3] for r in main)
    # 55 km/h for a primary road without maxspeed; 36 km/h = 10 m/s from maxspeed.
    assert main[0][2] == pytest.approx(main[0][4] / (55 / 3.6))
    side = next(r for r in rows if r[0] == "residential")
    assert side[2] == pytest.approx(side[4] / 10.0)
    one_way = next(r for r in rows if r[0] == "tertiary")
    assert one_way[1] is True and one_way[3] == -1
    with connection.cursor() as cur:
        # oneway=-1: the way is drawn against its direction, so the edge runs east to west.
        cur.execute("SELECT ST_X(ST_StartPoint(geom)) FROM road_edge WHERE road_class = 'tertiary'")
        assert cur.fetchone()[0] == pytest.approx(71.44)
    info = roads.graph_info()
    assert info["edges"] == 4 and info["source"] == "net.osm" and "OpenStreetMap" in info["attribution"]


def test_a_reload_replaces_the_graph_and_an_empty_extract_keeps_the_old_one(tmp_path):
    load(tmp_path, river_with_one_bridge())
    assert len(edges()) == 3  # each bank one edge (inner points are not junctions), the bridge
    empty = tmp_path / "empty.osm"
    empty.write_text(osm_xml([street(SOUTH, 71.40, SOUTH, 71.41, highway="footway")]))
    with pytest.raises(CommandError, match="no drivable roads"):
        call_command("load_roads", str(empty))
    assert len(edges()) == 3
    load(tmp_path, one_way_loop(), name="loop.osm")
    assert roads.graph_info()["source"] == "loop.osm"
    with pytest.raises(CommandError, match="no such file"):
        call_command("load_roads", str(tmp_path / "missing.osm.pbf"))


def test_the_unit_across_the_river_is_farther_by_road(tmp_path):
    load(tmp_path, river_with_one_bridge())
    call = (71.43, SOUTH)
    across, same_bank = (71.43, NORTH), (71.41, SOUTH)
    leg_across, leg_same = routing.travel_times(call, [across, same_bank])
    assert leg_across.basis == leg_same.basis == "road"
    # Across: east 2.1 km to the bridge, 445 m over it, 2.1 km back west.
    assert leg_across.route_m == pytest.approx(2 * 2095 + 445, rel=0.02)
    assert leg_same.route_m == pytest.approx(1397, rel=0.02)
    assert leg_same.eta_s < leg_across.eta_s
    assert routing.air_m(across, call) < routing.air_m(same_bank, call)


def test_a_one_way_street_is_driven_only_its_way(tmp_path):
    load(tmp_path, one_way_loop())
    call = (71.43, SOUTH)
    upstream, downstream = (71.42, SOUTH), (71.435, SOUTH)
    up, down = routing.travel_times(call, [upstream, downstream])
    assert up.route_m == pytest.approx(698, rel=0.02)  # straight along the one-way
    assert down.route_m > 6000  # round the loop: 1.7 + 0.45 + 4.2 + 0.45 + 2.1 km
    assert up.eta_s < down.eta_s


def test_points_off_the_road_are_snapped_and_pay_the_way_to_it_slowly(tmp_path, settings):
    load(tmp_path, river_with_one_bridge())
    call = (71.43, SOUTH)
    on_road = routing.travel_times(call, [(71.42, SOUTH)])[0]
    beside = routing.travel_times(call, [(71.42, SOUTH - 0.0009)])[0]  # 100 m south of the street
    assert beside.basis == "road"
    assert beside.route_m == pytest.approx(on_road.route_m + 100, abs=3)
    assert beside.eta_s == pytest.approx(on_road.eta_s + 100 / (settings.ROUTE_OFFROAD_SPEED_KMH / 3.6), abs=2)
    far_off = routing.travel_times(call, [(71.42, SOUTH - 0.01)])[0]  # 1.1 km from any road
    assert far_off.basis == "straight_line"
    assert far_off.route_m == pytest.approx(routing.air_m((71.42, SOUTH - 0.01), call), rel=1e-6)


def test_a_disconnected_island_falls_back_to_the_straight_line(tmp_path):
    load(tmp_path, [*river_with_one_bridge(), street(51.138, 71.42, 51.138, 71.44, steps=4, name="Island")])
    island = (71.43, 51.138)
    mainland = (71.43, NORTH)
    assert routing.travel_times(island, [mainland])[0].basis == "straight_line"
    assert routing.travel_times(mainland, [island])[0].basis == "straight_line"
    assert routing.travel_times(mainland, [(71.42, 51.138)])[0].basis == "straight_line"
    assert routing.travel_times(island, [(71.44, 51.138)])[0].basis == "road"


def test_no_graph_or_a_spent_budget_means_the_straight_line(tmp_path):
    call, unit = (71.43, SOUTH), (71.41, SOUTH)
    assert routing.travel_times(call, [unit])[0].basis == "straight_line"  # empty graph
    load(tmp_path, river_with_one_bridge())
    with connection.cursor() as cur, pytest.MonkeyPatch.context() as mp:
        # A budget no query can keep: the statement is cancelled, and the answer still comes.
        mp.setattr(routing, "_COSTS_SQL", "SELECT pg_sleep(1) WHERE %(snap_max)s > 0")
        assert routing.travel_times(call, [unit], budget_ms=20)[0].basis == "straight_line"
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()[0] != "20ms"  # the budget does not outlive the routing
    assert routing.travel_times(call, [unit])[0].basis == "road"


@pytest.mark.django_db(transaction=True)  # the graph committed: only routing's locks can show
def test_routing_inside_a_transaction_leaves_no_lock_on_the_graph_and_no_budget(tmp_path):
    """The caller's transaction (the engine's claim) goes on after routing without holding
    the graph tables, so a reload's swap never waits for it."""
    load(tmp_path, river_with_one_bridge())
    with transaction.atomic(), connection.cursor() as cur:
        assert routing.travel_times((71.43, SOUTH), [(71.41, SOUTH), (71.43, NORTH)])[0].basis == "road"
        cur.execute("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " WHERE l.pid = pg_backend_pid() AND c.relname LIKE 'road%%'")
        assert cur.fetchone()[0] == 0
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()[0] != f"{settings.DISPATCH_ROUTE_BUDGET_MS}ms"


def test_route_geometry_follows_the_roads_from_start_to_end(tmp_path):
    load(tmp_path, river_with_one_bridge())
    leg = routing.route((71.43, NORTH), (71.43, SOUTH))
    line = leg.geometry
    assert leg.basis == "road"
    assert line[0] == [71.43, NORTH] and line[-1] == [71.43, SOUTH]
    assert max(lon for lon, _ in line) == pytest.approx(71.46)  # over the bridge
    walked = sum(routing.air_m(a, b) for a, b in zip(line, line[1:], strict=False))
    assert walked == pytest.approx(leg.route_m, rel=0.01)
    # From a junction (the snapped point is the edge's end) to another.
    corner = routing.route((71.46, NORTH), (71.40, SOUTH))
    assert corner.geometry[0] == [71.46, NORTH] and corner.geometry[-1] == [71.40, SOUTH]
    assert all(len(c) == 2 for c in corner.geometry)
    # Along one street, from both directions on the one-way loop.
    load(tmp_path, one_way_loop(), name="loop.osm")
    east = routing.route((71.42, SOUTH), (71.43, SOUTH))
    assert east.geometry[0] == [71.42, SOUTH] and east.geometry[-1] == [71.43, SOUTH]
    west = routing.route((71.43, SOUTH), (71.42, SOUTH))
    assert west.route_m > 6000 and west.geometry[-1] == [71.42, SOUTH]
    walked = sum(routing.air_m(a, b) for a, b in zip(west.geometry, west.geometry[1:], strict=False))
    assert walked == pytest.approx(west.route_m, rel=0.01)
