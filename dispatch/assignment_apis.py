"""The REST API of assignments: operators cancel one; a crew acts on its own unit's."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.access import IsOperator, IsResponder, responder_unit

from . import services
from .call_apis import ReasonIn
from .models import Assignment
from .serializers import AssignmentSerializer


class ClearIn(serializers.Serializer):
    transporting = serializers.BooleanField(required=False, default=False)


class AssignmentViewSet(viewsets.GenericViewSet):
    """`cancel` is the operators'; the other actions are the crew's, on its own unit only:
    another unit's assignment id is a 404, and a unit id is never taken from the body."""

    serializer_class = AssignmentSerializer
    lookup_value_regex = "[0-9]+"

    def get_permissions(self):
        return [IsOperator()] if self.action == "cancel" else [IsResponder()]

    def get_queryset(self):
        qs = Assignment.objects.select_related("unit", "call")
        if self.action == "cancel":
            return qs
        return qs.filter(unit=responder_unit(self.request.user))

    def _run(self, fn, **kwargs):
        assignment = self.get_object()
        fn(assignment_id=assignment.pk, actor=self.request.user, **kwargs)
        return Response(AssignmentSerializer(self.get_queryset().get(pk=assignment.pk)).data)

    def _input(self, serializer_class):
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data

    @extend_schema(request=ReasonIn, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._run(services.assignment_cancel, reason=self._input(ReasonIn).get("reason", ""))

    @extend_schema(request=None, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._run(services.assignment_acknowledge)

    @extend_schema(request=ReasonIn, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._run(services.assignment_decline, reason=self._input(ReasonIn).get("reason", ""))

    @extend_schema(request=None, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def arrive(self, request, pk=None):
        return self._run(services.assignment_arrive)

    @extend_schema(request=ClearIn, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"])
    def clear(self, request, pk=None):
        return self._run(services.assignment_clear, transporting=self._input(ClearIn)["transporting"])
