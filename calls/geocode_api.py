"""`GET /api/v1/geocode/?q=` and `GET /api/v1/geocode/reverse/?lat=&lon=` (SPEC "Gazetteer")."""

import math

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsOperator

from .gazetteer import geocode, reverse_geocode

MAX_QUERY_LENGTH = 200


class NumberListField(serializers.CharField):
    """`a,b,…`: `count` finite numbers, checked by `check` (the message names the expected form)."""

    def __init__(self, count, form, check, **kwargs):
        super().__init__(**kwargs)
        self.count, self.form, self.check = count, form, check

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            values = tuple(float(part) for part in text.split(","))
        except ValueError:
            values = ()
        if len(values) != self.count or not all(math.isfinite(v) for v in values) or not self.check(*values):
            raise serializers.ValidationError(f"Expected {self.form}.")
        return values


class GeocodeQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, trim_whitespace=True)
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=10)
    near = NumberListField(
        2, "lat,lon with lat in [-90, 90] and lon in [-180, 180] (for example 51.128,71.43)",
        lambda lat, lon: -90 <= lat <= 90 and -180 <= lon <= 180, required=False,
    )  # fmt: skip
    bbox = NumberListField(
        4, "minlon,minlat,maxlon,maxlat with minlon < maxlon and minlat < maxlat (for example 71.3,51.0,71.6,51.2)",
        lambda w, s, e, n: -180 <= w < e <= 180 and -90 <= s < n <= 90, required=False,
    )  # fmt: skip


class FiniteFloat(serializers.FloatField):
    """A float that refuses NaN and infinities (`?lat=nan` parses as a float)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class ReverseQuerySerializer(serializers.Serializer):
    lat = FiniteFloat(min_value=-90, max_value=90)
    lon = FiniteFloat(min_value=-180, max_value=180)


class GeocodeResultSerializer(serializers.Serializer):
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=["address", "street", "intersection", "place"])
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    score = serializers.FloatField()


class ReverseResultSerializer(serializers.Serializer):
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=["address", "street", "intersection", "place"])
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    distance_m = serializers.FloatField()


class GeocodeView(APIView):
    """Search the gazetteer the way callers speak: Russian or Kazakh street words, corners."""

    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="Street, corner (`X и Y`, `угол X / Y`) or place."),
            OpenApiParameter("limit", int, required=False, description="At most this many results (1–50, default 10)."),
            OpenApiParameter(
                "near",
                str,
                required=False,
                description="`lat,lon`, where the caller probably is (an AML fix): among places the text fits "
                "equally, the nearer comes first.",
            ),
            OpenApiParameter(
                "bbox",
                str,
                required=False,
                description="`minlon,minlat,maxlon,maxlat`, the operator's map view: among places the text fits "
                "equally, those in view come first. `near` wins when both are given.",
            ),
        ],
        responses=inline_serializer("GeocodeResults", {"results": GeocodeResultSerializer(many=True)}),
    )
    def get(self, request):
        params = GeocodeQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        results = geocode(data["q"], limit=data["limit"], near=data.get("near"), view=data.get("bbox"))
        return Response({"results": GeocodeResultSerializer(results, many=True).data})


class ReverseGeocodeView(APIView):
    """The nearest label for a point: a corner, a named place or a street, or null."""

    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", float, required=True, description="Latitude, −90…90."),
            OpenApiParameter("lon", float, required=True, description="Longitude, −180…180."),
        ],
        responses=inline_serializer(
            "ReverseGeocodeResult",
            {
                "result": ReverseResultSerializer(allow_null=True),
                "label": serializers.CharField(allow_null=True),
                "kind": serializers.CharField(allow_null=True),
                "lat": serializers.FloatField(allow_null=True),
                "lon": serializers.FloatField(allow_null=True),
                "distance_m": serializers.FloatField(allow_null=True),
            },
        ),
    )
    def get(self, request):
        params = ReverseQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = reverse_geocode(params.validated_data["lat"], params.validated_data["lon"])
        result = ReverseResultSerializer(found).data if found else None
        # The result again at the top level, for clients that only want the label.
        flat = {key: (result or {}).get(key) for key in ("label", "kind", "lat", "lon", "distance_m")}
        return Response({"result": result, **flat})
