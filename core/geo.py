"""Expressions over PostGIS geography shared by the apps' selectors."""

from django.db.models import FloatField, Func


class GeographyCoord(Func):
    """ST_X / ST_Y of a geography point (they take geometry, hence the cast)."""

    template = "%(function)s((%(expressions)s)::geometry)"
    output_field = FloatField()
