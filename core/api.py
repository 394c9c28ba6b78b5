"""The REST face's shared pieces: the one exception handler (settings.REST_FRAMEWORK) and
the input fields every app validates coordinates with."""

import math

from django.contrib.gis.geos import Point
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.detail}, status=exc.status_code)
    return drf_exception_handler(exc, context)


# --- input pieces shared by every app's API --------------------------------------------------------------------------


class FiniteFloatField(serializers.FloatField):
    """A float that refuses NaN and infinities, which JSON strings can smuggle in."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class LocationInSerializer(serializers.Serializer):
    lat = FiniteFloatField(min_value=-90, max_value=90)
    lon = FiniteFloatField(min_value=-180, max_value=180)
    accuracy_m = FiniteFloatField(min_value=0, max_value=100_000, required=False, allow_null=True)


def point_from(validated):
    """A GEOS point from a validated LocationInSerializer dict."""
    return Point(validated["lon"], validated["lat"], srid=4326)
