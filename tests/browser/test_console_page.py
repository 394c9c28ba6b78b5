"""The console page and its translation catalogue, without a browser."""

import json

import pytest
from django.test import override_settings

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


@override_settings(MAP_TILE_URL="")
def test_tiles_can_be_turned_off(operator_browser):
    assert console_config(operator_browser.get("/"))["tiles"]["url"] == ""


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
