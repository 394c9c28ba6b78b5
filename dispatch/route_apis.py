"""GET /api/v1/route/?from=LAT,LON&to=LAT,LON: the driving route between two points
(issue 16), over the road graph, or the straight line when there is no road route."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsOperator

from . import routing


def parse_lat_lon(value, field):
    """`lat,lon` → (lon, lat), or a 400 naming the parameter."""
    if not value:
        raise ValidationError({field: _("This parameter is required: lat,lon (for example 51.128,71.43).")})
    try:
        lat, lon = (float(part) for part in value.split(","))
    except ValueError:
        raise ValidationError({field: _("Expected lat,lon (for example 51.128,71.43).")}) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError({field: _("lat must be in [-90, 90] and lon in [-180, 180].")})
    return lon, lat


RouteOut = inline_serializer("Route", {
    "distance_m": serializers.FloatField(),
    "duration_s": serializers.FloatField(),
    "basis": serializers.ChoiceField(choices=[routing.ROAD, routing.STRAIGHT_LINE]),
    "geometry": serializers.JSONField(help_text="GeoJSON LineString, [lon, lat] positions"),
})


class RouteView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[OpenApiParameter("from", str, required=True, description="lat,lon of the start"),
                    OpenApiParameter("to", str, required=True, description="lat,lon of the end")],
        responses=RouteOut,
    )
    def get(self, request):
        origin = parse_lat_lon(request.query_params.get("from"), "from")
        dest = parse_lat_lon(request.query_params.get("to"), "to")
        leg = routing.route(origin, dest)
        return Response({
            "distance_m": round(leg.route_m, 1),
            "duration_s": round(leg.eta_s, 1),
            "basis": leg.basis,
            "geometry": {"type": "LineString", "coordinates": leg.geometry},
        })
