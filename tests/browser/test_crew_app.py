"""The crew app in Debian's Chromium on a phone-sized screen, against uvicorn and a real
Celery worker: paired by the supervisor's link, it hears an operator's call, works it, and
keeps its track through a dead network.

Screenshots of the app go to docs/screenshots/ when asked for:
  CONSOLE_SCREENSHOTS=docs/screenshots pytest tests/browser/test_crew_app.py
"""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from core.models import Event
from dispatch.models import Assignment
from tests.browser.conftest import shot
from tests.conftest import wait_for
from tests.factories import UnitFactory
from units.models import UnitPosition

pytestmark = pytest.mark.realtime

PHONE = {"width": 390, "height": 844}
START = (51.1280, 71.4300)
CARDIAC = {"incident_type": "cardiac_arrest", "caller_phone": "+77011234567",
           "description": "Man collapsed at the bus stop, not breathing",
           "location": {"lat": 51.1300, "lon": 71.4350, "accuracy_m": 15}}
# While offline the phone moves north along the avenue, 100 m a step.
ROUTE = [(51.1290 + i * 0.0009, 71.4300) for i in range(4)]


def phone(browser, base_url, locale="ru-RU"):
    """A phone: small touch screen, location allowed and emulated, only the test server reachable."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale=locale,
        geolocation={"latitude": START[0], "longitude": START[1], "accuracy": 8},
        permissions=["geolocation", "notifications"],
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    # No request routing here (the console's tests abort every outside request): routing and a
    # service worker do not mix in Playwright (requests of a controlled page hang), and the
    # app asks nothing of another host anyway, which the request log below checks.
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.console_messages = []
    page.requests = []
    context.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    page.base_url = base_url
    return page


def assignment_of(unit):
    return Assignment.objects.filter(unit=unit).order_by("-id").first()


def test_a_paired_phone_works_a_call_and_keeps_its_track_offline(browser, asgi_server, live_worker, supervisor_client,
                                                                  operator_client):
    unit = UnitFactory(callsign="A-7", service="medical", capabilities=["als"])
    base = f"http://127.0.0.1:{asgi_server.port}"
    pairing = supervisor_client.post(f"/api/v1/units/{unit.pk}/pairing/").json()
    page = phone(browser, base)
    try:
        # Paired by the supervisor's link: the fragment is kept in the phone, not in the address bar.
        page.goto(base + "/crew/#" + pairing["link"].split("#", 1)[1])
        page.wait_for_selector("#conn.conn-live")
        page.wait_for_function("document.getElementById('callsign').textContent === 'A-7'")
        assert "#token" not in page.url and "token=" not in page.url
        assert page.evaluate("localStorage.getItem('crew.token')") == pairing["token"]
        assert page.is_visible("#idle")
        # its first fix reaches the server
        wait_for(lambda: UnitPosition.objects.filter(unit=unit).exists(), message="the first fix")
        page.wait_for_function("document.getElementById('gps').textContent.includes('±')")
        shot(page, "crew-idle")

        # An operator's call, dispatched by the real worker, rings on the phone.
        page.evaluate("""() => {
            const box = document.getElementById('assignment');
            new MutationObserver(() => { if (!box.hidden && !window.shownAt) window.shownAt = Date.now(); })
                .observe(box, { attributes: true });
        }""")
        created = operator_client.post("/api/v1/calls/", CARDIAC, format="json")
        assert created.status_code == 201, created.content
        page.wait_for_selector("#assignment:not([hidden]).ringing")
        page.wait_for_function("document.getElementById('a-type').textContent === 'Остановка сердца'")
        event = Event.objects.get(type="assignment.created", unit=unit)
        shown_ms = page.evaluate("window.shownAt") - event.at.timestamp() * 1000
        print(f"\nassignment.created row -> shown on the phone: {shown_ms:.0f} ms")
        assert shown_ms < 5000  # generous; the figure is what the issue asks for
        assert page.inner_text("#a-address")  # the call's address, or its coordinates
        assert "not breathing" in page.inner_text("#a-notes")
        assert page.get_attribute("#a-navigate", "href").startswith("geo:51.13,71.435?q=")
        assert page.inner_text("#a-priority").startswith("P1")
        assert page.is_visible("#act-ack") and page.is_visible("#act-decline")
        shot(page, "crew-new-assignment")

        page.click("#act-ack")
        wait_for(lambda: assignment_of(unit).status == "acknowledged", message="acknowledged")
        page.wait_for_selector("#a-status[data-status='acknowledged']")
        page.wait_for_selector("#unit-status[data-status='en_route']")
        page.click("#act-arrive")
        wait_for(lambda: assignment_of(unit).status == "on_scene", message="on scene")
        page.wait_for_selector("#act-clear:not([hidden])")
        shot(page, "crew-on-scene")

        # The network goes; the crew moves on, clears, and the phone keeps all of it.
        page.context.set_offline(True)
        page.wait_for_function("!navigator.onLine")
        page.wait_for_selector("#conn.conn-down")
        assert page.is_visible("#offline")
        left_at = timezone.now()
        queued_before = int(page.get_attribute("#queued", "data-fixes") or 0)
        for i, (lat, lon) in enumerate(ROUTE, 1):
            page.context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 6})
            # Each point is kept before the crew moves on (a busy machine's Chromium may
            # otherwise report only the newest of two quick moves: seen once in CI).
            page.wait_for_function(f"document.getElementById('queued').dataset.fixes >= {queued_before + i}")
        page.click("#act-clear")
        page.wait_for_selector("#idle:not([hidden])")  # the screen follows the crew's hand at once
        page.wait_for_function("document.getElementById('queued').dataset.fixes >= 3")
        page.wait_for_selector("#queued[data-actions='1']")
        assert assignment_of(unit).status == "on_scene"  # nothing reached the server
        stored_offline = UnitPosition.objects.filter(unit=unit, recorded_at__gte=left_at).count()
        assert stored_offline == 0
        time.sleep(1.0)
        shot(page, "crew-offline")
        # Closed and opened again in the tunnel: the service worker serves the app, and what
        # waits to be sent is still there.
        page.reload()
        page.wait_for_selector("#main:not([hidden])")
        page.wait_for_selector("#queued[data-actions='1']")
        assert int(page.get_attribute("#queued", "data-fixes")) >= len(ROUTE)
        back_at = timezone.now()

        page.context.set_offline(False)
        wait_for(lambda: assignment_of(unit).status == "cleared", timeout=20, message="the queued clear")
        wait_for(lambda: UnitPosition.objects.filter(unit=unit, recorded_at__gte=left_at).count() >= len(ROUTE),
                 timeout=20, message="the queued fixes")
        fixes = list(UnitPosition.objects.filter(unit=unit, recorded_at__gte=left_at).order_by("recorded_at"))
        assert all(f.recorded_at < back_at for f in fixes)  # their own times, not the time of sending
        assert all(f.received_at >= back_at for f in fixes)
        # the route in order (the reloaded app adds one more fix where it stands)
        points = [(round(f.location.y, 4), round(f.location.x, 4)) for f in fixes]
        points = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        assert points == [(round(lat, 4), round(lon, 4)) for lat, lon in ROUTE]
        page.wait_for_selector("#queued[data-fixes='0'][data-actions='0']")
        page.wait_for_selector("#unit-status[data-status='available']")
        page.wait_for_selector("#conn.conn-live")  # the feed is back too

        # The supervisor's track of the unit has no hole where the network was.
        window = {"from": (left_at - timedelta(minutes=1)).isoformat(), "to": timezone.now().isoformat()}
        track = supervisor_client.get(f"/api/v1/units/{unit.pk}/track/", window).json()["points"]
        times = [datetime.fromisoformat(p["recorded_at"]) for p in track]
        offline_points = [p for p, at in zip(track, times, strict=True) if left_at <= at < back_at]
        assert len(offline_points) >= len(ROUTE)
        assert times == sorted(times)
        shot(page, "crew-back-online")
    except Exception:
        print("\n".join(page.console_messages[-20:]))  # the page's side of a failure
        raise
    finally:
        errors = list(page.errors)
        page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert all(url.startswith(("http://127.0.0.1", "ws://127.0.0.1")) for url in page.requests)


def test_an_unpaired_phone_and_a_replaced_token_show_what_to_do(browser, asgi_server, supervisor_client):
    unit = UnitFactory(callsign="B-3", service="medical")
    base = f"http://127.0.0.1:{asgi_server.port}"
    page = phone(browser, base, locale="en-US")
    try:
        page.goto(base + "/crew/")
        page.wait_for_selector("#pair:not([hidden])")
        assert "not paired" in page.inner_text("#pair")
        token = supervisor_client.post(f"/api/v1/units/{unit.pk}/pairing/").json()["token"]
        page.goto(base + "/crew/#token=" + token)
        page.wait_for_selector("#conn.conn-live")
        # A lost phone: the supervisor issues a new token; this one is signed out at once.
        # (From another thread: the revocation doorbell cannot ring under Playwright's loop.)
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(supervisor_client.post, f"/api/v1/units/{unit.pk}/pairing/").result().status_code == 200
        page.wait_for_selector("#signed-out:not([hidden])")
        assert page.evaluate("localStorage.getItem('crew.token')") is None
        shot(page, "crew-signed-out")
    except Exception:
        print("\n".join(page.console_messages[-20:]))  # the page's side of a failure
        raise
    finally:
        errors = list(page.errors)
        page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert all(url.startswith(("http://127.0.0.1", "ws://127.0.0.1")) for url in page.requests)
