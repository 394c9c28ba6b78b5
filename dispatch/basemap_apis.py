"""GET /api/v1/basemap/{z}/{x}/{y}.json: one tile of the app's own street map (issue 21;
the data and the tile's shape are in dispatch/basemap.py), for the staff's maps."""

import gzip

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from accounts.access import IsOperator

from . import basemap

# Browsers keep a tile asked for with the current version (?v=) a day: the version changes
# whenever the data do. Without it, or with an old one, they ask again (304 by ETag).
VERSIONED_CACHE = "private, max-age=86400"
UNVERSIONED_CACHE = "private, no-cache"


def _tile_index(value, field, upper):
    """An integer in [0, upper], or a 400 naming the path parameter."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: _("Expected a whole number.")}) from None
    if not 0 <= number <= upper:
        raise ValidationError({field: _("Must be between 0 and %(upper)s.") % {"upper": upper}})
    return number


class BasemapTileView(APIView):
    # The staff's maps: the console (operators and supervisors) and the supervisors' pages.
    permission_classes = [IsOperator]

    @extend_schema(
        operation_id="basemap_tile",
        parameters=[
            OpenApiParameter("z", int, OpenApiParameter.PATH, description=f"zoom, 0..{basemap.MAX_ZOOM}"),
            OpenApiParameter("x", int, OpenApiParameter.PATH, description="tile column, 0..2^z-1"),
            OpenApiParameter("y", int, OpenApiParameter.PATH, description="tile row from the north, 0..2^z-1"),
            OpenApiParameter("v", str, description="the data version the page was given; makes the tile cacheable"),
        ],
        responses={200: OpenApiResponse(description=(
            '{"extent": 512, "source": "roads"|"gazetteer"|null, "roads": [{"class": "major"|"medium"|"minor", '
            '"name": "…" (from zoom 14), "lines": [[x0, y0, x1, y1, …], …]}]}; tile coordinates, y down')),
            304: OpenApiResponse(description="not modified (If-None-Match)")},
    )
    def get(self, request, z, x, y):
        z = _tile_index(z, "z", basemap.MAX_ZOOM)
        x = _tile_index(x, "x", 2**z - 1)
        y = _tile_index(y, "y", 2**z - 1)
        state = basemap.source_state()
        etag = f'"{state["version"]}"'
        cache_control = VERSIONED_CACHE if request.query_params.get("v") == state["version"] else UNVERSIONED_CACHE
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            response = HttpResponse(status=304)
        else:
            body = basemap.tile_gzip(z, x, y, state)
            response = HttpResponse(content_type="application/json")
            if "gzip" in request.headers.get("Accept-Encoding", ""):
                response["Content-Encoding"] = "gzip"
                response.content = body
            else:
                response.content = gzip.decompress(body)
        response["ETag"] = etag
        response["Cache-Control"] = cache_control
        patch_vary_headers(response, ["Accept-Encoding"])
        return response
