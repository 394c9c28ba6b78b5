"""Output representations shared by the REST API and the event journal (SPEC)."""


from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calls.models import Call
from core import texts
from core.models import Event
from dispatch.statuses import AssignmentStatus
from units.models import Unit

from . import routing
from .filters import parse_near
from .models import Assignment
from .representations import unit_location_data


def call_queryset():
    """Calls with what their representation reads, prefetched."""
    return Call.objects.select_related("incident_type").prefetch_related(
        "possible_duplicates",
        Prefetch("assignments", queryset=Assignment.objects.select_related("unit", "call").order_by("id")),
    )


class UnitRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Unit
        fields = ["id", "callsign", "service"]


class AssignmentSerializer(serializers.ModelSerializer):
    unit = UnitRefSerializer(read_only=True)
    call_reference = serializers.CharField(source="call.reference", read_only=True)
    # "road" | "straight_line"; null for an assignment made without positions (issue 16).
    basis = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = [
            "id", "call", "call_reference", "unit", "status", "service", "capability", "distance_m",
            "eta_s", "route_m", "basis", "reason", "reason_code", "reason_params",
            "assigned_at", "ack_deadline", "acknowledged_at", "on_scene_at", "cleared_at", "ended_at", "end_reason",
            "end_reason_code", "end_reason_params",
        ]
        read_only_fields = fields

    def get_basis(self, assignment) -> str | None:
        return assignment.basis or None


class LocationOutSerializer(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    accuracy_m = serializers.FloatField(allow_null=True)
    source = serializers.CharField()


def _nullable(value):
    return value or None


class CallSerializer(serializers.ModelSerializer):
    incident_type = serializers.SlugRelatedField(slug_field="code", read_only=True)
    location = serializers.SerializerMethodField()
    hold_reason = serializers.SerializerMethodField()
    disposition = serializers.SerializerMethodField()
    possible_duplicates = serializers.SerializerMethodField()
    assignments = AssignmentSerializer(many=True, read_only=True)

    class Meta:
        model = Call
        fields = [
            "id", "reference", "status", "priority", "incident_type", "caller_phone", "caller_name", "channel",
            "description", "address", "location", "received_at", "dispatched_at", "on_scene_at", "closed_at",
            "hold_reason", "possible_duplicates", "merged_into", "unmet_needs", "assignments", "disposition",
            "alarm",
        ]
        read_only_fields = fields

    @extend_schema_field(LocationOutSerializer(allow_null=True))
    def get_location(self, call):
        if call.location is None:
            return None
        return {
            "lat": call.location.y,
            "lon": call.location.x,
            "accuracy_m": call.location_accuracy_m,
            "source": call.location_source,
        }

    @extend_schema_field(OpenApiTypes.STR)
    def get_hold_reason(self, call):
        return _nullable(call.hold_reason)

    @extend_schema_field(OpenApiTypes.STR)
    def get_disposition(self, call):
        return _nullable(call.disposition)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_possible_duplicates(self, call):
        return sorted(c.id for c in call.possible_duplicates.all())


class UnitLocationOutSerializer(serializers.Serializer):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    accuracy_m = serializers.FloatField(allow_null=True)
    heading = serializers.FloatField(allow_null=True)
    speed_mps = serializers.FloatField(allow_null=True)
    recorded_at = serializers.DateTimeField()


class ActiveAssignmentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    call = serializers.IntegerField()
    call_reference = serializers.CharField()
    status = serializers.CharField()


class _UnitListSerializer(serializers.ListSerializer):
    """The unit list: with `near=lat,lon,r` each item also carries `eta_s`, its travel time to
    that point (road, else straight line; null without a position), costed for the whole
    page in one routing query (issue 16)."""

    def to_representation(self, data):
        units = list(data.all() if hasattr(data, "all") else data)
        items = [self.child.to_representation(unit) for unit in units]
        request = self.context.get("request")
        near = request.query_params.get("near") if request is not None else None
        if near:
            point, _metres = parse_near(near)  # already checked by the filter
            located = [(item, unit) for item, unit in zip(items, units, strict=True) if unit.location is not None]
            legs = routing.travel_times(point, [unit.location for _item, unit in located])
            for item in items:
                item["eta_s"] = None
            for (item, _unit), leg in zip(located, legs, strict=True):
                item["eta_s"] = round(leg.eta_s, 1)
                item["eta_basis"] = leg.basis
        return items


class UnitSerializer(serializers.ModelSerializer):
    location = serializers.SerializerMethodField()
    active_assignment = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        list_serializer_class = _UnitListSerializer
        fields = ["id", "callsign", "service", "capabilities", "status", "home_station", "active_assignment", "location"]
        read_only_fields = fields

    @extend_schema_field(UnitLocationOutSerializer(allow_null=True))
    def get_location(self, unit):
        return unit_location_data(unit)

    @extend_schema_field(ActiveAssignmentRefSerializer(allow_null=True))
    def get_active_assignment(self, unit):
        # Plain values: this runs for every unit event and position report, and building
        # the whole call (with its geography) just for a reference costs milliseconds.
        row = (
            Assignment.objects.filter(unit_id=unit.pk, status__in=AssignmentStatus.ACTIVE)
            .values("id", "call_id", "call__reference", "status")
            .first()
        )
        if row is None:
            return None
        return {"id": row["id"], "call": row["call_id"], "call_reference": row["call__reference"],
                "status": row["status"]}


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # `summary` is the English fact as stored; `summary_text` is it in the reader's language
    # (Accept-Language or the user's choice), or the stored text for a row without a code.
    summary_text = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "type", "at", "call", "unit", "assignment", "actor", "summary", "summary_code",
                  "summary_params", "summary_text", "data"]
        read_only_fields = fields

    def get_summary_text(self, event) -> str:
        return texts.render(event.summary_code, event.summary_params, fallback=event.summary)
