"""A unit's statuses and the moves between them (plain data; core.transitions checks)."""

from django.utils.translation import gettext_lazy as _


class UnitStatus:
    OUT_OF_SERVICE = "out_of_service"
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    UNREACHABLE = "unreachable"
    ALL = ("out_of_service", "available", "dispatched", "en_route", "on_scene", "transporting", "unreachable")
    CHOICES = [(s, s) for s in ALL]
    # What people read (ru/kk/en in locale/); the console and pages get it from the server.
    LABELS = {
        "out_of_service": _("Out of service"),
        "available": _("Available"),
        "dispatched": _("Dispatched"),
        "en_route": _("En route"),
        "on_scene": _("On scene"),
        "transporting": _("Transporting"),
        "unreachable": _("Unreachable"),
    }
    # Statuses in which the unit is working an assignment.
    BUSY = ("dispatched", "en_route", "on_scene")


UNIT_TRANSITIONS = {
    # Who drives which move: the engine (available → dispatched), the crew through its
    # device (status and assignment actions), operators (cancelling assignments).
    "out_of_service": {"available"},
    "available": {"out_of_service", "dispatched", "transporting"},
    "dispatched": {"available", "en_route", "unreachable"},
    "en_route": {"available", "on_scene"},
    "on_scene": {"available", "transporting"},
    "transporting": {"available", "out_of_service"},
    "unreachable": {"available", "out_of_service"},
}

# What a crew may set directly through POST /me/status/; the other unit statuses follow
# from assignment actions.
UNIT_SELF_STATUSES = ("available", "out_of_service", "transporting")
