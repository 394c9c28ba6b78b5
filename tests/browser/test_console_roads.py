"""The console ranks the nearest units by driving time and draws an assignment's route
(issue 16), in a real Chromium against a synthetic road graph with one bridge."""

import pytest

from dispatch import roads
from tests.browser.conftest import console_user, log_in
from tests.browser.test_console import create_call
from tests.conftest import point
from tests.dispatch.roadnet import NORTH, SOUTH, load, river_with_one_bridge
from tests.factories import UnitFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def river(transactional_db, tmp_path):
    load(tmp_path, river_with_one_bridge())
    yield
    roads.clear_graph()


def test_candidates_are_ranked_by_eta_and_the_route_goes_over_the_bridge(page, river):
    operator = console_user("op-aigerim")
    UnitFactory(callsign="A-1", service="medical", capabilities=["als"], location=point(NORTH, 71.43))  # across
    UnitFactory(callsign="A-2", service="medical", capabilities=["als"], location=point(SOUTH, 71.41))
    call = create_call(operator, "cardiac_arrest", lat=SOUTH, lon=71.43)
    log_in(page, operator.username)
    page.click(f"#queue-list [data-reference='{call.reference}']")
    page.wait_for_selector(".d-candidates tr:has-text('A-1')")
    candidates = page.eval_on_selector_all(".d-candidates .unit-chip", "els => els.map(e => e.textContent)")
    assert candidates == ["A-2", "A-1"]  # A-1 is nearer by air, 4.6 km away by road
    assert "min" in page.inner_text(".d-candidates tr:has-text('A-2') .eta") or "мин" in page.inner_text(
        ".d-candidates tr:has-text('A-2') .eta")
    page.click(".d-candidates button[data-assign='A-1']")
    page.wait_for_selector(".d-assignments tr.active:has-text('A-1')")
    # The route is drawn along the roads: over the bridge at the east end, 71.46 E.
    page.wait_for_selector("path.route")
    width = page.eval_on_selector("path.route", "el => el.getBBox().width")
    height = page.eval_on_selector("path.route", "el => el.getBBox().height")
    assert width > height  # along the banks, not straight across the water
