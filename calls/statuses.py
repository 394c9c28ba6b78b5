"""A call's statuses and the moves between them (plain data; core.transitions checks)."""

from django.utils.translation import gettext_lazy as _


class CallStatus:
    PENDING = "pending"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    MERGED = "merged"
    ALL = ("pending", "dispatched", "on_scene", "closed", "cancelled", "merged")
    CHOICES = [(s, s) for s in ALL]
    # What people read (ru/kk/en in locale/); the console and pages get it from the server.
    LABELS = {
        "pending": _("Pending"),
        "dispatched": _("Dispatched"),
        "on_scene": _("On scene"),
        "closed": _("Closed"),
        "cancelled": _("Cancelled"),
        "merged": _("Merged"),
    }
    OPEN = ("pending", "dispatched", "on_scene")
    TERMINAL = ("closed", "cancelled", "merged")


CALL_TRANSITIONS = {
    "pending": {"dispatched", "closed", "cancelled", "merged"},
    "dispatched": {"pending", "on_scene", "closed", "cancelled", "merged"},
    "on_scene": {"closed", "cancelled", "merged"},
    "closed": set(),
    "cancelled": set(),
    "merged": set(),
}
