"""Filters of the call history and the unit board (SPEC query parameters)."""

import re

import django_filters
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.geos import Point, Polygon
from django.contrib.gis.measure import D
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q
from django.db.models.functions import Cast
from rest_framework.exceptions import ValidationError

from calls.models import Call, IncidentType
from calls.statuses import CallStatus
from core.choices import Service
from dispatch.models import Assignment
from units.models import Unit
from units.statuses import UnitStatus

REFERENCE_RE = re.compile(r"^C-\d{4}-\d+$", re.IGNORECASE)
PHONE_RE = re.compile(r"^\+?[0-9 ()\-]+$")


def parse_near(value, field="near"):
    """`lat,lon,metres` → (Point, metres), with a 400 that names the field."""
    try:
        lat, lon, metres = (float(part) for part in value.split(","))
    except ValueError:
        raise ValidationError({field: "Expected lat,lon,metres (for example 51.128,71.43,500)."}) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < metres <= 100_000):
        raise ValidationError({field: "lat must be in [-90, 90], lon in [-180, 180], metres in (0, 100000]."})
    return Point(lon, lat, srid=4326), metres


def parse_bbox(value, field="bbox"):
    """`minlon,minlat,maxlon,maxlat` (the map's visible area) → a lat/lon polygon, or a 400."""
    try:
        minlon, minlat, maxlon, maxlat = (float(part) for part in value.split(","))
    except ValueError:
        raise ValidationError({field: "Expected minlon,minlat,maxlon,maxlat (for example 71.3,51.0,71.6,51.2)."}) from None
    if not (-180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90):
        raise ValidationError({field: "Need -180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90."})
    box = Polygon.from_bbox((minlon, minlat, maxlon, maxlat))
    box.srid = 4326
    return box


class _EqualsAny(Func):
    """`lhs = ANY(array)` as a boolean for filter() (Django would parenthesise an ANY on the
    right-hand side of a lookup into invalid SQL)."""

    arg_joiner = " = ANY("
    template = "(%(expressions)s))"
    output_field = BooleanField()


class CommaMultipleChoiceFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """`status=pending,dispatched`: any of the listed values, each one checked."""

    def __init__(self, *args, allowed=(), **kwargs):
        self.allowed = tuple(allowed)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value:
            bad = [v for v in value if v not in self.allowed]
            if bad:
                raise ValidationError({self.field_name: f"Unknown value(s) {bad}; allowed: {list(self.allowed)}."})
        return super().filter(qs, value)


class NumberInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    """`priority=1,2`: each value must be a number (a 400 otherwise, not a 500)."""


class CallFilter(django_filters.FilterSet):
    status = CommaMultipleChoiceFilter(field_name="status", allowed=[c for c, _ in CallStatus.CHOICES])
    priority = NumberInFilter(field_name="priority")
    incident_type = django_filters.CharFilter(field_name="incident_type__code")
    service = django_filters.ChoiceFilter(choices=Service.choices, method="filter_service")
    received_after = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_q", max_length=200)
    near = django_filters.CharFilter(method="filter_near")
    unit = django_filters.NumberFilter(method="filter_unit")
    operator = django_filters.CharFilter(field_name="created_by__username", max_length=150)
    bbox = django_filters.CharFilter(method="filter_bbox")

    class Meta:
        model = Call
        fields = []

    def filter_service(self, qs, name, value):
        # A call concerns a service if its plan asks for it or a unit of it was sent.
        # Semi-joins, not joins + DISTINCT: DISTINCT over every column sorted the whole
        # match set before LIMIT (0.6 s at 20,000 calls); this walks the history index.
        return qs.filter(
            Q(incident_type__in=IncidentType.objects.filter(plan_lines__service=value).values("pk"))
            | Exists(Assignment.objects.filter(call=OuterRef("pk"), unit__service=value))
        )

    def filter_q(self, qs, name, value):
        # One kind of text per search: a reference, a phone number (or its last digits), or
        # words. Each then has its own index and row estimate; one OR of all five let
        # PostgreSQL walk the whole history for a rare phone (1.3 s at 1,000,000 calls).
        value = value.strip()
        if not value:
            return qs
        if REFERENCE_RE.match(value):
            return qs.filter(reference=value.upper())
        digits = re.sub(r"[^0-9]", "", value)
        if PHONE_RE.match(value) and len(digits) >= 4:
            if len(digits) == 11 and digits.startswith("8"):  # the trunk prefix: stored as +7…
                digits = "7" + digits[1:]
            return qs.filter(caller_phone__contains=digits)
        # `~*` (iregex) on the escaped text, not icontains: Django writes icontains as
        # UPPER(col) LIKE …, which no trigram index serves; `~*` on the column is (Cyrillic
        # case folding included), so a rare word is a BitmapOr over the indexes.
        pattern = re.escape(value)
        return qs.filter(
            Q(address__iregex=pattern)
            | Q(description__iregex=pattern)
            | Q(caller_name__iregex=pattern)
            | Q(caller_phone__contains=value)
        )

    def filter_near(self, qs, name, value):
        point, metres = parse_near(value)
        return qs.filter(location__dwithin=(point, D(m=metres)))

    def filter_unit(self, qs, name, value):
        # `id = ANY(ARRAY(the unit's call ids))`, not `id IN (subquery)`: PostgreSQL planned
        # IN as a walk down the whole history probing each call for the unit (~15,000 probes,
        # 45 ms, for a unit with 3,500 calls among 1,000,000; the full table for a unit that
        # is rarely sent). The array is read from the (unit, call) index and its calls are
        # fetched by primary key, so the cost is bounded by the unit's own history.
        # order_by(): the model's default ordering would sort the ids first (a bitmap scan
        # and a sort instead of the index-only scan).
        unit_calls = ArraySubquery(Assignment.objects.filter(unit_id=value).order_by().values("call_id"))
        return qs.filter(_EqualsAny(F("pk"), unit_calls))

    def filter_bbox(self, qs, name, value):
        box = parse_bbox(value)
        # `&&` on the geography column uses the GiST index and is a superset of the box; the
        # geometry test then keeps exactly the lat/lon rectangle the map shows (a geodesic
        # test would bend its edges along great circles, ~100 m off across a city).
        return qs.filter(location__bboverlaps=box).alias(
            location_geom=Cast("location", GeometryField(srid=4326))
        ).filter(location_geom__intersects=box)


class UnitFilter(django_filters.FilterSet):
    service = django_filters.ChoiceFilter(choices=Service.choices)
    status = CommaMultipleChoiceFilter(field_name="status", allowed=[c for c, _ in UnitStatus.CHOICES])
    near = django_filters.CharFilter(method="filter_near")

    class Meta:
        model = Unit
        fields = []

    def filter_near(self, qs, name, value):
        point, metres = parse_near(value)
        return qs.filter(location__dwithin=(point, D(m=metres)))
