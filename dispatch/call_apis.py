"""The REST API of calls (SPEC "REST API"): intake, edits, the operators' actions, the
history list, the timeline; and the incident-type catalogue. Views parse input, call one
service, serialize output."""

import re

from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.access import IsOperator, is_supervisor
from calls import services as call_services
from calls.models import Call, Channel, Disposition, IncidentType, LocationSource
from calls.statuses import CallStatus
from core.api import LocationInSerializer, point_from
from core.models import Event
from core.replica import replica_reads
from units.models import Unit

from . import audit, services
from .filters import CallFilter
from .history import call_list_representation, call_list_rows, short_reads
from .representations import call_representation
from .serializers import CallSerializer, EventSerializer, call_queryset

PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{1,30}$")


def _call_response(call_id, code=status.HTTP_200_OK):
    # The answer to every write: plain rows, not CallSerializer over a prefetched instance
    # (held equal to it by tests/dispatch/test_representations.py); intake waits on this.
    return Response(call_representation(call_id), status=code)


# --- inputs ----------------------------------------------------------------------------------


class CallLocationIn(LocationInSerializer):
    source = serializers.ChoiceField(choices=LocationSource.choices, required=False)


def _validated_location(data):
    if data is None:
        return None
    return {"point": point_from(data), "accuracy_m": data.get("accuracy_m"), "source": data.get("source")}


class CallCreateIn(serializers.Serializer):
    incident_type = serializers.SlugRelatedField(slug_field="code", queryset=IncidentType.objects.filter(active=True))
    priority = serializers.IntegerField(min_value=1, max_value=4, required=False)
    caller_phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    caller_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    location = CallLocationIn(required=False, allow_null=True)
    address = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def validate_caller_phone(self, value):
        if value and not PHONE_RE.match(value):
            raise serializers.ValidationError("Not a phone number.")
        return call_services.normalize_phone(value)

    def validate(self, attrs):
        if attrs.get("location") is not None and attrs.get("address"):
            raise serializers.ValidationError({"location": "Give at most one of location and address."})
        return attrs


class CallUpdateIn(CallCreateIn):
    incident_type = serializers.SlugRelatedField(
        slug_field="code", queryset=IncidentType.objects.filter(active=True), required=False
    )


class CloseIn(serializers.Serializer):
    disposition = serializers.ChoiceField(choices=Disposition.choices)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class AssignIn(serializers.Serializer):
    unit = serializers.IntegerField(min_value=1)


class MergeIn(serializers.Serializer):
    into = serializers.IntegerField(min_value=1)


class NoteIn(serializers.Serializer):
    text = serializers.CharField(max_length=2000)


