"""The console sends its map view with the address it geocodes (issue 21): of two streets the
text fits equally, the one on the operator's screen is offered first."""

import json
from urllib.parse import parse_qs, urlparse

import pytest

from calls.gazetteer import FORMAT
from calls.gazetteer_load import load_gazetteer_file
from dispatch.console import MAP_CENTRE
from tests.browser.conftest import console_user, log_in

pytestmark = pytest.mark.browser


def street(label, lat, lon):
    return {"kind": "street", "label": label, "lat": lat, "lon": lon, "importance": 0.1,
            "lines": [[[lon - 0.003, lat], [lon + 0.003, lat]]]}  # fmt: skip


def test_the_address_search_prefers_the_street_in_the_map_view(page, tmp_path):
    lat, lon = MAP_CENTRE
    # Twins by name: the text alone prefers `улица Сункар` (typed exactly so), 30 km north,
    # off the screen; `Сұңқар көшесі` is in the middle of the console's first view.
    entries = [street("улица Сункар", lat + 0.3, lon), street("Сұңқар көшесі", lat, lon)]
    path = tmp_path / "twins.json"
    path.write_text(json.dumps({"format": FORMAT, "source": "browser-twins", "entries": entries}), encoding="utf-8")
    load_gazetteer_file(path)

    log_in(page, console_user("op-view").username)
    page.keyboard.press("n")
    page.click("#nc-address")
    with page.expect_request("**/api/v1/geocode/?*") as request:
        page.keyboard.type("улица Сункар")
    page.wait_for_selector("#nc-address-list li")
    first = page.inner_text("#nc-address-list li:first-child")
    assert "Сұңқар көшесі" in first, first

    west, south, east, north = (float(v) for v in parse_qs(urlparse(request.value.url).query)["bbox"][0].split(","))
    assert west < lon < east and south < lat < north < lat + 0.3
