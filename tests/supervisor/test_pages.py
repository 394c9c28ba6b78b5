"""The supervisors' browser pages: who gets in, and what each page ships."""

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from .builders import make_call

pytestmark = pytest.mark.django_db

PAGES = ["/supervisor/", "/supervisor/calls/{call}/", "/supervisor/stats/", "/supervisor/units/"]


@pytest.fixture
def call():
    return make_call(timezone.now())


def browser(user=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitor_is_sent_to_the_login_page(call, page):
    url = page.format(call=call.pk)
    response = browser().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("page", PAGES)
def test_operator_is_refused_the_supervisor_pages(operator, call, page):
    assert browser(operator).get(page.format(call=call.pk)).status_code == 403


@pytest.mark.parametrize("page,script", [
    ("/supervisor/", "supervisor/history.js"), ("/supervisor/calls/{call}/", "supervisor/call.js"),
    ("/supervisor/stats/", "supervisor/stats.js"), ("/supervisor/units/", "supervisor/units.js"),
])
def test_supervisor_gets_each_page_with_its_script_and_config(supervisor, call, page, script):
    response = browser(supervisor).get(page.format(call=call.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/static/{script}" in html and 'id="page-config"' in html
    config = response.context["page_config"]
    assert config["user"] == "sup1" and config["csrfToken"] and config["api"] == "/api/v1/"


def test_history_filters_by_every_call_status_the_server_has(supervisor, call):
    from dispatch.console import status_config

    response = browser(supervisor).get("/supervisor/")
    assert response.context["page_config"]["statuses"] == status_config()
    html = response.content.decode()
    labels = status_config()["labels"]  # each by its name in the page's language (issue 21)
    for code in status_config()["call"]["all"]:
        assert f'<option value="{code}">{labels[code]}</option>' in html


def test_call_page_names_the_call_and_unknown_calls_are_404(supervisor, call):
    response = browser(supervisor).get(f"/supervisor/calls/{call.pk}/")
    assert call.reference in response.content.decode()
    assert response.context["page_config"]["callId"] == call.pk
    assert browser(supervisor).get("/supervisor/calls/999999/").status_code == 404


def test_libraries_are_served_from_our_own_static_files_not_a_cdn(supervisor, call):
    for path in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "vendor/chartjs/chart.umd.min.js",
                 "supervisor/common.js", "supervisor/supervisor.css"):
        assert finders.find(path), path
    for page in PAGES:
        html = browser(supervisor).get(page.format(call=call.pk)).content.decode()
        assert "<script src=\"http" not in html and "cdn" not in html.lower()


def test_the_history_api_works_with_the_browser_session(supervisor, call):
    """The pages call the REST API with the session cookie; POSTs need the CSRF token."""
    from tests.factories import UnitFactory

    client = Client(enforce_csrf_checks=True)
    client.force_login(supervisor)
    assert client.get("/api/v1/calls/", {"operator": "nobody"}).status_code == 200
    unit = UnitFactory()
    assert client.post(f"/api/v1/units/{unit.pk}/out-of-service/").status_code == 403  # no CSRF token
    page = client.get("/supervisor/units/")
    token = page.context["page_config"]["csrfToken"]
    response = client.post(f"/api/v1/units/{unit.pk}/out-of-service/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json()["status"] == "out_of_service"
