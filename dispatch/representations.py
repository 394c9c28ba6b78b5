"""What the journal stores for each event: the object's REST representation at that moment."""

from .serializers import AssignmentSerializer, CallSerializer, UnitSerializer, call_queryset


def call_data(*, call, unit=None, assignment=None):
    # Re-read with its relations prefetched: a handful of queries, not one per assignment.
    return CallSerializer(call_queryset().get(pk=call.pk)).data


def assignment_data(*, call=None, unit=None, assignment):
    return AssignmentSerializer(assignment).data


def unit_data(*, call=None, unit, assignment=None):
    return UnitSerializer(unit).data
