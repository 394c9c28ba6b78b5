"""An assignment's statuses and the moves between them (plain data; core.transitions checks)."""

from django.utils.translation import gettext_lazy as _


class AssignmentStatus:
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    ALL = ("assigned", "acknowledged", "on_scene", "cleared", "declined", "timed_out", "cancelled")
    CHOICES = [(s, s) for s in ALL]
    # What people read (ru/kk/en in locale/); the console and pages get it from the server.
    LABELS = {
        "assigned": _("Assigned"),
        "acknowledged": _("Acknowledged"),
        "on_scene": _("On scene"),
        "cleared": _("Cleared"),
        "declined": _("Declined"),
        "timed_out": _("Timed out"),
        "cancelled": _("Cancelled"),
    }
    ACTIVE = ("assigned", "acknowledged", "on_scene")
    # A unit that ended like this is never offered the same call again.
    REFUSED = ("declined", "timed_out")


ASSIGNMENT_TRANSITIONS = {
    "assigned": {"acknowledged", "declined", "timed_out", "cancelled"},
    "acknowledged": {"on_scene", "cancelled"},
    "on_scene": {"cleared", "cancelled"},
    "cleared": set(),
    "declined": set(),
    "timed_out": set(),
    "cancelled": set(),
}
