"""The operator console end to end: real Chromium, real uvicorn, real Celery worker, real PostGIS.

What a new operator does on a shift: log in, take a call by address (a corner), watch
the assignment appear live, work a call from its detail, survive a server restart without
reloading or double entries, switch language.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from calls.gazetteer import FORMAT
from calls.gazetteer_load import load_gazetteer_file
from calls.models import Call, IncidentType
from core.models import Event
from dispatch.models import Assignment
from tests.browser.conftest import console_user, log_in, offline_page, shot
from tests.conftest import point, start_asgi, wait_for
from tests.factories import UnitFactory

pytestmark = pytest.mark.browser

KENESARY_ABYLAI = (51.161053, 71.468287)


def in_thread(fn, *args, **kwargs):
    """Run ORM writes off the Playwright thread: its running event loop would stop the
    after-commit publish (async_to_sync), and the feed would only see the rows on its next
    journal read."""

    def run():
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def create_call(operator, code="cardiac_arrest", lat=51.128, lon=71.43, accuracy_m=20, **extra):
    from calls.services import call_create

    def create():
        return call_create(
            actor=operator,
            incident_type=IncidentType.objects.get(code=code),
            location={"point": point(lat, lon), "accuracy_m": accuracy_m, "source": "operator"},
            **extra,
        )

    return in_thread(create)


def load_corner(tmp_path):
    def street(label, *points):
        lat, lon = points[len(points) // 2]
        return {
            "kind": "street",
            "label": label,
            "lat": lat,
            "lon": lon,
            "importance": 0.8,
            "lines": [[[p[1], p[0]] for p in points]],
        }

    entries = [
        street("Кенесары көшесі", (51.1604, 71.3968), (51.1640, 71.4300), (51.1611, 71.4683)),
        street("Абылай Хан даңғылы", (51.1650, 71.4600), (51.1611, 71.4683), (51.1513, 71.4944)),
        {
            "kind": "intersection",
            "label": "Абылай Хан даңғылы / Кенесары көшесі",
            "streets": ["Абылай Хан даңғылы", "Кенесары көшесі"],
            "lat": KENESARY_ABYLAI[0],
            "lon": KENESARY_ABYLAI[1],
        },
    ]
    path = tmp_path / "corner.json"
    path.write_text(json.dumps({"format": FORMAT, "source": "browser-test", "entries": entries}), encoding="utf-8")
    load_gazetteer_file(path)


def queue_references(page):
    return page.eval_on_selector_all("#queue-list [data-reference]", "els => els.map(e => e.dataset.reference)")


def test_operator_takes_a_call_by_address_and_sees_the_unit_assigned_live(page, live_worker, tmp_path):
    operator = console_user("op-anna")
    load_corner(tmp_path)
    UnitFactory(callsign="A-7", service="medical", capabilities=["als"], location=point(51.1650, 71.4600))
    UnitFactory(callsign="P-3", service="police", location=point(51.1500, 71.4300))
    page.goto(page.base_url + "/accounts/login/")
    shot(page, "01-login")
    log_in(page, operator.username)

    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.id") == "nc-phone"
    page.keyboard.type("+7 701 555 12 34")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "nc-type"
    page.keyboard.type("остановка")
    page.wait_for_selector("#nc-type-list li:has-text('Остановка сердца')")
    page.keyboard.press("Enter")
    assert page.input_value("#nc-type") == "Остановка сердца"
    assert page.input_value("#nc-priority") == "1"  # the type's default priority
    page.click("#nc-address")
    page.keyboard.type("угол Кенесары / Абылай хана")
    page.wait_for_selector("#nc-address-list li:has-text('Кенесары')")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#nc-location:not([hidden])")
    page.fill("#nc-description", "Мужчина 60 лет, не дышит")
    shot(page, "02-new-call")
    page.press("#nc-description", "Control+Enter")

    item = page.wait_for_selector("#queue-list .qi:has-text('Остановка сердца')")
    call = Call.objects.get()
    assert call.caller_phone.replace(" ", "").endswith("7015551234")
    assert call.location is not None and call.location_source == "address"
    assert abs(call.location.y - KENESARY_ABYLAI[0]) < 1e-4 and abs(call.location.x - KENESARY_ABYLAI[1]) < 1e-4
    assert "Кенесары" in call.address
    assert item.get_attribute("data-reference") == call.reference

    # The worker picks the nearest capable unit; the feed brings it to the queue and the detail.
    page.wait_for_selector(f"#queue-list [data-reference='{call.reference}'] .unit-chip:has-text('A-7')")
    page.wait_for_selector(".d-assignments tr:has-text('A-7')")
    assert Assignment.objects.get(call=call).unit.callsign == "A-7"
    assert (
        "направлен" in page.inner_text(f"#queue-list [data-reference='{call.reference}']").lower()
    )  # CSS upper-cases it
    page.wait_for_selector(".timeline li:has-text('Экипаж назначен')")
    assert queue_references(page) == [call.reference]
    shot(page, "03-call-dispatched")

    page.keyboard.press("Escape")
    page.keyboard.press("u")
    page.wait_for_selector("#units-body tr:has-text('A-7')")
    row = page.inner_text("#units-body tr:has-text('A-7')")
    assert call.reference in row
    shot(page, "04-units-board")


def test_operator_works_a_call_from_its_detail(page, transactional_db):
    operator = console_user("op-bolat")
    near = UnitFactory(callsign="A-9", service="medical", capabilities=["als"], location=point(51.1300, 71.4300))
    UnitFactory(callsign="F-2", service="fire", location=point(51.1400, 71.4300))
    UnitFactory(
        callsign="P-8",
        service="police",
        location=point(51.1290, 71.4310),
        location_recorded_at=None,
        status="out_of_service",
    )
    first = create_call(operator, "traffic_accident_injury", description="Two cars, one driver trapped")
    # Logged as P3 (P1/P2 duplicates are dispatched at once and only flagged).
    held = create_call(operator, "traffic_accident_injury", lat=51.12805, lon=71.43005, priority=3)
    assert held.hold_reason == "possible_duplicate"
    log_in(page, operator.username)

    # The duplicate stands out in the queue; merge it into the first call.
    page.click(f"#queue-list [data-reference='{held.reference}']")
    page.wait_for_selector(".hold:has-text('возможный дубликат')")
    assert "Возможный дубликат" in page.inner_text(f"#queue-list [data-reference='{held.reference}']")
    page.fill("#d-merge", first.reference)
    page.click("#call-detail form:has(#d-merge) button[type=submit]")
    page.wait_for_selector(f"#queue-list [data-reference='{held.reference}']", state="detached")
    assert Call.objects.get(pk=held.pk).status == "merged"

    # Assign a specific unit from the nearest candidates, sorted by distance.
    page.click(f"#queue-list [data-reference='{first.reference}']")
    page.wait_for_selector(".d-candidates tr:has-text('A-9')")
    candidates = page.eval_on_selector_all(".d-candidates .unit-chip", "els => els.map(e => e.textContent)")
    assert candidates == ["A-9", "F-2"]  # the out-of-service unit is not offered
    page.click(".d-candidates button[data-assign='A-9']")
    page.wait_for_selector(".d-assignments tr.active:has-text('A-9')")
    assert Assignment.objects.get(call=first, unit=near).status == "assigned"

    # A note goes to the timeline.
    page.fill("#d-note", "Водитель зажат, нужен резак")
    page.press("#d-note", "Control+Enter")
    page.wait_for_selector(".timeline li:has-text('Водитель зажат')")
    page.eval_on_selector("#call-detail", "el => { el.scrollTop = 0; }")
    shot(page, "05-call-detail")

    # Change priority.
    page.select_option("#d-priority", "2")
    page.click("#d-edit button[type=submit]")
    page.wait_for_selector(f"#queue-list [data-reference='{first.reference}'] .prio:has-text('P2')")

    # Take the unit off the call (a second press confirms).
    cancel = page.locator(".d-assignments tr.active:has-text('A-9') button")
    cancel.click()
    cancel.click()
    page.wait_for_selector(".d-assignments tr.ended:has-text('A-9')")
    assert Assignment.objects.get(call=first, unit=near).status == "cancelled"

    # Close with a disposition: the call leaves the queue.
    page.select_option("#d-disposition", "resolved")
    page.click("#d-close")
    page.wait_for_selector(f"#queue-list [data-reference='{first.reference}']", state="detached")
    first.refresh_from_db()
    assert first.status == "closed" and first.disposition == "resolved"
    assert page.is_visible("#queue-empty")


def test_console_reconnects_after_a_server_restart_and_catches_up_without_doubles(browser, asgi_server):
    operator = console_user("op-dana")
    before = create_call(operator, "noise_complaint")
    page = offline_page(browser, "")
    page.base_url = f"http://127.0.0.1:{asgi_server.port}"
    restarted = None
    try:
        log_in(page, operator.username)
        page.wait_for_selector(f"#queue-list [data-reference='{before.reference}']")

        asgi_server.stop()
        page.wait_for_selector("#offline:not([hidden])")
        assert "conn-live" not in page.get_attribute("#conn", "class")
        # Calls keep arriving while this console is cut off.
        missed = [create_call(operator, "power_outage", lat=51.10 + i / 100) for i in range(2)]
        shot(page, "06-reconnecting")

        restarted = start_asgi(asgi_server.port)
        page.wait_for_selector("#conn.conn-live", timeout=30_000)
        page.wait_for_selector("#offline", state="hidden")
        for call in missed:
            page.wait_for_selector(f"#queue-list [data-reference='{call.reference}']")
        # And the live stream goes on after the catch-up.
        after = create_call(operator, "gas_leak", lat=51.2)
        page.wait_for_selector(f"#queue-list [data-reference='{after.reference}']")

        references = queue_references(page)
        assert sorted(references) == sorted(c.reference for c in [before, *missed, after])
        assert len(references) == len(set(references))
        latest = Event.objects.order_by("-id").values_list("id", flat=True).first()
        wait_for(
            lambda: page.evaluate("window.__console.state.lastId") == latest,
            message="the console to reach the last event",
        )
        assert page.errors == []
    finally:
        page.context.close()
        if restarted is not None:
            restarted.stop()


def test_operator_switches_language_and_the_whole_page_follows(page, transactional_db):
    operator = console_user("op-erlan")
    call = create_call(operator, "gas_leak")
    log_in(page, operator.username)
    assert page.inner_text("h1.title") == "Пульт оператора"
    assert page.inner_text("#conn-text") == "На связи"
    item = f"#queue-list [data-reference='{call.reference}']"
    assert "Утечка газа" in page.inner_text(item)

    page.select_option("#language", "kk")
    page.wait_for_selector("h1.title:has-text('Оператор пульті')")
    page.wait_for_selector("#conn.conn-live")
    assert page.get_attribute("html", "lang") == "kk"
    assert page.inner_text("#conn-text") == "Байланыста"  # a string from the JavaScript catalogue
    assert "Газдың ағуы" in page.inner_text(item)  # incident type names in the chosen language
    assert "күтуде" in page.inner_text(item).lower()  # "pending", upper-cased by CSS
    page.click(item)
    page.wait_for_selector("#call-detail h3:has-text('Хронология')")
    shot(page, "07-console-kazakh")

    page.select_option("#language", "en")
    page.wait_for_selector("h1.title:has-text('Operator console')")
    page.wait_for_selector("#conn.conn-live")
    assert page.inner_text("#conn-text") == "Live"
    assert "Gas leak" in page.inner_text(item)

    # The choice outlives the session: the login page speaks it too.
    page.click("#logout")
    page.wait_for_selector("#login-submit:has-text('Sign in')")
