"""The console page and its translation catalogue, without a browser."""

import json
import re

import pytest
from django.test import override_settings
from django.utils import translation

from tests.factories import make_user


@pytest.fixture
def operator_browser(client, operator):
    client.force_login(operator)
    return client


def console_config(response):
    html = response.content.decode()
    start = html.index('<script id="console-config" type="application/json">') + len(
        '<script id="console-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_console_hands_the_map_tiles_and_stale_limit_to_the_page(operator_browser):
    response = operator_browser.get("/")
    assert response.status_code == 200
    config = console_config(response)
    assert config["tiles"]["url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert "OpenStreetMap" in config["tiles"]["attribution"]
    assert config["staleAfterS"] == 300 and config["csrfToken"]
    html = response.content.decode()
    assert "/static/vendor/leaflet/leaflet.js" in html and "/jsi18n/" in html
    # The catalogue before the entry module, which needs window.gettext when it loads.
    assert html.index("/jsi18n/") < html.index('<script type="module" src="/static/console/main.js">')


def test_console_config_carries_the_servers_status_lists(operator_browser):
    # The page's scripts hold no status list of their own: these are the only ones they read.
    from calls.models import Call
    from calls.statuses import CallStatus
    from dispatch.models import Assignment
    from dispatch.statuses import AssignmentStatus
    from units.models import Unit
    from units.statuses import UnitStatus

    def codes(model):
        return [code for code, _label in model._meta.get_field("status").choices]

    page = operator_browser.get("/")
    statuses = console_config(page)["statuses"]
    # Their names too, in the operator's language: a new status needs no JavaScript.
    labels = statuses.pop("labels")
    everything = {*CallStatus.ALL, *UnitStatus.ALL, *AssignmentStatus.ALL}
    assert set(labels) == everything
    with translation.override(page["Content-Language"]):
        for table in (CallStatus, UnitStatus, AssignmentStatus):
            assert all(labels[status] == str(label) for status, label in table.LABELS.items())
    with translation.override("ru"):
        assert str(UnitStatus.LABELS["available"]) == "Свободен"  # translated, not the English text
    assert statuses == {
        "call": {"all": codes(Call), "open": list(CallStatus.OPEN)},
        "unit": {"all": codes(Unit), "free": [UnitStatus.AVAILABLE], "busy": list(UnitStatus.BUSY)},
        "assignment": {"all": codes(Assignment), "active": list(AssignmentStatus.ACTIVE)},
    }
    # Each group is made of statuses that exist, and free and busy do not overlap.
    for kind, groups in statuses.items():
        for name, members in groups.items():
            assert set(members) <= set(groups["all"]), (kind, name)
    assert not set(statuses["unit"]["free"]) & set(statuses["unit"]["busy"])


@override_settings(MAP_TILE_URL="")
def test_tiles_can_be_turned_off(operator_browser):
    assert console_config(operator_browser.get("/"))["tiles"]["url"] == ""


def test_every_console_module_the_entry_imports_is_a_static_file():
    # No bundler: the browser fetches main.js, then each module it imports, from /static/.
    from django.contrib.staticfiles import finders

    seen, todo = set(), ["main.js"]
    while todo:
        name = todo.pop()
        seen.add(name)
        path = finders.find(f"console/{name}")
        assert path, f"console/{name} is imported but not a static file"
        with open(path, encoding="utf-8") as source:
            todo += [m for m in re.findall(r'^import .* from "\./([\w.-]+)";$', source.read(), re.M) if m not in seen]
    assert {"api.js", "state.js", "words.js", "ctx.js"} <= seen


def test_gateway_accounts_are_refused_the_console(client, db):
    client.force_login(make_user("gw-page", "gateway"))
    assert client.get("/").status_code == 403


@pytest.mark.parametrize(
    ("language", "title", "js_string"),
    [("ru", "Пульт оператора", "Нет свободных экипажей"), ("kk", "Оператор пульті", "Бос экипаж жоқ"),
     ("en", "Operator console", "No unit available")],
)  # fmt: skip
def test_every_language_translates_the_page_and_the_script_catalogue(operator_browser, language, title, js_string):
    operator_browser.post("/i18n/setlang/", {"language": language, "next": "/"})
    page = operator_browser.get("/").content.decode()
    assert f'<html lang="{language}">' in page and title in page
    catalogue = operator_browser.get("/jsi18n/").content.decode()
    if language == "en":
        # English is the msgid itself; the catalogue must not fall back to Russian.
        assert json.dumps("Нет свободных")[1:-1] not in catalogue
        assert '"No unit available": "No unit available"' in catalogue
    else:
        assert json.dumps(js_string)[1:-1] in catalogue
