"""The browser pages: the operator console and the supervisors' pages (served by Django)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.middleware.csrf import get_token
from django.shortcuts import render

from .access import is_operator, is_supervisor

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
MAP_CENTRE = (51.1280, 71.4300)  # Astana


@login_required
def console(request):
    if not is_operator(request.user):
        raise PermissionDenied
    # Everything the page's scripts need, handed over as JSON (json_script), never as code.
    config = {
        "user": request.user.get_username(),
        "csrfToken": get_token(request),
        # An empty MAP_TILE_URL turns tiles off: the map still shows calls and units on a plain background.
        "tiles": {
            "url": getattr(settings, "MAP_TILE_URL", OSM_TILES),
            "attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", OSM_ATTRIBUTION),
        },
        "centre": list(getattr(settings, "MAP_CENTRE", MAP_CENTRE)),
        "staleAfterS": settings.DISPATCH_STALE_LOCATION_S,
    }
    return render(request, "console.html", {"console_config": config})


@login_required
def supervisor(request):
    if not is_supervisor(request.user):
        raise PermissionDenied
    return render(request, "supervisor.html")
