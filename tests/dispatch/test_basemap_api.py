"""GET /api/v1/basemap/{z}/{x}/{y}.json: the app's own street tiles (issue 21), drawn from
the road graph when one is loaded, else from the gazetteer's streets."""

import gzip
import json
import math

import pytest
import redis
from django.conf import settings
from django.contrib.gis.geos import LineString, MultiLineString, Point
from django.db import connection

from calls.models import GazetteerEntry
from dispatch import basemap, roads
from tests.dispatch.roadnet import NORTH, SOUTH, load, river_with_one_bridge

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh(db):
    # Cached tiles are keyed by the data's version; a recreated test database can repeat one.
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("*basemap:*"):
        client.delete(key)
    yield
    roads.clear_graph()


def tile_of(lat, lon, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def get_tile(client, lat, lon, z, **headers):
    x, y = tile_of(lat, lon, z)
    return client.get(f"/api/v1/basemap/{z}/{x}/{y}.json", **headers)


def gazetteer_street(label, street_type, *points):
    line = LineString([(lon, lat) for lat, lon in points], srid=4326)
    GazetteerEntry.objects.create(
        kind="street", source="test-city", label=label, normalized=label.lower(), street_type=street_type,
        location=Point(points[0][1], points[0][0], srid=4326), geom=MultiLineString(line, srid=4326))


def test_the_graph_is_drawn_with_classes_per_zoom_and_names_close_up(tmp_path, operator_client):
    load(tmp_path, river_with_one_bridge())  # two residential banks, a primary "Bridge" at 71.46 E
    far = get_tile(operator_client, SOUTH, 71.46, 12).json()
    assert far["source"] == "roads" and far["extent"] == basemap.EXTENT
    # From afar only the main roads, unnamed; residential streets come at zoom 13.
    assert [(r["class"], r["name"]) for r in far["roads"]] == [("major", "")]
    close = get_tile(operator_client, (SOUTH + NORTH) / 2, 71.46, 15).json()
    assert {(r["class"], r["name"]) for r in close["roads"]} == {("major", "Bridge"), ("minor", "")}
    bridge = next(r for r in close["roads"] if r["name"] == "Bridge")
    # One run from south to north (the four pieces of the way merged), in tile units.
    assert len(bridge["lines"]) == 1
    xs, ys = bridge["lines"][0][0::2], bridge["lines"][0][1::2]
    assert max(xs) - min(xs) <= 1 and max(ys) - min(ys) > 100  # straight north-south
    assert all(-basemap.BUFFER <= v <= basemap.EXTENT + basemap.BUFFER for v in bridge["lines"][0])


def test_without_a_graph_the_gazetteer_streets_are_drawn(supervisor_client):
    gazetteer_street("проспект Мангилик Ел", "пр", (51.10, 71.42), (51.13, 71.42))
    gazetteer_street("улица Сыганак", "ул", (51.12, 71.40), (51.12, 71.44))
    gazetteer_street("переулок Тихий", "пер", (51.121, 71.38), (51.121, 71.385))
    body = get_tile(supervisor_client, 51.12, 71.42, 15).json()
    assert body["source"] == "gazetteer"
    assert {(r["class"], r["name"]) for r in body["roads"]} == {
        ("major", "проспект Мангилик Ел"), ("medium", "улица Сыганак")}  # the lane is outside this tile
    at_12 = get_tile(supervisor_client, 51.12, 71.42, 12).json()
    assert {(r["class"], r["name"]) for r in at_12["roads"]} == {("major", ""), ("medium", "")}
    at_11 = get_tile(supervisor_client, 51.12, 71.42, 11).json()
    assert [r["class"] for r in at_11["roads"]] == ["major"]


def test_a_loaded_graph_wins_over_the_gazetteer(tmp_path, operator_client):
    gazetteer_street("улица Сыганак", "ул", (SOUTH, 71.40), (NORTH, 71.46))
    assert get_tile(operator_client, SOUTH, 71.46, 14).json()["source"] == "gazetteer"
    load(tmp_path, river_with_one_bridge())
    body = get_tile(operator_client, SOUTH, 71.46, 14).json()
    assert body["source"] == "roads" and "улица Сыганак" not in {r["name"] for r in body["roads"]}


def test_with_no_data_a_tile_is_empty(operator_client):
    assert get_tile(operator_client, 51.12, 71.42, 14).json() == {"extent": basemap.EXTENT, "source": None, "roads": []}


def test_tiles_are_cached_by_data_version_and_revalidated_by_etag(tmp_path, operator_client):
    load(tmp_path, river_with_one_bridge())
    version = basemap.source_state()["version"]
    x, y = tile_of(SOUTH, 71.46, 15)
    url = f"/api/v1/basemap/15/{x}/{y}.json"
    first = operator_client.get(url, {"v": version}, HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert first["Content-Encoding"] == "gzip" and first["Cache-Control"] == "private, max-age=86400"
    assert first["ETag"] == f'"{version}"' and "Accept-Encoding" in first["Vary"]
    served = json.loads(gzip.decompress(first.content))
    # Without ?v= (or with an old one) browsers must come back, and get a 304 while nothing changed.
    plain = operator_client.get(url, {"v": "old"})
    assert plain["Cache-Control"] == "private, no-cache" and plain.json() == served
    assert operator_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    # The tile is built once per version: a row slipped in behind the loader's back is not seen...
    with connection.cursor() as cur:
        cur.execute("INSERT INTO road_edge SELECT id + 1000, source, target, length_m, 'primary', oneway, maxspeed_kmh, "
                    "cost_s, reverse_cost_s, 'Sneaky', osm_id, geom FROM road_edge")
    assert operator_client.get(url).json() == served
    # ...while a load is a new version: a new ETag, and the old one no longer matches.
    load(tmp_path, river_with_one_bridge()[2:])
    again = operator_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and again["ETag"] != first["ETag"]
    assert {r["class"] for r in again.json()["roads"]} == {"major"}


@pytest.mark.parametrize(("path", "field"), [
    ("21/0/0", "z"), ("abc/0/0", "z"), ("-1/0/0", "z"),
    ("2/4/0", "x"), ("2/1.5/0", "x"), ("15/-3/0", "x"),
    ("2/0/4", "y"), ("10/0/y", "y"),
])  # fmt: skip
def test_bad_tile_coordinates_are_a_400_naming_the_parameter(operator_client, path, field):
    response = operator_client.get(f"/api/v1/basemap/{path}.json")
    assert response.status_code == 400
    assert field in response.json()


def test_the_basemap_is_for_the_staffs_maps_only(crew_a, gateway_client, anon_client, supervisor_client):
    url = "/api/v1/basemap/12/2860/1368.json"
    assert supervisor_client.get(url).status_code == 200
    assert crew_a.get(url).status_code == 403
    assert gateway_client.get(url).status_code == 403
    assert anon_client.get(url).status_code in (401, 403)


def test_the_pages_get_the_versioned_tile_url(client, operator, supervisor):
    gazetteer_street("улица Сыганак", "ул", (51.12, 71.40), (51.12, 71.44))
    state = basemap.source_state()
    for user, page, marker in ((operator, "/", "console-config"), (supervisor, "/supervisor/", "page-config")):
        client.force_login(user)
        html = client.get(page).content.decode()
        start = html.index(f'<script id="{marker}" type="application/json">')
        config = json.loads(html[html.index(">", start) + 1:html.index("</script>", start)])
        assert config["basemap"] == {"url": f"/api/v1/basemap/{{z}}/{{x}}/{{y}}.json?v={state['version']}",
                                     "source": "gazetteer", "attribution": "© OpenStreetMap contributors, ODbL 1.0"}
        assert "/static/map/basemap.js" in html
