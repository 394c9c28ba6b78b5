"""The REST form of the live feed: the journal after a given event id, a page at a time."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsOperator
from core.journal import event_message
from core.models import Event

FEED_PAGE = 500


class EventFeedView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        parameters=[OpenApiParameter("since", int, description="Last event id seen (0 for the start)")],
        responses=inline_serializer("EventPage", {
            "results": serializers.ListField(child=serializers.DictField()),
            "next": serializers.CharField(allow_null=True),
            "previous": serializers.CharField(allow_null=True),
            "last_id": serializers.IntegerField(),
            "resync": serializers.BooleanField(required=False),
        }),
    )
    def get(self, request):
        raw = request.query_params.get("since", "0")
        try:
            since = int(raw)
            if since < 0:
                raise ValueError
        except ValueError:
            raise serializers.ValidationError({"since": "A non-negative event id."}) from None
        rows = list(Event.objects.filter(id__gt=since).order_by("id")[: FEED_PAGE + 1])
        if not rows:
            latest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
            if since > latest:
                # A cursor from beyond this journal (a restored or another database): echoing
                # it back would leave the client waiting forever. Like the websocket's
                # resync: refetch state, then follow from last_id.
                return Response({"results": [], "next": None, "previous": None, "last_id": latest, "resync": True})
        more = len(rows) > FEED_PAGE
        rows = rows[:FEED_PAGE]
        last = rows[-1].id if rows else since
        next_url = request.build_absolute_uri(f"{request.path}?since={last}") if more else None
        return Response({"results": [event_message(e) for e in rows], "next": next_url, "previous": None,
                         "last_id": last})
