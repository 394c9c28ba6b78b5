from django.conf import settings
from django.db import models


class Event(models.Model):
    """The journal: one append-only row per state change.

    It is the audit trail and the outbox of the live feed at once. Rows are inserted
    under a transaction-level advisory lock so that ids are handed out in commit order
    (see core/journal.py); `previous_id` links each row to the one committed before
    it, which lets a websocket consumer see at once whether it missed something.
    """

    id = models.BigAutoField(primary_key=True)
    previous_id = models.BigIntegerField(null=True, blank=True)
    type = models.CharField(max_length=32)
    at = models.DateTimeField()
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    unit = models.ForeignKey("units.Unit", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    assignment = models.ForeignKey(
        "dispatch.Assignment", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Why this happened, in words, for the timeline ("declined: road closed").
    # Text, not a bounded column: it carries operators' notes and closing notes whole
    # (the API bounds them, 2,000 characters).
    summary = models.TextField(blank=True, default="")
    # The same text as a code and its parameters (core/texts.py), rendered in the reader's
    # language; empty in rows written before codes existed, which show `summary` as stored.
    summary_code = models.CharField(max_length=40, blank=True, default="")
    summary_params = models.JSONField(null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        db_table = "dispatch_event"  # its name from before the journal moved to core
        ordering = ["id"]
        indexes = [
            models.Index(fields=["call", "id"], name="event_call_idx"),
        ]


class JournalReader(models.Model):
    """A named cursor over the journal (core/readers.py): the last event a reader handled.

    Readers are side effects that follow the journal (partner systems, notifications):
    each gets every row after its cursor, in order, at least once; the cursor moves only
    after the reader succeeded, and a failing reader waits `next_attempt_at` (back-off)
    without holding anyone else up."""

    name = models.CharField(max_length=64, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.name} @ {self.last_id}"
