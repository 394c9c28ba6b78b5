"""The browser pages: the operator console and the supervisors' pages (served by Django)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone

from accounts.access import is_operator, is_supervisor
from calls.models import Call
from calls.statuses import CallStatus
from core import texts
from dispatch import basemap, labels
from dispatch.statuses import AssignmentStatus
from units.statuses import UnitStatus

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
MAP_CENTRE = (51.1280, 71.4300)  # Astana


def basemap_config():
    """The app's own street map (dispatch/basemap.py), drawn when MAP_TILE_URL is empty or
    its tiles fail: the tile URL carries the data's version, so browsers may keep tiles."""
    state = basemap.source_state()
    return {
        "url": f"/api/v1/basemap/{{z}}/{{x}}/{{y}}.json?v={state['version']}",
        "source": state["source"],
        "attribution": state["attribution"],
    }


def status_config():
    """The server's status lists as the pages' scripts read them: every status of calls,
    units and assignments, and the groups the engine works with. The scripts hold no
    list of their own, so a new status is one Python table and a migration."""
    return {
        "call": {"all": list(CallStatus.ALL), "open": list(CallStatus.OPEN)},
        "unit": {
            "all": list(UnitStatus.ALL),
            # `free` is what the engine dispatches (it picks only available units);
            # `busy` is working an assignment. The other statuses stand on their own.
            "free": [UnitStatus.AVAILABLE],
            "busy": list(UnitStatus.BUSY),
        },
        "assignment": {"all": list(AssignmentStatus.ALL), "active": list(AssignmentStatus.ACTIVE)},
        # Names in the request's language; a status shared by kinds (on_scene) reads the same.
        "labels": {status: str(label) for table in (CallStatus, UnitStatus, AssignmentStatus)
                   for status, label in table.LABELS.items()},
    }


@login_required
def console(request):
    if not is_operator(request.user):
        raise PermissionDenied
    # Everything the page's scripts need, handed over as JSON (json_script), never as code.
    config = {
        "user": request.user.get_username(),
        "csrfToken": get_token(request),
        # An empty MAP_TILE_URL turns tiles off: the map shows the app's own streets (basemap).
        "tiles": {
            "url": getattr(settings, "MAP_TILE_URL", OSM_TILES),
            "attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", OSM_ATTRIBUTION),
        },
        "basemap": basemap_config(),
        "centre": list(getattr(settings, "MAP_CENTRE", MAP_CENTRE)),
        "staleAfterS": settings.DISPATCH_STALE_LOCATION_S,
        "statuses": status_config(),
    }
    return render(request, "console.html", {"console_config": config, "texts": texts.page_table()})


# --- supervisors' pages (issue 8): history, one call, statistics, units -----------------------


def _supervisor_page(request, template, **page):
    """Render one of the supervisors' pages; their scripts read `page_config` (json_script)
    and talk to the REST API with the session."""
    if not is_supervisor(request.user):
        raise PermissionDenied
    config = {
        "user": request.user.get_username(),
        "csrfToken": get_token(request),
        "api": "/api/v1/",
        "tiles": {
            "url": getattr(settings, "MAP_TILE_URL", OSM_TILES),
            "attribution": getattr(settings, "MAP_TILE_ATTRIBUTION", OSM_ATTRIBUTION),
        },
        "basemap": basemap_config(),
        "centre": list(getattr(settings, "MAP_CENTRE", MAP_CENTRE)),
        "timeZone": settings.TIME_ZONE,
        "statuses": status_config(),
        **page,
    }
    return render(request, template, {"page_config": config, "texts": texts.page_table(), **page})


def _choices():
    """The filters' and forms' choices as (code, name in the page's language)."""
    return {
        "call_statuses": [(status, str(CallStatus.LABELS[status])) for status in CallStatus.ALL],
        "services": [(service, str(name)) for service, name in labels.SERVICES.items()],
    }


@login_required
def supervisor(request):
    """Call history with filters (and the way into everything else)."""
    return _supervisor_page(request, "supervisor.html", nav="history", **_choices())


@login_required
def supervisor_call(request, call_id):
    """One call: details, the journal as a timeline, the map with the units' tracks."""
    if not is_supervisor(request.user):
        raise PermissionDenied
    call = get_object_or_404(Call, pk=call_id)
    return _supervisor_page(request, "supervisor/call.html", nav="history", callId=call.pk, reference=call.reference)


@login_required
def supervisor_stats(request):
    # The hours are the centre's: named by their offset ("UTC+05:00"), the same in every language.
    offset = timezone.localtime().strftime("%z")
    return _supervisor_page(request, "supervisor/stats.html", nav="stats", zone_offset=f"UTC{offset[:3]}:{offset[3:]}")


@login_required
def supervisor_units(request):
    return _supervisor_page(request, "supervisor/units.html", nav="units", **_choices())


# Included by config/urls.py under "supervisor/" (the history itself is "supervisor/").
urlpatterns = [
    path("calls/<int:call_id>/", supervisor_call, name="supervisor-call"),
    path("stats/", supervisor_stats, name="supervisor-stats"),
    path("units/", supervisor_units, name="supervisor-units"),
]
