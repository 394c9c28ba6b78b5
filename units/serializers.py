"""Input of the crew's position reports, shared by the Django view and the ASGI fast path."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from core.api import FiniteFloatField, LocationInSerializer


class FixIn(LocationInSerializer):
    heading = FiniteFloatField(min_value=0, max_value=360, required=False, allow_null=True)
    speed_mps = FiniteFloatField(min_value=0, max_value=150, required=False, allow_null=True)
    recorded_at = serializers.DateTimeField()

    def validate_recorded_at(self, value):
        if value > timezone.now() + timedelta(minutes=5):
            raise serializers.ValidationError("Is in the future; check the device clock.")
        return value


MAX_BATCH = 1000


class PositionReportOut(serializers.Serializer):
    unit = serializers.IntegerField()
    accepted = serializers.IntegerField(help_text="Fixes stored in the unit's history.")
    applied = serializers.BooleanField(help_text="False when the newest fix was older than the stored one.")


def validate_fixes(payload):
    """One fix or a list of them → validated fixes; raises ValidationError (400) otherwise.

    Shared with the ASGI fast path (units/ingest.py) that serves POST /me/location/ in production.
    """
    many = isinstance(payload, list)
    if many and not 1 <= len(payload) <= MAX_BATCH:
        raise serializers.ValidationError({"non_field_errors": [f"Send between 1 and {MAX_BATCH} fixes."]})
    data = FixIn(data=payload, many=many)
    data.is_valid(raise_exception=True)
    return data.validated_data if many else [data.validated_data]
