"""`GET /audit/`: the read audit, for supervisors (docs/privacy.md). The view validates
its query, calls one selector and paginates."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from accounts.access import IsSupervisor

from . import audit
from .call_apis import CallCursor
from .models import ReadAudit


class AuditQuery(serializers.Serializer):
    actor = serializers.CharField(max_length=150, required=False, help_text="The reader's username.")
    call = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, help_text="The call read (its id).")
    action = serializers.ChoiceField(choices=ReadAudit.Action.choices, required=False)
    after = serializers.DateTimeField(required=False, help_text="Reads at or after this time.")
    before = serializers.DateTimeField(required=False, help_text="Reads before this time.")

    def validate(self, attrs):
        if "after" in attrs and "before" in attrs and attrs["after"] >= attrs["before"]:
            raise serializers.ValidationError({"before": "Must be later than after."})
        return attrs


class ReadAuditOut(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_username")
    call_reference = serializers.CharField(source="call.reference", default=None, allow_null=True)

    class Meta:
        model = ReadAudit
        fields = ["id", "at", "actor", "action", "call", "call_reference", "remote_addr", "query", "filters",
                  "row_count"]
        read_only_fields = fields


class AuditCursor(CallCursor):
    # Newest first, keyset on (at, id) like the history: a page costs the same at any depth.
    ordering = ("-at", "-id")


class ReadAuditView(GenericAPIView):
    permission_classes = [IsSupervisor]
    serializer_class = ReadAuditOut
    pagination_class = AuditCursor

    @extend_schema(parameters=[AuditQuery], responses=ReadAuditOut(many=True))
    def get(self, request):
        query = AuditQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        v = query.validated_data
        rows = audit.read_audit_list(actor=v.get("actor"), call_id=v.get("call"), action=v.get("action"),
                                     after=v.get("after"), before=v.get("before"))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ReadAuditOut(page, many=True).data)
