"""The supervisors' pages end to end in a real headless Chromium (Playwright) against a
real uvicorn and PostGIS: "how fast did we respond last week, and what happened on this
call?" answered from the browser."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import PASSWORD, console_user, shot
from tests.conftest import point
from tests.factories import UnitFactory

from .builders import make_assignment, make_call

pytestmark = pytest.mark.browser
# These read the pages' English words; tests/browser/test_languages.py reads them in ru and kk.
LOCALE = "en-US"


@pytest.fixture
def week(transactional_db):
    """A handful of calls over the last week, one with a unit whose device left a track."""
    from core.models import Event
    from units.models import UnitPosition

    operator = console_user("op-browser", "operator")
    unit = UnitFactory(callsign="A-77", service="medical", location=point(51.14, 71.44))
    now = timezone.now().replace(microsecond=0)
    worked = make_call(now - timedelta(days=2), dispatch_s=25, on_scene_s=480, created_by=operator,
                       address="проспект Кабанбай батыра, 11", disposition="transported")
    assignment = make_assignment(worked, unit, after_s=25, ack_s=10, on_scene_s=455)
    for i in range(6):
        UnitPosition.objects.create(unit=unit, location=point(51.14 - i * 0.002, 71.44 - i * 0.002), accuracy_m=8,
                                    recorded_at=assignment.assigned_at + timedelta(seconds=60 * i))
    for i in range(5):
        make_call(now - timedelta(days=1, hours=i), type_code="noise_complaint", dispatch_s=90 + i)
    for seconds, type_, summary, actor in [(0, "call.created", "cardiac_arrest P1", operator),
                                           (25, "assignment.created", "A-77 (auto: nearest available)", None),
                                           (35, "assignment.updated", "acknowledged", None)]:
        Event.objects.create(type=type_, at=worked.received_at + timedelta(seconds=seconds), call=worked,
                             actor=actor, summary=summary)
    return worked


def log_in_as_supervisor(page):
    console_user("sup-browser", "supervisor")
    page.goto(page.base_url + "/supervisor/")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", "sup-browser")
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/supervisor/")


def test_history_filters_then_a_calls_timeline_with_the_units_track(page, week):
    log_in_as_supervisor(page)
    page.wait_for_function("document.querySelectorAll('#calls tbody tr').length === 6")
    page.select_option("select[name=incident_type]", "cardiac_arrest")
    page.fill("input[name=operator]", "op-browser")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#calls tbody tr').length === 1")
    assert "incident_type=cardiac_arrest" in page.get_attribute("#export", "href")
    assert "operator=op-browser" in page.get_attribute("#export", "href")
    shot(page, "supervisor-history")

    page.click(f"text={week.reference}")
    page.wait_for_url(f"**/supervisor/calls/{week.pk}/")
    page.wait_for_selector("#legend li")
    assert page.inner_text("#legend") == "A-77: 6 fixes"
    timeline = [row.split("\t") for row in page.inner_text("#timeline tbody").splitlines()]
    assert [r[2] for r in timeline] == ["Call created", "Unit assigned", "Assignment changed"]
    assert timeline[0][4] == "op-browser" and timeline[2][1] == "35 s" and timeline[2][4] == "system"
    assert "A-77" in page.inner_text("#assignments")
    assert "25 s" in page.inner_text("#facts")  # received → dispatched
    # the call, its accuracy circle, the unit's track and its last position are drawn
    assert page.locator("#map path.leaflet-interactive").count() >= 3
    shot(page, "supervisor-call")


def test_statistics_page_draws_its_charts(page, week):
    log_in_as_supervisor(page)
    page.set_viewport_size({"width": 1600, "height": 1500})  # the charts below the fold, for the screenshot
    page.goto(page.base_url + "/supervisor/stats/")
    page.wait_for_function("document.getElementById('calls').textContent === '6'")
    for chart in ("chart-hours", "chart-services", "chart-types", "chart-outcome"):
        assert page.evaluate(f"Chart.getChart('{chart}') !== undefined"), chart
    assert page.inner_text("#target-share") == "16.7 %"  # 1 of 6 dispatched within 60 s
    assert "missed" in page.inner_text("#target-verdict")
    shot(page, "supervisor-stats")


def test_units_page_creates_a_unit_and_takes_it_out_of_service(page, week):
    from units.models import Unit

    log_in_as_supervisor(page)
    page.goto(page.base_url + "/supervisor/units/")
    page.wait_for_selector("#units tbody tr")
    page.fill("input[name=callsign]", "F-9")
    page.select_option("select[name=service]", "fire")
    page.fill("input[name=capabilities]", "ladder, hazmat")
    page.click("#unit-form button[type=submit]")
    page.wait_for_selector("#units tbody tr:has-text('F-9')")
    assert Unit.objects.get(callsign="F-9").capabilities == ["hazmat", "ladder"]
    row = page.locator("#units tbody tr", has_text="A-77")
    row.locator("button", has_text="Out of service").click()
    page.wait_for_selector("#units tbody tr:has-text('A-77') td:nth-child(5):text-is('Out of service')")
    assert Unit.objects.get(callsign="A-77").status == "out_of_service"
