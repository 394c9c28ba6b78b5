"""The maps without a tile server (issue 21): the console and the supervisors' history draw the
app's own streets, from the shipped Astana road graph, when MAP_TILE_URL is empty and when
its tiles fail (the test browser refuses every request that leaves the test server)."""

from pathlib import Path

import pytest

from dispatch import roads
from tests.browser.conftest import console_user, log_in, shot
from tests.browser.test_console import create_call
from tests.conftest import free_port, point, start_asgi
from tests.factories import UnitFactory

pytestmark = pytest.mark.browser

SHIPPED_GRAPH = Path(__file__).resolve().parents[2] / "ops" / "data" / "astana_roads.json.gz"

# What the street tiles of one zoom on screen hold: how many tiles, roads (a street, or a
# whole class from afar), lines and names were drawn, and how many pixels of the busiest
# tile's canvas were painted (a blank canvas has none).
TILES_DRAWN = """(z) => {
  const tiles = [...document.querySelectorAll(`.basemap-streets canvas.leaflet-tile-loaded[data-z='${z}']`)];
  const sum = (key) => tiles.reduce((n, t) => n + Number(t.dataset[key] || 0), 0);
  const busiest = tiles.reduce((a, t) => (!a || Number(t.dataset.roads) > Number(a.dataset.roads) ? t : a), null);
  let inked = 0;
  if (busiest) {
    const px = busiest.getContext('2d').getImageData(0, 0, busiest.width, busiest.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked += 1;
  }
  return {tiles: tiles.length, roads: sum('roads'), lines: sum('lines'), labels: sum('labels'), inked};
}"""


@pytest.fixture
def astana_graph(transactional_db):
    nodes, edges, attribution = roads.read_graph_file(SHIPPED_GRAPH)
    roads.replace_graph(nodes, edges, source=SHIPPED_GRAPH.name, attribution=attribution)
    yield
    roads.clear_graph()


@pytest.fixture
def no_tiles_page(browser, astana_graph):
    from tests.browser.conftest import offline_page

    port = free_port()
    server = start_asgi(port, MAP_TILE_URL="")
    page = offline_page(browser, f"http://127.0.0.1:{port}")
    page.base_url = f"http://127.0.0.1:{port}"
    yield page
    errors = list(page.errors)
    page.context.close()
    server.stop()
    assert not errors, f"JavaScript errors on the page: {errors}"


def wait_for_streets(page, z=12):
    """Once every street tile of zoom z is drawn: what they hold."""
    page.wait_for_selector(f"#map[data-basemap='streets'] .basemap-streets canvas.leaflet-tile-loaded[data-z='{z}']")
    page.wait_for_selector("#map[data-streets='loaded']")
    return page.evaluate(TILES_DRAWN, z)


def test_with_no_tile_url_the_console_draws_astanas_streets_and_their_names(no_tiles_page):
    page = no_tiles_page
    operator = console_user("op-bm-streets")
    UnitFactory(callsign="M-12", service="medical", location=point(51.1305, 71.4262))
    UnitFactory(callsign="P-07", service="police", location=point(51.1252, 71.4398))
    create_call(operator, "traffic_accident", lat=51.1282, lon=71.4307)
    log_in(page, operator.username)
    city = wait_for_streets(page)
    # The whole city at zoom 12: every tile with streets drawn, the avenues among them.
    assert city["tiles"] >= 9 and city["lines"] >= 1000 and city["inked"] > 5000, city
    assert city["labels"] == 0  # names only close up
    assert "OpenStreetMap contributors, ODbL 1.0" in page.inner_text(".leaflet-control-attribution")
    assert not page.is_visible(".no-tiles-note")
    shot(page, "map-without-tiles")
    page.evaluate("import('/static/console/map.js').then((m) => m.map.setView([51.1282, 71.4307], 16, { animate: false }))")
    close = wait_for_streets(page, 16)
    page.wait_for_timeout(500)  # the tiles' fade-in, for the picture
    assert close["labels"] >= 3 and close["roads"] >= 10 and close["lines"] >= 30, close
    shot(page, "map-without-tiles-street-names")


def test_when_the_tile_server_fails_the_maps_switch_to_the_streets(page, astana_graph):
    # `page` runs against the default MAP_TILE_URL (openstreetmap.org), which the browser refuses.
    supervisor = console_user("sup-bm-fallback", "supervisor")
    log_in(page, supervisor.username)
    assert wait_for_streets(page)["lines"] >= 1000
    page.goto(page.base_url + "/supervisor/")
    assert wait_for_streets(page)["lines"] >= 100
