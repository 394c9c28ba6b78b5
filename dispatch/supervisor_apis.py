"""Supervisors' REST API (issue 8): history export, statistics, EIDO, unit tracks, and
taking a unit out of service. Views parse input, call one selector or service, and render.
"""

from datetime import timedelta

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsSupervisor
from calls.models import Call
from core.replica import read_alias, replica_reads
from units.models import Unit
from units.selectors import TRACK_MAX_SPAN, unit_track
from units.statuses import UnitStatus

from . import audit, services
from .eido import call_eido
from .export import call_export_rows, csv_chunks
from .filters import CallFilter
from .serializers import UnitLocationOutSerializer, UnitRefSerializer, UnitSerializer
from .stats import STATS_MAX_DAYS, call_statistics, stats_period

# --- CSV export ----------------------------------------------------------------------------------


async def _async_chunks(chunks):
    """Serve a sync generator to an ASGI server one chunk at a time.

    Django consumes a *sync* iterator of a StreamingHttpResponse under ASGI with
    `list()`, i.e. the whole export in memory. Each step runs in the request's own
    thread (thread-sensitive), which holds the database connection between pages."""
    step = sync_to_async(lambda: next(chunks, None), thread_sensitive=True)
    try:
        while (chunk := await step()) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()


class CallExportView(GenericAPIView):
    """`GET /calls/export.csv`: the filtered history, streamed (supervisors)."""

    permission_classes = [IsSupervisor]
    filterset_class = CallFilter
    queryset = Call.objects.all()

    @extend_schema(
        operation_id="v1_calls_export_csv",
        # Not a list action, so drf-spectacular does not read the filterset by itself.
        parameters=[OpenApiParameter(name, str, required=False) for name in CallFilter.base_filters],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="One row per call")},
    )
    def get(self, request):
        # Filtering errors (a bad date, an unknown status) raise here, before any byte is
        # sent, so they are still a 400 and not a broken download.
        # Read from the replica when it is fresh enough (core/replica.py); the audit rows
        # below are writes and go to the primary. The rows are read page by page after
        # this returns, so the alias is pinned on the queryset rather than a block.
        queryset = self.filter_queryset(self.get_queryset()).using(read_alias())
        # Audited when the download starts (an abandoned one too); its row count is stored
        # when the last row has been written.
        row = audit.read_audit_record(
            request=request, action=audit.Action.CALLS_EXPORTED, query=request.query_params.get("q", "").strip(),
            filters=audit.search_filters(request.query_params, CallFilter.base_filters),
        )
        chunks = csv_chunks(audit.read_audit_count_rows(row, call_export_rows(queryset)))
        if isinstance(request._request, ASGIRequest):
            content = _async_chunks(chunks)
        else:
            content = chunks
        response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="calls-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response


# --- statistics -----------------------------------------------------------------------------------


class StatsQuery(serializers.Serializer):
    received_after = serializers.DateTimeField(required=False)
    received_before = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        start, end = stats_period(attrs.get("received_after"), attrs.get("received_before"))
        if start >= end:
            raise serializers.ValidationError({"received_before": "Must be later than received_after."})
        if end - start > timedelta(days=STATS_MAX_DAYS):
            raise serializers.ValidationError(
                {"received_after": f"The period is at most {STATS_MAX_DAYS} days."})
        return {"start": start, "end": end}


class StatsView(APIView):
    """`GET /stats/`: counts and response-time percentiles for a period (supervisors).
    Default period: the last 7 days."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        parameters=[StatsQuery],
        responses=OpenApiResponse(OpenApiTypes.OBJECT, description="See dispatch.stats.call_statistics"),
    )
    def get(self, request):
        query = StatsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        with replica_reads() as alias:
            return Response(call_statistics(**query.validated_data, using=alias))


# --- one call as a NENA EIDO --------------------------------------------------------------------


class CallEidoView(APIView):
    """`GET /calls/{id}/eido/`: the call as a NENA EIDO JSON document (supervisors), for
    handing an incident to another centre."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses=OpenApiResponse(OpenApiTypes.OBJECT, description="NENA-STA-021 EIDO"))
    def get(self, request, pk):
        get_object_or_404(Call, pk=pk)
        document = call_eido(call_id=pk)
        audit.read_audit_record(request=request, action=audit.Action.CALL_EIDO, call_id=pk)
        response = Response(document)
        response["Content-Disposition"] = f'inline; filename="eido-{pk}.json"'
        return response


# --- units ---------------------------------------------------------------------------------------


class TrackQuery(serializers.Serializer):
    def get_fields(self):
        # `from` is a keyword, so the fields cannot be class attributes.
        return {"from": serializers.DateTimeField(required=False), "to": serializers.DateTimeField(required=False)}

    def validate(self, attrs):
        end = attrs.get("to") or timezone.now()
        start = attrs.get("from") or end - timedelta(hours=1)
        if start >= end:
            raise serializers.ValidationError({"to": "Must be later than from."})
        if end - start > TRACK_MAX_SPAN:
            raise serializers.ValidationError({"from": "The window is at most 24 hours."})
        return {"from": start, "to": end}


# A track point has the shape of a unit's live location.
TrackPointOut = UnitLocationOutSerializer


class TrackOut(serializers.Serializer):
    def get_fields(self):
        return {"unit": UnitRefSerializer(), "from": serializers.DateTimeField(), "to": serializers.DateTimeField(),
                "points": TrackPointOut(many=True), "truncated": serializers.BooleanField()}


class UnitTrackView(APIView):
    """`GET /units/{id}/track/?from=&to=`: the fixes the unit's device sent (supervisors).
    Default window: the last hour; at most 24 hours and 5,000 points (`truncated`)."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        parameters=[OpenApiParameter("from", OpenApiTypes.DATETIME), OpenApiParameter("to", OpenApiTypes.DATETIME)],
        responses=TrackOut,
    )
    def get(self, request, pk):
        unit = get_object_or_404(Unit, pk=pk)
        query = TrackQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        window = query.validated_data
        points, truncated = unit_track(unit_id=unit.pk, start=window["from"], end=window["to"])
        return Response(TrackOut({"unit": unit, **window, "points": points, "truncated": truncated}).data)


class UnitOutOfServiceView(APIView):
    """`POST /units/{id}/out-of-service/` (supervisors). PATCH /units/{id}/ edits the unit's
    description only; a status change must go through the state machine, so this calls the
    same service as the crew's own button: 409 while the unit works an assignment, a no-op
    when it is already out of service. The device puts it back with `available`."""

    permission_classes = [IsSupervisor]

    @extend_schema(request=None, responses=UnitSerializer)
    def post(self, request, pk):
        unit = get_object_or_404(Unit, pk=pk)
        unit = services.unit_set_status(unit_id=unit.pk, status=UnitStatus.OUT_OF_SERVICE, actor=request.user)
        return Response(UnitSerializer(unit).data)
