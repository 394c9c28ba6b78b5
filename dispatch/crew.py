"""The crew app (issue 17): a phone web app at /crew/ for a unit's device.

The pages carry no secret and need no sign-in: the unit's device token lives in the phone
(paired by the link /crew/#token=…, whose fragment never reaches the server) and every
request the app makes goes to the public REST API and /ws/unit/ with that token. Served
here: the page, its web manifest and its service worker (at /crew/sw.js, so its scope is
/crew/ and nothing else of the site).
"""

import hashlib
import json
from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import path
from django.utils.translation import get_language, gettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from calls.models import IncidentType
from units.statuses import UNIT_SELF_STATUSES

from .console import status_config

# The app's own files, cached by the service worker so the app opens without a network.
SHELL = ("crew/crew.css", "crew/main.js", "crew/api.js", "crew/feed.js", "crew/outbox.js", "crew/geo.js",
         "crew/words.js", "crew/view.js", "crew/icon-192.png", "crew/icon-512.png")
THEME = "#c62828"


@cache
def shell_version():
    """A digest of the shell's files: a new release gives the service worker a new cache."""
    digest = hashlib.sha256()
    for name in SHELL:
        found = finders.find(name)
        if found:
            with open(found, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:12]


def _incident_names():
    field = {"kk": "name_kk", "en": "name_en"}.get((get_language() or "ru")[:2], "name_ru")
    return {code: name for code, name in IncidentType.objects.values_list("code", field)}


@require_GET
def crew_page(request):
    config = {
        "api": "/api/v1/",
        "ws": "/ws/unit/",
        "sw": "/crew/sw.js",
        "statuses": status_config(),
        "selfStatuses": list(UNIT_SELF_STATUSES),
        "incidentTypes": _incident_names(),
    }
    response = render(request, "crew.html", {"crew_config": config, "theme": THEME})
    # The page itself is small and changes with the language: the service worker keeps a
    # copy for offline starts, the browser's HTTP cache need not.
    response["Cache-Control"] = "no-cache"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@cache_control(no_cache=True)
def manifest(request):
    data = {
        "name": gettext("112 Dispatch — crew"),
        "short_name": gettext("112 Crew"),
        "lang": get_language() or "ru",
        "start_url": "/crew/",
        "scope": "/crew/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#111111",
        "theme_color": THEME,
        "icons": [
            {"src": static("crew/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any maskable"},
            {"src": static("crew/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
        ],
    }
    return JsonResponse(data, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False})


@require_GET
@cache_control(no_cache=True)
def service_worker(request):
    """The worker script, with the shell's URLs and version filled in (no build step)."""
    shell = ["/crew/", "/jsi18n/", "/crew/manifest.webmanifest", *(static(name) for name in SHELL)]
    head = f"const VERSION = {json.dumps(shell_version())};\nconst SHELL = {json.dumps(shell)};\n"
    with open(finders.find("crew/sw.js"), encoding="utf-8") as f:
        body = f.read()
    response = HttpResponse(head + body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/crew/"
    return response


# Included by config/urls.py under "crew/".
urlpatterns = [
    path("", crew_page, name="crew"),
    path("manifest.webmanifest", manifest, name="crew-manifest"),
    path("sw.js", service_worker, name="crew-sw"),
]
