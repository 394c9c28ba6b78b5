"""A call's statuses and the moves between them (plain data; core.transitions checks)."""


class CallStatus:
    PENDING = "pending"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    MERGED = "merged"
    ALL = ("pending", "dispatched", "on_scene", "closed", "cancelled", "merged")
    CHOICES = [(s, s) for s in ALL]
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
