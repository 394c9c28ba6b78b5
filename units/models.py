from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex, GistIndex
from django.db.models import Q

from core.choices import Service
from units.statuses import UnitStatus


class Unit(models.Model):
    callsign = models.CharField(max_length=32, unique=True)
    service = models.CharField(max_length=16, choices=Service.choices)
    capabilities = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    status = models.CharField(max_length=16, choices=UnitStatus.CHOICES, default=UnitStatus.OUT_OF_SERVICE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The live position: one narrow row per unit. History is in UnitPosition. Its spatial
    # index is `unit_location_gist` below: the field's own (spatial_index) was the same
    # index a second time, maintained on every move of every unit.
    location = models.PointField(geography=True, srid=4326, null=True, blank=True, spatial_index=False)
    location_accuracy_m = models.FloatField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    location_recorded_at = models.DateTimeField(null=True, blank=True)
    # When a position-only change was last put in the journal (coalescing, SPEC).
    position_published_at = models.DateTimeField(null=True, blank=True)
    home_station = models.CharField(max_length=200, blank=True, default="")
    # The crew's device account: a unit's responder is the user linked to it.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="unit")

    class Meta:
        ordering = ["callsign"]
        indexes = [
            # Nearest-unit selection: KNN (<->) on this partial index only walks units that
            # can be chosen at all (docs/traps.md). btree_gist puts the service in it.
            GistIndex(fields=["service", "location"], name="unit_available_knn", condition=Q(status="available")),
            GistIndex(fields=["location"], name="unit_location_gist"),
            models.Index(fields=["status", "service"], name="unit_status_idx"),
        ]

    def __str__(self):
        return self.callsign


class UnitPosition(models.Model):
    """Append-only track of every fix a device sent, for replay and audit."""

    # Written many times a second and read only by unit and time (a track, a replay): the
    # (unit, recorded_at) index serves both the reads and the foreign key's checks, so
    # neither a separate index on `unit` nor a spatial one is paid for on every insert
    # (bench/position_indexes.py).
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="positions", db_index=False)
    location = models.PointField(geography=True, srid=4326, spatial_index=False)
    accuracy_m = models.FloatField(null=True, blank=True)
    heading = models.FloatField(null=True, blank=True)
    speed_mps = models.FloatField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["unit", "recorded_at"], name="unitpos_unit_time_idx"),
            BrinIndex(fields=["received_at"], name="unitpos_received_brin"),
        ]
