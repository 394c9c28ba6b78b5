"""The REST API of units: the fleet (operators read, supervisors edit and issue device
tokens) and the crew's own unit (`/me/`: its assignment, position reports, status)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsOperator, IsResponder, IsSupervisor, responder_unit
from core.choices import Service
from dispatch.statuses import AssignmentStatus
from units import services as unit_services
from units.models import Unit
from units.serializers import FixIn, PositionReportOut, validate_fixes
from units.statuses import UNIT_SELF_STATUSES

from . import services
from .filters import UnitFilter
from .models import Assignment
from .serializers import AssignmentSerializer, CallSerializer, UnitSerializer, call_queryset


class UnitIn(serializers.Serializer):
    callsign = serializers.RegexField(r"^[A-Za-z0-9А-Яа-яЁё][A-Za-z0-9А-Яа-яЁё\-_/ ]{0,31}$", max_length=32)
    service = serializers.ChoiceField(choices=Service.choices)
    capabilities = serializers.ListField(
        child=serializers.RegexField(r"^[a-z0-9_]{1,32}$"), max_length=20, required=False
    )
    home_station = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate_callsign(self, value):
        qs = Unit.objects.filter(callsign=value)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError("A unit with this callsign exists.")
        return value


class UnitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = UnitSerializer
    filterset_class = UnitFilter
    lookup_value_regex = "[0-9]+"
    queryset = Unit.objects.all().order_by("callsign")

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [IsOperator()]
        return [IsSupervisor()]

    @extend_schema(request=UnitIn, responses={201: UnitSerializer})
    def create(self, request):
        data = UnitIn(data=request.data)
        data.is_valid(raise_exception=True)
        unit = unit_services.unit_create(actor=request.user, **data.validated_data)
        return Response(UnitSerializer(unit).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UnitIn, responses=UnitSerializer)
    def partial_update(self, request, pk=None):
        unit = self.get_object()
        data = UnitIn(unit, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        unit = unit_services.unit_update(unit_id=unit.pk, actor=request.user, changes=data.validated_data)
        return Response(UnitSerializer(unit).data)

    @extend_schema(request=None, responses=inline_serializer("DeviceToken", {"token": serializers.CharField()}))
    @action(detail=True, methods=["post"])
    def token(self, request, pk=None):
        unit = self.get_object()
        return Response({"token": unit_services.unit_issue_token(unit_id=unit.pk, actor=request.user)})


# --- the crew's own unit ---------------------------------------------------------------------------


class MeView(APIView):
    permission_classes = [IsResponder]

    @extend_schema(responses=inline_serializer("Me", {"unit": UnitSerializer(), "assignment": AssignmentSerializer(),
                                                      "call": CallSerializer()}))
    def get(self, request):
        unit = responder_unit(request.user)
        assignment = (
            Assignment.objects.filter(unit=unit, status__in=AssignmentStatus.ACTIVE).select_related("unit", "call").first()
        )
        call = call_queryset().get(pk=assignment.call_id) if assignment else None
        return Response({
            "unit": UnitSerializer(unit).data,
            "assignment": AssignmentSerializer(assignment).data if assignment else None,
            "call": CallSerializer(call).data if call else None,
        })


class MeLocationView(APIView):
    """POST one fix or a list (an offline phone's buffer). Under the ASGI server this path is
    answered by units.ingest.PositionIngest with the same validation and SQL; this view serves
    the test client, the WSGI entry point and the schema."""

    permission_classes = [IsResponder]

    @extend_schema(request=FixIn(many=True), responses={200: PositionReportOut})
    def post(self, request):
        fixes = validate_fixes(request.data)
        return Response(unit_services.unit_report_positions(unit_id=responder_unit(request.user).pk, fixes=fixes))


class StatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=[(s, s) for s in UNIT_SELF_STATUSES])


class MeStatusView(APIView):
    permission_classes = [IsResponder]

    @extend_schema(request=StatusIn, responses=UnitSerializer)
    def post(self, request):
        data = StatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        unit = services.unit_set_status(
            unit_id=responder_unit(request.user).pk, status=data.validated_data["status"], actor=request.user
        )
        return Response(UnitSerializer(unit).data)
