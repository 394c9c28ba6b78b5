"""The unit feed: /ws/unit/?since=ID for a unit's device (the crew app).

The same journal, message shape and resume rules as /ws/events/ (dispatch/consumers.py),
filtered to what concerns the unit: its own `unit.updated` rows, its assignments'
`assignment.*` rows, and `call.*` rows of a call while the unit has an active assignment
on it. Nothing else: not another unit's rows (even on the same call), not alerts.

The socket listens only to its unit's doorbell group and to the groups of the calls the
unit has been sent to (core.journal.unit_feed_group / call_feed_group), never to the
whole city's feed: with every crew handed every event, 135 moving crews made every socket
seconds late (issue 20's simulated day). A doorbell here almost never continues this
socket's chain of ids (`previous_id` is the whole journal's), so it makes the socket read
its rows from the journal, where the rule is one query: a call row is the unit's when one
of its assignments on that call was active at the row's time. The consumer keeps the calls
it has seen assigned to it as a superset of its own (and joins their groups), so only
those calls ring it. `last_id` is the last journal id examined, not the last sent.

A doorbell lost on the way (a crash between commit and publish) is no longer repaired by
the sweep's doorbell, which rings the operators' group; the heartbeat, every
HEARTBEAT_S seconds here instead of 15, reads the journal when it has grown.
"""

from channels.db import database_sync_to_async
from django.db.models import Exists, Max, OuterRef, Q

from accounts.access import responder_unit
from core.journal import call_feed_group, event_message, unit_feed_group
from core.models import Event

from .consumers import REPLAY_BATCH, JournalFeedConsumer
from .models import Assignment
from .statuses import AssignmentStatus
from .ws_auth import credential_is_live

UNIT_TYPES = ("unit.updated", "assignment.created", "assignment.updated")
CALL_TYPES = ("call.created", "call.updated")
# Journal rows examined per read: a unit's rows are few, so a read walks a window of ids
# (the primary key) rather than every row since a long-ago cursor at once.
SCAN_WINDOW = 5000
# How soon a lost doorbell is made good (see the module's docstring): a read of this unit's
# rows, at most every few seconds per crew.
HEARTBEAT_S = 5.0


def unit_events_after(unit_id, last_id, limit=REPLAY_BATCH):
    """The unit's journal rows after last_id, in order: (rows, last id examined, more?).

    Ids become visible in commit order (core/journal.py), so every row up to the newest
    id read here is final: the rows skipped up to it are examined for good.
    """
    newest = Event.objects.aggregate(m=Max("id"))["m"] or 0
    upper = min(newest, last_id + SCAN_WINDOW)
    if upper <= last_id:
        return [], last_id, False
    on_call = Assignment.objects.filter(unit_id=unit_id, call_id=OuterRef("call_id"), assigned_at__lte=OuterRef("at"))
    on_call = on_call.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=OuterRef("at")))
    rows = list(
        Event.objects.filter(id__gt=last_id, id__lte=upper)
        .filter(Q(type__in=UNIT_TYPES, unit_id=unit_id) | Q(Exists(on_call), type__in=CALL_TYPES, call__isnull=False))
        .order_by("id")[:limit]
    )
    if len(rows) == limit:
        return rows, rows[-1].id, True
    return rows, upper, upper < newest


def _event_unit(event):
    data = event.get("data") or {}
    if event["type"] == "unit.updated":
        return data.get("id")
    unit = data.get("unit")
    return unit.get("id") if isinstance(unit, dict) else None


class UnitFeedConsumer(JournalFeedConsumer):
    unit_id = None
    heartbeat_s = HEARTBEAT_S
    calls = frozenset()
    joined_calls = frozenset()

    def feed_groups(self):
        if self.unit_id is None:
            return []
        return [unit_feed_group(self.unit_id)] + [call_feed_group(call) for call in sorted(self.calls) if call]

    async def _join_new_calls(self):
        """Listen to the doorbells of calls this unit was sent to since the last join."""
        new = {call for call in self.calls if call} - set(self.joined_calls)
        for call in new:
            await self._layer_call("group_add", call_feed_group(call))
        self.joined_calls = set(self.joined_calls) | new

    async def _join(self):
        joined = await super()._join()
        if joined:
            self.joined_calls = {call for call in self.calls if call}
        return joined

    async def journal_events(self, message):
        await super().journal_events(message)
        if not self.closed:
            await self._join_new_calls()

    def allowed(self, user):
        # Only a device token: a unit's account has no password, and a token is what the
        # phone holds (a session could not be revoked per device).
        unit = responder_unit(user)
        if unit is None or not self.scope.get("auth_token_digest"):
            return False
        self.unit_id = unit.pk
        # Calls this unit works now; the replay and the relay add the ones assigned later.
        self.calls = set(
            Assignment.objects.filter(unit_id=unit.pk, status__in=AssignmentStatus.ACTIVE).values_list("call_id", flat=True)
        )
        return True

    def still_allowed(self, scope):
        unit = responder_unit(scope["user"])
        return credential_is_live(scope) and unit is not None and unit.pk == self.unit_id

    def concerns(self, event):
        type_ = event.get("type", "")
        if type_ in UNIT_TYPES:
            if _event_unit(event) != self.unit_id:
                return False
            if type_.startswith("assignment."):
                self.calls.add(event["data"].get("call"))
            return True
        if type_ in CALL_TYPES and (event.get("data") or {}).get("id") in self.calls:
            return None  # was the assignment active at that moment? the journal says
        return False

    async def read_journal(self, last_id):
        rows, examined, more = await database_sync_to_async(unit_events_after)(self.unit_id, last_id)
        self.calls.update(r.call_id for r in rows if r.type.startswith("assignment.") and r.call_id)
        if not self.closed:
            await self._join_new_calls()
        return [event_message(r) for r in rows], examined, more
