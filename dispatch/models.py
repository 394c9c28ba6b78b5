from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from calls.models import Call
from core.choices import Service
from units.models import Unit

from .statuses import AssignmentStatus


class Assignment(models.Model):
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="assignments")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=16, choices=AssignmentStatus.CHOICES, default=AssignmentStatus.ASSIGNED)
    # The plan line this unit covers: (service, capability). An operator's extra unit,
    # beyond the plan, has its own service and no capability (services._line_for).
    service = models.CharField(max_length=16, choices=Service.choices)
    capability = models.CharField(max_length=32, blank=True, default="")
    distance_m = models.FloatField(null=True, blank=True)
    # The route the unit was chosen by (issue 16): travel time and length over the road
    # graph (`road`), or the air distance at a nominal speed (`straight_line`) when the
    # graph is missing, a point is off it, or routing failed or ran past its budget.
    eta_s = models.FloatField(null=True, blank=True)
    route_m = models.FloatField(null=True, blank=True)
    basis = models.CharField(max_length=16, blank=True, default="",
                             choices=[("road", "road"), ("straight_line", "straight_line")])
    reason = models.CharField(max_length=300, blank=True, default="")
    # `reason` and `end_reason` as codes with parameters (core/texts.py), shown in the
    # reader's language; empty for free text (a crew's decline reason) and older rows.
    reason_code = models.CharField(max_length=40, blank=True, default="")
    reason_params = models.JSONField(null=True, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assigned_at = models.DateTimeField()
    # The acknowledgement deadline is a column swept by beat, so it survives restarts.
    ack_deadline = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True, default="")
    end_reason_code = models.CharField(max_length=40, blank=True, default="")
    end_reason_params = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        indexes = [
            models.Index(fields=["ack_deadline"], name="assignment_ack_deadline_idx", condition=Q(status="assigned")),
            models.Index(fields=["call", "status"], name="assignment_call_idx"),
            # History filtered by unit: an index-only lookup of the unit's calls.
            models.Index(fields=["unit", "call"], name="assignment_unit_call_idx"),
        ]
        constraints = [
            # The database itself forbids two active assignments of one unit.
            models.UniqueConstraint(
                fields=["unit"], condition=Q(status__in=AssignmentStatus.ACTIVE), name="one_active_assignment_per_unit"
            ),
        ]

    def __str__(self):
        return f"{self.unit_id} → {self.call_id} ({self.status})"

    @property
    def is_active(self):
        return self.status in AssignmentStatus.ACTIVE


class _Intervals(models.Model):
    """The four intervals of dispatch/metrics.py, in seconds; NULL when the call never
    reached one end of the interval."""

    received_to_dispatch = models.FloatField(null=True)
    dispatch_to_acknowledgement = models.FloatField(null=True)
    acknowledgement_to_on_scene = models.FloatField(null=True)
    received_to_on_scene = models.FloatField(null=True)

    class Meta:
        abstract = True


class CallMetrics(_Intervals):
    """A call's response-time facts, written once when it ends (see dispatch/metrics.py):
    statistics over months read these narrow rows, not every call's assignments."""

    call = models.OneToOneField(Call, primary_key=True, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField()
    incident_type = models.ForeignKey("calls.IncidentType", on_delete=models.PROTECT, related_name="+", db_index=False)
    priority = models.SmallIntegerField()
    status = models.CharField(max_length=16)
    disposition = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=8)

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="callmetrics_received_idx")]


class CallServiceMetrics(_Intervals):
    """Per ended call and service concerned (planned or sent): that service's first unit's
    intervals and its first arrival."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="+", db_index=False)
    service = models.CharField(max_length=16, choices=Service.choices)
    received_at = models.DateTimeField()
    sent = models.BooleanField()

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="servicemetrics_received_idx")]
        constraints = [models.UniqueConstraint(fields=["call", "service"], name="one_metrics_row_per_call_service")]


class ReadAudit(models.Model):
    """One row per read of callers' personal data: who read what, when, from where.

    Kept next to the journal but apart from it: a read changes nothing, so it is not an
    event, takes no journal lock and is never published on the live feed. Written by
    dispatch/audit.py from the views; read by supervisors at GET /api/v1/audit/.
    """

    class Action(models.TextChoices):
        CALL_VIEWED = "call.viewed"
        CALL_TIMELINE = "call.timeline"
        CALL_EIDO = "call.eido"
        CALLS_SEARCHED = "calls.searched"
        CALLS_EXPORTED = "calls.exported"

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A copy: the row must still say who read after the account is renamed or deleted.
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Action.choices)
    # No database constraint, like the journal's: the insert must not take a key-share
    # lock on a call row that a service may hold (calls are never deleted).
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
                             db_index=False, related_name="+")  # readaudit_call_idx serves it
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    # The searched text (`q`): personal data itself (a phone number, a name), so it is
    # blanked by the retention (dispatch/retention.py) like the calls it found.
    query = models.CharField(max_length=200, blank=True, default="")
    # The other filters of a search or an export, as given; `near` is blanked with `query`.
    filters = models.JSONField(default=dict, blank=True)
    # Rows returned: the page's for a search, the whole file's for an export (NULL while an
    # export streams, and for good when the download was abandoned).
    row_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="readaudit_at_idx"),
            models.Index(fields=["call", "-at"], name="readaudit_call_idx", condition=Q(call__isnull=False)),
            models.Index(fields=["actor_username", "-at"], name="readaudit_actor_idx"),
            # The retention's daily pass finds the search texts still to blank, not every old row.
            models.Index(fields=["at"], name="readaudit_search_text_idx",
                         condition=~Q(query="") | Q(filters__has_key="near")),
        ]

    def __str__(self):
        return f"{self.actor_username} {self.action} {self.call_id or ''}".strip()


# --- statistics rollups (dispatch/rollups.py) ------------------------------------------------------


class StatsBlock(models.Model):
    """A rolled-up block of 2**level local days starting on `start` (day number since
    1970-01-01 a multiple of 2**level): the counts and histograms of the metrics rows of
    the calls received in it. Valid only for the time zone, dispatch target and bucket
    scheme it was built with, and while none of its days is in StatsStaleDay."""

    level = models.SmallIntegerField()
    start = models.DateField()
    time_zone = models.CharField(max_length=64)
    target_s = models.FloatField()
    scheme = models.CharField(max_length=16)
    built_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "start"], name="one_stats_block_per_level_start")]


class StatsCount(models.Model):
    """Calls per dimension value in a block (dimension `all` has the key '')."""

    block = models.ForeignKey(StatsBlock, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=16)
    key = models.CharField(max_length=32)
    calls = models.IntegerField()
    within = models.IntegerField()  # received_to_dispatch <= the block's target_s
    with_unit = models.IntegerField()  # per service: a unit of it was sent


class StatsHistogram(models.Model):
    """One interval's values in a block for a dimension value, as parallel arrays over the
    non-empty buckets (dispatch/rollups.py BUCKET): count, smallest and largest value."""

    block = models.ForeignKey(StatsBlock, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=16)
    key = models.CharField(max_length=32)
    interval = models.SmallIntegerField()  # index into dispatch.metrics.INTERVALS
    buckets = ArrayField(models.IntegerField())
    counts = ArrayField(models.IntegerField())
    lows = ArrayField(models.FloatField())
    highs = ArrayField(models.FloatField())


class StatsStaleDay(models.Model):
    """A local day whose rollup misses a call that ended (or was measured again) after it
    was built; written with the metrics row, removed by the rebuild that covers it."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()