class CallCursor(CursorPagination):
    # Keyset pagination: a page costs the same at row 10 and at row 1,000,000.
    ordering = ("-received_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request):
        # DRF checks the cursor's offset but not its position, which goes straight into
        # `received_at < …`: a forged one was a 500. It must be a time with its zone.
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                at = parse_datetime(cursor.position)
            except ValueError:
                at = None
            if at is None or at.tzinfo is None:
                raise NotFound(self.invalid_cursor_message)
        return cursor


# --- calls -------------------------------------------------------------------------------------


def _reads_history(request):
    """A supervisor's history query may be read from the replica (core/replica.py). The
    console's working list (operators, or anyone asking for open calls only) is the live
    state that events are applied to, so it reads the primary."""
    statuses = {s for s in request.query_params.get("status", "").split(",") if s}
    return is_supervisor(request.user) and not (statuses and statuses <= set(CallStatus.OPEN))


class CallViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsOperator]
    lookup_value_regex = "[0-9]+"  # anything else is a 404 from the router, not a 500
    serializer_class = CallSerializer
    filterset_class = CallFilter
    pagination_class = CallCursor

    def get_queryset(self):
        return call_queryset()

    def list(self, request, *args, **kwargs):
        # The history page: plain rows, not serializer objects over model instances (see
        # history.call_list_representation; held equal to CallSerializer by a test).
        calls = self.filter_queryset(Call.objects.all())
        with replica_reads(enabled=_reads_history(request)) as alias, short_reads(using=alias):
            page = self.paginate_queryset(call_list_rows(calls))
            response = self.get_paginated_response(call_list_representation(page))
        # A search by text is a read of whoever it names; the console's list of open calls
        # (no `q`) is routine work and is not audited.
        query = request.query_params.get("q", "").strip()
        if query:
            audit.read_audit_record(request=request, action=audit.Action.CALLS_SEARCHED, query=query,
                                    filters=audit.search_filters(request.query_params, CallFilter.base_filters),
                                    row_count=len(page))
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        audit.read_audit_record(request=request, action=audit.Action.CALL_VIEWED, call_id=response.data["id"])
        return response

    @extend_schema(request=CallCreateIn, responses={201: CallSerializer})
    def create(self, request):
        data = CallCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        call = call_services.call_create(
            actor=request.user,
            incident_type=v["incident_type"],
            priority=v.get("priority"),
            caller_phone=v.get("caller_phone", ""),
            caller_name=v.get("caller_name", ""),
            channel=v.get("channel"),
            description=v.get("description", ""),
            location=_validated_location(v.get("location")),
            address=v.get("address") or None,
        )
        # The call.created journal row's data is this call as committed (see
        # representations.call_data); tests/dispatch/test_representations.py holds it equal to GET.
        data = getattr(call, "journal_representation", None)
        if data is None:
            return _call_response(call.pk, status.HTTP_201_CREATED)
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CallUpdateIn, responses=CallSerializer)
    def partial_update(self, request, pk=None):
        call = get_object_or_404(Call, pk=pk)
        data = CallUpdateIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        location = _validated_location(v.pop("location", None))
        address = v.pop("address", None)
        call_services.call_update(call_id=call.pk, actor=request.user, changes=v, location=location, address=address)
        return _call_response(call.pk)

    def _act(self, request, pk, in_serializer, fn):
        get_object_or_404(Call, pk=pk)
        data = None
        if in_serializer is not None:
            data = in_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            data = data.validated_data
        fn(data)
        return _call_response(pk)

    @extend_schema(request=AssignIn, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        def run(v):
            get_object_or_404(Unit, pk=v["unit"])
            services.assign_unit(call_id=int(pk), unit_id=v["unit"], actor=request.user)

        return self._act(request, pk, AssignIn, run)

    @extend_schema(request=None, responses=CallSerializer)
    @action(detail=True, methods=["post"], url_path="dispatch")
    def release(self, request, pk=None):
        # Not named `dispatch`: that would shadow APIView.dispatch.
        return self._act(request, pk, None, lambda v: services.call_release(call_id=int(pk), actor=request.user))

    @extend_schema(request=CloseIn, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._act(
            request, pk, CloseIn,
            lambda v: services.call_close(call_id=int(pk), disposition=v["disposition"], notes=v.get("notes", ""),
                                          actor=request.user),
        )

    @extend_schema(request=ReasonIn, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(
            request, pk, ReasonIn,
            lambda v: services.call_cancel(call_id=int(pk), reason=v.get("reason", ""), actor=request.user),
        )

    @extend_schema(request=MergeIn, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        def run(v):
            get_object_or_404(Call, pk=v["into"])
            services.call_merge(call_id=int(pk), into_id=v["into"], actor=request.user)

        return self._act(request, pk, MergeIn, run)

    @extend_schema(request=NoteIn, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        return self._act(
            request, pk, NoteIn, lambda v: call_services.call_add_note(call_id=int(pk), actor=request.user, text=v["text"])
        )

    @extend_schema(responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        call = get_object_or_404(Call, pk=pk)
        events = Event.objects.filter(call=call).select_related("actor").order_by("id")
        data = EventSerializer(events, many=True).data
        audit.read_audit_record(request=request, action=audit.Action.CALL_TIMELINE, call_id=call.pk)
        return Response(data)


# --- catalogue ---------------------------------------------------------------------------------


class IncidentTypeOut(serializers.ModelSerializer):
    plan = serializers.SerializerMethodField()

    class Meta:
        model = IncidentType
        fields = ["code", "name_ru", "name_kk", "name_en", "priority", "plan"]

    def get_plan(self, obj) -> list[dict]:
        return [{"service": s, "capability": c or None, "count": n} for s, c, n in obj.plan()]


class IncidentTypeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [IsOperator]
    serializer_class = IncidentTypeOut
    queryset = IncidentType.objects.filter(active=True).prefetch_related("plan_lines")
    pagination_class = None
