"""A partner's alarm in the console: held until an operator confirms, with its source and picture."""

from calls.models import Call, IncidentType
from calls.services import call_create
from tests.browser.conftest import console_user, log_in
from tests.conftest import point


def test_an_unconfirmed_alarm_shows_its_source_and_picture_and_is_released_by_the_operator(page, transactional_db):
    operator = console_user("op-aigerim")
    alarm = {"source": "sergek", "source_name": "Sergek", "kind": "crash", "external_id": "cam-12/77",
             "occurred_at": "2026-12-01T10:00:00+05:00", "media_url": "https://cams.example.kz/77.jpg"}
    call = call_create(actor=None, incident_type=IncidentType.objects.get(code="traffic_accident_injury"),
                       channel="alarm", alarm=alarm, hold_reason="alarm_unconfirmed",
                       location={"point": point(51.13, 71.43), "accuracy_m": 15, "source": "alarm"})
    log_in(page, operator.username)
    page.click(f"#queue-list [data-reference='{call.reference}']")
    page.wait_for_selector(".hold:has-text('неподтверждённая тревога')")
    info = page.inner_text("#call-detail .d-info")
    assert "Тревога" in info and "Sergek · crash" in info
    link = page.get_attribute("#call-detail .d-info a[target=_blank]", "href")
    assert link == "https://cams.example.kz/77.jpg"
    page.click("#d-release")
    page.wait_for_selector(".hold", state="detached")
    assert Call.objects.get(pk=call.pk).hold_reason == ""


def test_a_picture_link_that_is_not_http_is_not_made_clickable(page, transactional_db):
    operator = console_user("op-daniyar")
    alarm = {"source": "school", "source_name": "School 12", "kind": "panic", "external_id": "b-1",
             "occurred_at": "2026-12-01T10:00:00+05:00", "media_url": "javascript:alert(1)"}
    call = call_create(actor=None, incident_type=IncidentType.objects.get(code="other"), channel="alarm",
                       alarm=alarm, location={"point": point(51.13, 71.43), "accuracy_m": 15, "source": "alarm"})
    log_in(page, operator.username)
    page.click(f"#queue-list [data-reference='{call.reference}']")
    page.wait_for_selector("#call-detail .d-info:has-text('School 12 · panic')")
    assert page.query_selector("#call-detail .d-info a[target=_blank]") is None
