"""The crew app's pages (/crew/, its manifest and service worker) and pairing a phone
(POST /api/v1/units/{id}/pairing/)."""

import base64
import json
import re
from urllib.parse import unquote

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.conftest import client_for, crew


def page_config(response):
    found = re.search(r'<script id="crew-config" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    return json.loads(found.group(1))


@pytest.mark.django_db
def test_the_crew_page_needs_no_sign_in_and_links_its_manifest():
    response = Client().get("/crew/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<link rel="manifest" href="/crew/manifest.webmanifest">' in html
    assert "/jsi18n/" in html and "crew/main.js" in html
    assert response["Cache-Control"] == "no-cache"
    config = page_config(response)
    assert config["ws"] == "/ws/unit/" and config["sw"] == "/crew/sw.js"
    assert config["incidentTypes"]["cardiac_arrest"] == "Cardiac arrest"
    assert config["selfStatuses"] == ["available", "out_of_service", "transporting"]
    assert "token" not in json.dumps(config)  # nothing secret: the token lives in the phone


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "name", "word"), [
    ("ru", "Остановка сердца", "Нет назначения"), ("kk", "Жүрек тоқтауы", "Тағайындау жоқ"),
    ("en", "Cardiac arrest", "No assignment"),
])
def test_the_crew_page_speaks_the_phones_language(language, name, word):
    response = Client().get("/crew/", HTTP_ACCEPT_LANGUAGE=language)
    assert f'<html lang="{language}">' in response.content.decode()
    assert page_config(response)["incidentTypes"]["cardiac_arrest"] == name
    assert word in response.content.decode()
    manifest = Client().get("/crew/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE=language).json()
    assert manifest["lang"] == language


@pytest.mark.django_db
def test_the_manifest_makes_an_installable_app_scoped_to_crew():
    response = Client().get("/crew/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["start_url"] == "/crew/" and manifest["scope"] == "/crew/"
    assert manifest["display"] == "standalone" and manifest["name"] and manifest["short_name"]
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        assert path, icon["src"]
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.django_db
def test_the_service_worker_is_served_for_the_crew_scope_with_its_shell():
    response = Client().get("/crew/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/crew/"
    body = response.content.decode()
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))
    assert "/crew/" in shell and "/static/crew/main.js" in shell
    for path in shell:
        if path.startswith("/static/"):
            assert finders.find(path.removeprefix("/static/")), path
    assert re.search(r'const VERSION = "[0-9a-f]{12}";', body)
    assert "/api/" not in body.split("addEventListener", 1)[1]  # the API is never cached


def test_pairing_gives_a_working_token_a_crew_link_and_its_qr_code(supervisor_client, unit_a):
    old = crew(unit_a)
    response = supervisor_client.post(f"/api/v1/units/{unit_a.pk}/pairing/")
    assert response.status_code == 200
    body = response.json()
    assert response["Cache-Control"] == "no-store"
    assert body["unit"] == unit_a.pk
    assert body["link"] == f"http://testserver/crew/#token={body['token']}"
    assert body["qr"].startswith("data:image/svg+xml")
    svg = unquote(body["qr"].split(",", 1)[1]) if ";base64" not in body["qr"] else base64.b64decode(body["qr"].split(",")[1]).decode()
    assert "<svg" in svg and "<path" in svg
    me = client_for(token=body["token"]).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["unit"]["id"] == unit_a.pk
    assert old.get("/api/v1/me/").status_code == 401  # the lost phone is signed out


def test_only_supervisors_pair_phones(operator_client, crew_a, anon_client, supervisor_client, unit_a):
    url = f"/api/v1/units/{unit_a.pk}/pairing/"
    assert operator_client.post(url).status_code == 403
    assert crew_a.post(url).status_code == 403
    assert anon_client.post(url).status_code == 401
    assert supervisor_client.post("/api/v1/units/999999/pairing/").status_code == 404
    assert supervisor_client.get(url).status_code == 405
    assert crew_a.get("/api/v1/me/").status_code == 200  # nothing was issued by the refusals


def test_the_units_page_pairs_through_the_qr_code(supervisor):
    browser = Client()
    browser.force_login(supervisor)
    html = browser.get("/supervisor/units/").content.decode()
    assert 'id="token-qr"' in html and 'id="token-link"' in html
    with open(finders.find("supervisor/units.js")) as f:
        assert "/pairing/" in f.read()
