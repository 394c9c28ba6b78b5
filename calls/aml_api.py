"""POST /api/v1/aml/: Advanced Mobile Location messages from the operator's AML gateway."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsGateway

from .aml import AmlParseError
from .services import aml_receive


class AmlIn(serializers.Serializer):
    msisdn = serializers.CharField(max_length=32, required=False, allow_blank=True)
    message = serializers.CharField(max_length=2000, trim_whitespace=False)


class AmlView(APIView):
    """The gateway learns what it sent back (the fix as read) and whether it reached an open
    call, by id only: never the call itself. A gateway account names any phone number, so
    anything more would let it read caller names, descriptions and assignments (issue 14)."""

    permission_classes = [IsGateway]

    @extend_schema(
        request=AmlIn,
        responses={201: inline_serializer("AmlAccepted", {
            "fix": serializers.DictField(),
            "call": inline_serializer("AmlMatchedCall", {"id": serializers.IntegerField()}, allow_null=True),
        })},
    )
    def post(self, request):
        data = AmlIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            aml, call = aml_receive(msisdn=v.get("msisdn", ""), message=v["message"], actor=request.user)
        except AmlParseError as exc:
            return Response({"message": [exc.reason]}, status=status.HTTP_400_BAD_REQUEST)
        fix = {
            "id": aml.id,
            "msisdn": aml.msisdn,
            "lat": aml.location.y,
            "lon": aml.location.x,
            "accuracy_m": aml.accuracy_m,
            "fix_time": aml.fix_time.isoformat() if aml.fix_time else None,
            "positioning": aml.parsed.get("positioning"),
            "warnings": aml.parsed.get("warnings", []),
        }
        return Response({"fix": fix, "call": {"id": call.pk} if call else None}, status=status.HTTP_201_CREATED)
