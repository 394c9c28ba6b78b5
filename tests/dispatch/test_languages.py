"""Texts people read later, in the reader's language (issue 21): the journal keeps English
facts plus a code with parameters; the timeline, reasons and CSV names follow
Accept-Language or the user's saved choice; rows from before codes keep their text."""

import re

import pytest
from django.utils import translation

from core import texts
from core.models import Event
from dispatch import engine, services
from tests.conftest import client_for, point
from tests.english import english_words
from tests.factories import UnitFactory, make_user, new_call, token_for

pytestmark = pytest.mark.django_db

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def worked_call():
    """A call dispatched by the engine, acknowledged, on scene, a note, closed: the lines a
    supervisor reads on a timeline."""
    operator = make_user("op-lang", "operator")
    UnitFactory(callsign="A-7", service="medical", capabilities=["als"], location=point(51.131, 71.43))
    call = new_call("cardiac_arrest")
    assert engine.dispatch_call(call.pk) == 1
    assignment = call.assignments.get()
    services.assignment_acknowledge(assignment_id=assignment.pk)
    services.assignment_arrive(assignment_id=assignment.pk)
    services.call_close(call_id=call.pk, disposition="resolved", notes="patient stable", actor=operator)
    return call, assignment


def timeline(client, call, language):
    response = client.get(f"/api/v1/calls/{call.pk}/timeline/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200 and response["Content-Language"] == language
    return response.json()


def test_timeline_reads_in_russian_kazakh_and_english_and_the_stored_facts_stay_english(supervisor_client):
    call, assignment = worked_call()
    # The journal rows are the English facts they always were, now with a code beside them.
    stored = list(Event.objects.filter(call=call).order_by("id").values_list("summary", "summary_code"))
    assert ("dispatched to " + call.reference, "dispatched_to") in stored
    assert ("closed: resolved patient stable", "closed_notes") in stored
    assert all(code for _summary, code in stored), stored

    shown = {lang: [e["summary_text"] for e in timeline(supervisor_client, call, lang)] for lang in ("ru", "kk", "en")}
    assert f"направлен на {call.reference}" in shown["ru"]
    assert f"{call.reference} шақыруына жіберілді" in shown["kk"]
    assert f"dispatched to {call.reference}" in shown["en"]
    assert "закрыт: Решено, patient stable" in shown["ru"]  # the operator's words stay as typed
    assert "жабылды: Шешілді, patient stable" in shown["kk"]
    # The type's name from the catalogue, not its code, in each language.
    from calls.models import IncidentType

    names = IncidentType.objects.get(code="cardiac_arrest")
    assert f"{names.name_ru}, P1" in shown["ru"] and f"{names.name_kk}, P1" in shown["kk"]
    assert f"{names.name_en}, P1" in shown["en"]
    # The engine's reason, with its measures in the reader's words.
    reason = {lang: next(e["summary_text"] for e in timeline(supervisor_client, call, lang)
                         if e["type"] == "assignment.created") for lang in ("ru", "kk", "en")}
    # No road graph is loaded here: the straight line, 334 m (0.003° of latitude).
    assert reason["ru"].startswith("ближайший свободный экипаж (Скорая помощь) с ALS по прямой: 334 м, в пути ≈")
    assert reason["kk"].startswith("ALS бар ең жақын бос экипаж (Жедел жәрдем) түзу сызықпен: 334 м, жол уақыты ≈")
    assert reason["en"].startswith("nearest available unit (Medical) with ALS in a straight line: 334 m, ETA ≈")
    # No line left in English in the Russian and Kazakh timelines (the note is the operator's).
    for lang in ("ru", "kk"):
        assert not english_words(" ".join(shown[lang]), extra={"patient", "stable"}), (lang, shown[lang])


def test_assignment_carries_its_reason_code_beside_the_english_reason(supervisor_client):
    call, assignment = worked_call()
    body = supervisor_client.get(f"/api/v1/calls/{call.pk}/").json()
    (a,) = body["assignments"]
    assert a["reason"] == assignment.reason and a["reason"].startswith("nearest available medical unit with als")
    assert a["reason_code"] == "nearest_by_road_with" or a["reason_code"] == "nearest_by_air_with"
    assert a["reason_params"]["service"] == "medical" and a["reason_params"]["capability"] == "als"
    # The live feed's payload (the journal row's data) carries the same, additively.
    created = Event.objects.get(call=call, type="assignment.created")
    assert created.data["reason"] == a["reason"] and created.data["reason_code"] == a["reason_code"]


def test_a_row_written_before_codes_shows_its_stored_text(supervisor_client):
    call, _assignment = worked_call()
    old = Event.objects.filter(call=call, type="call.updated").first()
    Event.objects.filter(pk=old.pk).update(summary="status dispatched", summary_code="", summary_params=None)
    by_id = {e["id"]: e for e in timeline(supervisor_client, call, "ru")}
    assert by_id[old.pk]["summary_text"] == "status dispatched" and by_id[old.pk]["summary_code"] == ""
    # A code this version does not know (written by a newer one) also falls back.
    assert texts.render("from_the_future", {"x": 1}, fallback="stored") == "stored"
    assert texts.render("merged_into", {}, fallback="stored") == "stored"  # a parameter missing


def test_every_text_template_is_translated_with_the_same_parameters():
    for code, template in texts.MESSAGES.items():
        with translation.override("en"):
            english = str(template)
        names = set(PLACEHOLDER.findall(english))
        for lang in ("ru", "kk"):
            with translation.override(lang):
                translated = str(template)
            assert translated != english or code in {"call_created", "assignment_ended",
                                                           "assignment_ended_because"}, (lang, code)
            assert set(PLACEHOLDER.findall(translated)) == names, (lang, code, translated)


def test_saved_language_beats_the_browser_and_an_api_client_may_name_its_own(client):
    call, _assignment = worked_call()
    supervisor = make_user("sup-kk", "supervisor")
    api = client_for(token=token_for(supervisor))
    assert api.get("/api/v1/account/language/").json() == {"language": None}
    response = api.put("/api/v1/account/language/", {"language": "xx"}, format="json")
    assert response.status_code == 400 and "language" in response.json()
    assert api.put("/api/v1/account/language/", {"language": "kk"}, format="json").json() == {"language": "kk"}
    # A token client that names no language gets the saved one; one that names it, its own.
    plain = api.get(f"/api/v1/calls/{call.pk}/timeline/")
    assert plain["Content-Language"] == "kk"
    assert f"{call.reference} шақыруына жіберілді" in [e["summary_text"] for e in plain.json()]
    assert api.get(f"/api/v1/calls/{call.pk}/timeline/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "en"
    # A browser signing in gets the saved language whatever it sends, pages and API alike.
    client.force_login(supervisor)  # force_login sends user_logged_in, as a real sign-in does
    page = client.get("/supervisor/", HTTP_ACCEPT_LANGUAGE="en-US,en")
    assert page["Content-Language"] == "kk" and "Шақырулар тарихы" in page.content.decode()
    assert client.get(f"/api/v1/calls/{call.pk}/timeline/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "kk"
    # The language menu saves the choice too.
    client.post("/i18n/setlang/", {"language": "ru", "next": "/supervisor/"})
    assert api.get("/api/v1/account/language/").json() == {"language": "ru"}
    assert client.get("/supervisor/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "ru"


def test_an_anonymous_api_error_follows_accept_language(anon_client):
    assert anon_client.get("/api/v1/calls/", HTTP_ACCEPT_LANGUAGE="kk")["Content-Language"] == "kk"
    body = anon_client.get("/api/v1/calls/", HTTP_ACCEPT_LANGUAGE="ru").json()
    assert not english_words(body["detail"]), body


def test_distances_are_written_with_the_languages_decimal_separator():
    # Django ships no number formats for Kazakh: config/formats/kk gives it the comma.
    written = {}
    for language in ("ru", "kk", "en"):
        with translation.override(language):
            written[language] = (texts.metres(1450), texts.metres(640), texts.page_table()["units"]["decimal"])
    assert written["ru"] == ("1,4 км", "640 м", ",")
    assert written["kk"] == ("1,4 км", "640 м", ",")
    assert written["en"] == ("1.4 km", "640 m", ".")
