"""Filters of the call history and the unit board (SPEC query parameters)."""

import django_filters
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from calls.models import Call, Service
from dispatch.transitions import CallStatus, UnitStatus
from units.models import Unit


def parse_near(value, field="near"):
    """`lat,lon,metres` → (Point, metres), with a 400 that names the field."""
    try:
        lat, lon, metres = (float(part) for part in value.split(","))
    except ValueError:
        raise ValidationError({field: "Expected lat,lon,metres (for example 51.128,71.43,500)."}) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < metres <= 100_000):
        raise ValidationError({field: "lat must be in [-90, 90], lon in [-180, 180], metres in (0, 100000]."})
    return Point(lon, lat, srid=4326), metres


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


class CallFilter(django_filters.FilterSet):
    status = CommaMultipleChoiceFilter(field_name="status", allowed=[c for c, _ in CallStatus.CHOICES])
    priority = django_filters.BaseInFilter(field_name="priority")
    incident_type = django_filters.CharFilter(field_name="incident_type__code")
    service = django_filters.ChoiceFilter(choices=Service.choices, method="filter_service")
    received_after = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="filter_q", max_length=200)
    near = django_filters.CharFilter(method="filter_near")
    unit = django_filters.NumberFilter(method="filter_unit")

    class Meta:
        model = Call
        fields = []

    def filter_service(self, qs, name, value):
        # A call concerns a service if its plan asks for it or a unit of it was sent.
        return qs.filter(
            Q(incident_type__plan_lines__service=value) | Q(assignments__unit__service=value)
        ).distinct()

    def filter_q(self, qs, name, value):
        value = value.strip()
        if not value:
            return qs
        return qs.filter(
            Q(reference__iexact=value)
            | Q(caller_phone__contains=value)
            | Q(address__icontains=value)
            | Q(description__icontains=value)
            | Q(caller_name__icontains=value)
        )

    def filter_near(self, qs, name, value):
        point, metres = parse_near(value)
        return qs.filter(location__dwithin=(point, D(m=metres)))

    def filter_unit(self, qs, name, value):
        return qs.filter(assignments__unit_id=value).distinct()


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
