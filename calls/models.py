from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex, GistIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q

from calls.statuses import CallStatus
from core.choices import Service


class IncidentType(models.Model):
    """The catalogue: data, edited in the admin, installed by a data migration."""

    code = models.SlugField(max_length=64, unique=True)
    name_ru = models.CharField(max_length=200)
    name_kk = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    priority = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(4)])
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=4), name="incident_type_priority_1_4"),
        ]

    def __str__(self):
        return self.code

    def plan(self):
        """The response plan as plain tuples (service, capability, count)."""
        return [(line.service, line.capability, line.count) for line in self.plan_lines.all()]


class ResponsePlanLine(models.Model):
    incident_type = models.ForeignKey(IncidentType, related_name="plan_lines", on_delete=models.CASCADE)
    service = models.CharField(max_length=16, choices=Service.choices)
    capability = models.CharField(max_length=32, blank=True, default="")
    count = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(20)])

    class Meta:
        ordering = ["incident_type", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident_type", "service", "capability"], name="plan_line_unique"),
            models.CheckConstraint(condition=Q(count__gte=1), name="plan_line_count_positive"),
        ]

    def __str__(self):
        cap = f" ({self.capability})" if self.capability else ""
        return f"{self.service}{cap} × {self.count}"


class Channel(models.TextChoices):
    VOICE = "voice"
    SMS = "sms"
    AML = "aml"
    APP = "app"
    ECALL = "ecall"
    ALARM = "alarm"  # a partner system's alarm (integrations: cameras, panic buttons)


class LocationSource(models.TextChoices):
    AML = "aml"
    CALLER_APP = "caller_app"
    ADDRESS = "address"
    OPERATOR = "operator"
    ALARM = "alarm"  # the point a partner's alarm reported (a camera's, a panic button's)


class Disposition(models.TextChoices):
    RESOLVED = "resolved"
    TRANSPORTED = "transported"
    FALSE_ALARM = "false_alarm"
    HOAX = "hoax"
    ACCIDENTAL = "accidental"
    CALLER_ADVISED = "caller_advised"
    REFERRED = "referred"
    GONE_ON_ARRIVAL = "gone_on_arrival"
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"


class Call(models.Model):
    reference = models.CharField(max_length=20, unique=True, null=True, editable=False)
    status = models.CharField(max_length=16, choices=CallStatus.CHOICES, default=CallStatus.PENDING)
    incident_type = models.ForeignKey(IncidentType, on_delete=models.PROTECT, related_name="calls")
    priority = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(4)])
    caller_phone = models.CharField(max_length=32, blank=True, default="")
    caller_name = models.CharField(max_length=200, blank=True, default="")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.VOICE)
    description = models.TextField(blank=True, default="")
    # geography: distances and the KNN operator are in metres on the spheroid, which the
    # 'nearest unit' rule needs (degrees at 51°N would favour north-south over east-west).
    location = models.PointField(geography=True, srid=4326, null=True, blank=True)
    location_accuracy_m = models.FloatField(null=True, blank=True)
    location_source = models.CharField(max_length=16, choices=LocationSource.choices, blank=True, default="")
    address = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    disposition = models.CharField(max_length=32, choices=Disposition.choices, blank=True, default="")
    hold_reason = models.CharField(max_length=32, blank=True, default="")
    possible_duplicates = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="+")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_calls")
    # What the engine could not cover on its last pass, each line with its reason.
    # Written only by the dispatch engine; read by clients and by the sweep.
    unmet_needs = models.JSONField(default=list, blank=True)
    # Set when the call needs the engine to look at it (created, located, released,
    # lost an assignment); cleared by the engine. The sweep re-runs every call that still
    # has it set, so a lost Celery task only delays dispatch by one sweep.
    dispatch_requested_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    # When the retention (dispatch/retention.py) erased the caller's personal data; the
    # call's facts (type, priority, times, units, a generalised location) remain.
    personal_data_erased_at = models.DateTimeField(null=True, blank=True)
    # The partner alarm that raised this call (channel "alarm", integrations/): {"source",
    # "source_name", "kind", "external_id", "occurred_at", "media_url"}; null for other calls.
    alarm = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="call_received_idx"),
            models.Index(fields=["status", "priority", "received_at"], name="call_status_idx"),
            models.Index(fields=["caller_phone", "-received_at"], name="call_phone_idx"),
            models.Index(
                fields=["dispatch_requested_at"], name="call_needs_dispatch_idx", condition=Q(dispatch_requested_at__isnull=False)
            ),
            # /metrics counts the calls dispatched since its last scrape (ops/prometheus.py).
            models.Index(fields=["dispatched_at"], name="call_dispatched_idx", condition=Q(dispatched_at__isnull=False)),
            # The retention's candidates: calls not erased yet, by the time they ended. Erased
            # calls leave the index, so each daily pass reads only the few that came due.
            models.Index(fields=["closed_at", "id"], name="call_erasure_due_idx",
                         condition=Q(personal_data_erased_at__isnull=True)),
            GistIndex(fields=["location"], name="call_location_gist"),
            GinIndex(
                name="call_text_trgm",
                fields=["description"],
                opclasses=["gin_trgm_ops"],
            ),
            # The history's `q` (dispatch/filters.py): a phone fragment (LIKE), or words
            # matched with `~*` over address, description (call_text_trgm) and caller name.
            # With each of them indexed a rare text is a bitmap scan instead of a walk of the
            # whole history (1.3 s at 1,000,000 calls without; see bench/history.py).
            GinIndex(name="call_address_trgm", fields=["address"], opclasses=["gin_trgm_ops"]),
            GinIndex(name="call_phone_trgm", fields=["caller_phone"], opclasses=["gin_trgm_ops"]),
            GinIndex(name="call_caller_name_trgm", fields=["caller_name"], opclasses=["gin_trgm_ops"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=4), name="call_priority_1_4"),
            models.CheckConstraint(
                condition=Q(location_accuracy_m__isnull=True) | Q(location_accuracy_m__gte=0),
                name="call_accuracy_non_negative",
            ),
        ]

    def __str__(self):
        return self.reference or f"call #{self.pk}"

    @property
    def is_open(self):
        return self.status in CallStatus.OPEN


class AmlMessage(models.Model):
    """Every AML message received, accepted or not, with the reason when rejected."""

    received_at = models.DateTimeField(auto_now_add=True)
    msisdn = models.CharField(max_length=32, blank=True, default="")
    raw = models.TextField()
    accepted = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True, default="")
    parsed = models.JSONField(default=dict, blank=True)
    location = models.PointField(geography=True, srid=4326, null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    fix_time = models.DateTimeField(null=True, blank=True)
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="aml_messages")

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["msisdn", "-received_at"], name="aml_msisdn_idx"),
            # The retention's messages that never found a call: erased ones leave the index.
            models.Index(fields=["received_at"], name="aml_not_erased_idx", condition=~Q(raw="") | ~Q(msisdn="")),
        ]


# The gazetteer lives in its own module; imported here so Django registers it.
from .geo_models import *  # noqa: E402,F401,F403
