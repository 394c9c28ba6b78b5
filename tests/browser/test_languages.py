"""Every page in Russian and in Kazakh, in Chromium (issue 21): the sign-in page, the
operator console with a call open, the supervisors' history, statistics, units and a
call's timeline, and the crew app with its assignment. What a person sees, every visible
text, placeholder, tooltip and menu option, holds no English word outside proper names
and codes (tests/english.py). The call's timeline is also read in English, so one page
shows the same journal rows in all three languages.

One browser context per language walks all the pages (a context costs ~1 s, a page ~2 s).
"""

import pytest
from django.contrib.auth.models import Group
from django.utils import translation

from calls.models import IncidentType
from core import texts
from dispatch import engine, services
from tests.browser.conftest import PASSWORD, console_user, offline_page, shot
from tests.conftest import point
from tests.english import english_words
from tests.factories import UnitFactory, new_call
from units.services import unit_issue_token

pytestmark = pytest.mark.browser

USERNAME = "i18n-sup"
NOTE = "пациент в сознании"

# Everything a person can read: visible text nodes, and the placeholder, title, aria-label
# and alt of visible elements, and every option of a visible menu.
VISIBLE_TEXT = """() => {
  const seen = (el) => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || ["SCRIPT", "STYLE", "NOSCRIPT", "OPTION"].includes(parent.tagName)) continue;
    if (node.textContent.trim() && seen(parent)) out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label], img[alt]")) {
    if (!seen(el)) continue;
    for (const name of ["placeholder", "title", "aria-label", "alt"]) if (el.getAttribute(name)) out.push(el.getAttribute(name));
  }
  for (const select of document.querySelectorAll("select")) {
    if (seen(select)) for (const option of select.options) out.push(option.textContent.trim());
  }
  out.push(document.title);
  return out.join("\\n");
}"""


def world():
    """A supervisor who is also an operator, a call worked to the end (the timeline), an
    open call with a unit on its way (the console's queue and the crew app)."""
    person = console_user(USERNAME, "supervisor")
    person.groups.add(Group.objects.get_or_create(name="operator")[0])
    UnitFactory(callsign="А-7", service="medical", capabilities=["als"], location=point(51.131, 71.43))
    done = new_call("cardiac_arrest", description="Мужчина упал на остановке")
    assert engine.dispatch_call(done.pk) == 1
    assignment = done.assignments.get()
    services.assignment_acknowledge(assignment_id=assignment.pk)
    services.assignment_arrive(assignment_id=assignment.pk)
    services.call_close(call_id=done.pk, disposition="resolved", notes=NOTE, actor=person)
    crew_unit = UnitFactory(callsign="П-12", service="police", location=point(51.14, 71.44))
    open_call = new_call("traffic_accident", lat=51.141, lon=71.441, description="Столкновение двух машин")
    assert engine.dispatch_call(open_call.pk) >= 1
    token = unit_issue_token(unit_id=crew_unit.pk, actor=None)
    return done, open_call, token


def english_on(page, what):
    """The English words on the page, each with the first line it is in (for the message)."""
    text = page.evaluate(VISIBLE_TEXT)
    words = english_words(text, extra={"i18n", "sup"})
    return [f"{what}: {w} in {next(line for line in text.splitlines() if w in line)[:80]!r}" for w in words]


def sign_in(page):
    page.goto(page.base_url + "/accounts/login/")
    left = english_on(page, "sign-in page")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#conn.conn-live")
    return left


def walk(page, done, open_call, token, lang):
    """Every page in one context; returns the English words found on each."""
    left = sign_in(page)
    # The console, with the open call's detail and timeline.
    page.click(f"#queue-list [data-id='{open_call.pk}']")
    page.wait_for_selector("#call-detail .timeline li")
    page.wait_for_selector("#call-detail .d-candidates table, #call-detail .d-candidates p")
    shot(page, f"i18n-console-{lang}")
    left += english_on(page, "console")
    base = page.base_url
    page.goto(base + "/supervisor/")
    page.wait_for_selector(f"#calls tbody a:text('{done.reference}')")
    left += english_on(page, "history")
    page.goto(base + "/supervisor/stats/")
    page.wait_for_function("document.getElementById('calls').textContent !== '–'")
    left += english_on(page, "statistics")
    page.goto(base + "/supervisor/units/")
    page.wait_for_selector("#units tbody tr")
    left += english_on(page, "units")
    page.goto(base + f"/supervisor/calls/{done.pk}/")
    page.wait_for_selector("#timeline tbody tr")
    page.wait_for_selector("#legend li")
    shot(page, f"i18n-timeline-{lang}")
    left += english_on(page, "call timeline")
    timeline = page.inner_text("#timeline tbody")
    # The page writes a distance as the server does, with the language's decimal comma.
    reason = {"service": "medical", "distance_m": 1450, "eta_s": 200}
    in_page = page.evaluate("(params) => DispatchTexts.render('nearest_by_air', params)", reason)
    with translation.override(lang):
        assert in_page == texts.render("nearest_by_air", reason) and "1,4 " in in_page, in_page
    # The crew app, paired by its link, with the police unit's assignment on screen.
    page.goto(base + f"/crew/#token={token}")
    page.wait_for_selector("#assignment:not([hidden])")
    page.wait_for_selector(f"#a-reference:text('{open_call.reference}')")
    left += english_on(page, "crew app")
    return left, timeline


@pytest.mark.parametrize("lang, locale", [("ru", "ru-RU"), ("kk", "kk-KZ")])
def test_every_page_speaks_the_browsers_language_with_no_english_left(browser, asgi_server, lang, locale):
    done, open_call, token = world()
    page = offline_page(browser, f"http://127.0.0.1:{asgi_server.port}", locale=locale)
    page.base_url = f"http://127.0.0.1:{asgi_server.port}"
    try:
        left, timeline = walk(page, done, open_call, token, lang)
        assert page.evaluate("document.documentElement.lang") == lang
        assert not page.errors, page.errors
    finally:
        page.context.close()
    assert not left, "\n".join(left)
    names = IncidentType.objects.get(code="cardiac_arrest")
    with translation.override(lang):
        expected = {"ru": f"направлен на {done.reference}", "kk": f"{done.reference} шақыруына жіберілді"}[lang]
    assert expected in timeline and getattr(names, f"name_{lang}") in timeline
    assert NOTE in timeline  # the operator's words as typed


def test_the_same_timeline_reads_in_english(browser, asgi_server):
    done, _open_call, _token = world()
    page = offline_page(browser, f"http://127.0.0.1:{asgi_server.port}", locale="en-US")
    page.base_url = f"http://127.0.0.1:{asgi_server.port}"
    try:
        sign_in(page)
        page.goto(page.base_url + f"/supervisor/calls/{done.pk}/")
        page.wait_for_selector("#timeline tbody tr")
        timeline = page.inner_text("#timeline tbody")
        why = page.inner_text("#assignments tbody")
        assert not page.errors, page.errors
    finally:
        page.context.close()
    names = IncidentType.objects.get(code="cardiac_arrest")
    assert f"dispatched to {done.reference}" in timeline and f"{names.name_en}, P1" in timeline
    assert "first unit on scene" in timeline and f"closed: Resolved, {NOTE}" in timeline
    # The assignment's 'Why': it ended with the call, said in English words.
    assert "the call is Closed" in why
