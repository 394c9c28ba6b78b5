"""Partner systems' REST face (docs/integrations.md).

POST /alarms/                     an alarm source's machine token: one alarm → a call
/alarm-sources/                   supervisors: register sources (the token is shown once)
/subscriptions/                   supervisors: webhooks that receive the journal's events
"""

import re
from datetime import timedelta

from django.db import IntegrityError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsAlarmSource, IsSupervisor
from calls.models import IncidentType
from core.api import FiniteFloatField, point_from
from core.journal import EVENT_TYPES
from dispatch.serializers import CallSerializer, call_queryset

from . import services
from .models import AlarmSource, Subscription, SubscriptionFormat
from .webhooks import host_allowed

KIND_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# A sensor's clock may run a little ahead; an alarm from further in the future is a bad time.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_KINDS = 200


# --- alarms in -----------------------------------------------------------------------------------


class HttpUrlField(serializers.URLField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and not value.lower().startswith(("http://", "https://")):
            self.fail("invalid")
        return value


class AlarmIn(serializers.Serializer):
    source = serializers.SlugField(max_length=32)
    external_id = serializers.CharField(max_length=200)
    kind = serializers.CharField(max_length=64)
    lat = FiniteFloatField(min_value=-90, max_value=90)
    lon = FiniteFloatField(min_value=-180, max_value=180)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    media_url = HttpUrlField(max_length=2000, required=False, allow_blank=True, allow_null=True)

    def validate_occurred_at(self, value):
        if value is not None and value > timezone.now() + MAX_CLOCK_SKEW:
            raise serializers.ValidationError(_("The alarm's time is in the future."))
        return value

    def validate(self, data):
        source = self.context["source"]
        if data["source"] != source.code:
            raise serializers.ValidationError(
                {"source": [_("This token belongs to source '%(code)s'.") % {"code": source.code}]})
        rule = source.kinds.get(data["kind"])
        if rule is None:
            raise serializers.ValidationError({"kind": [_("Source '%(code)s' has no kind '%(kind)s'; known: %(known)s.") % {
                "code": source.code, "kind": data["kind"], "known": ", ".join(sorted(source.kinds)) or "-"}]})
        if not IncidentType.objects.filter(code=rule.get("incident_type"), active=True).exists():
            raise serializers.ValidationError(
                {"kind": [_("Kind '%(kind)s' maps to an incident type that is not in the catalogue.") % {
                    "kind": data["kind"]}]})
        return data


class AlarmView(APIView):
    """POST one alarm with the source's own token → 201 with the call it raised, or 200 with
    the same call when (source, external_id) was seen before."""

    permission_classes = [IsAlarmSource]

    @extend_schema(request=AlarmIn, responses={201: CallSerializer, 200: CallSerializer})
    def post(self, request):
        source = AlarmSource.objects.filter(account=request.user).first()
        if source is None:
            return Response({"detail": _("This account is not a registered alarm source.")},
                            status=status.HTTP_403_FORBIDDEN)
        data = AlarmIn(data=request.data, context={"source": source})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        call, created = services.alarm_receive(
            source=source, external_id=v["external_id"], kind=v["kind"], point=point_from(v),
            occurred_at=v.get("occurred_at"), description=v.get("description", ""), media_url=v.get("media_url") or "",
        )
        return Response(CallSerializer(call_queryset().get(pk=call.pk)).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- alarm sources -------------------------------------------------------------------------------


class KindRuleIn(serializers.Serializer):
    incident_type = serializers.SlugRelatedField(slug_field="code", queryset=IncidentType.objects.filter(active=True))
    priority = serializers.IntegerField(min_value=1, max_value=4, required=False, allow_null=True)
    hold = serializers.BooleanField(required=False, default=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({k: [_("Unknown field.")] for k in unknown})
        value = super().to_internal_value(data)
        return {"incident_type": value["incident_type"].code, "priority": value.get("priority"),
                "hold": value.get("hold", False)}


class AlarmSourceIn(serializers.Serializer):
    code = serializers.SlugField(max_length=32)
    name = serializers.CharField(max_length=200)
    kinds = serializers.DictField(child=KindRuleIn(), allow_empty=False)

    def validate_kinds(self, value):
        bad = [k for k in value if not KIND_RE.match(k)]
        if bad:
            raise serializers.ValidationError(
                _("Kinds are 1-64 letters, digits or _ . : -; not: %(bad)s.") % {"bad": ", ".join(bad[:5])})
        if len(value) > MAX_KINDS:
            raise serializers.ValidationError(_("At most %(n)d kinds.") % {"n": MAX_KINDS})
        return value


class AlarmSourceOut(serializers.ModelSerializer):
    class Meta:
        model = AlarmSource
        fields = ["id", "code", "name", "kinds", "created_at", "updated_at"]
        read_only_fields = fields


class AlarmSourceViewSet(viewsets.ViewSet):
    permission_classes = [IsSupervisor]
    lookup_value_regex = "[0-9]+"

    def list(self, request):
        return Response(AlarmSourceOut(AlarmSource.objects.all(), many=True).data)

    def retrieve(self, request, pk=None):
        return Response(AlarmSourceOut(get_object_or_404(AlarmSource, pk=pk)).data)

    @extend_schema(request=AlarmSourceIn, responses={201: AlarmSourceOut})
    def create(self, request):
        data = AlarmSourceIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if AlarmSource.objects.filter(code=v["code"]).exists():
            raise serializers.ValidationError({"code": [_("A source with this code exists.")]})
        try:
            source, token = services.alarm_source_create(code=v["code"], name=v["name"], kinds=v["kinds"])
        except IntegrityError:  # registered at the same moment by someone else
            raise serializers.ValidationError({"code": [_("A source with this code exists.")]}) from None
        return Response({**AlarmSourceOut(source).data, "token": token}, status=status.HTTP_201_CREATED)

    @extend_schema(request=AlarmSourceIn, responses=AlarmSourceOut)
    def partial_update(self, request, pk=None):
        source = get_object_or_404(AlarmSource, pk=pk)
        data = AlarmSourceIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "code" in v and v["code"] != source.code:
            raise serializers.ValidationError({"code": [_("A source's code cannot change.")]})
        source = services.alarm_source_update(source_id=source.pk, changes=v)
        return Response(AlarmSourceOut(source).data)

    def destroy(self, request, pk=None):
        source = get_object_or_404(AlarmSource, pk=pk)
        services.alarm_source_delete(source_id=source.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlarmSourceTokenView(APIView):
    """POST → a new token for the source; the old one stops working."""

    permission_classes = [IsSupervisor]

    def post(self, request, pk):
        source = get_object_or_404(AlarmSource, pk=pk)
        source, token = services.alarm_source_rotate_token(source_id=source.pk)
        return Response({**AlarmSourceOut(source).data, "token": token})


# --- subscriptions -------------------------------------------------------------------------------


class SubscriptionIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.CharField(max_length=32), allow_empty=False, max_length=50)
    format = serializers.ChoiceField(choices=SubscriptionFormat.choices, required=False,
                                     default=SubscriptionFormat.EVENT)
    secret = serializers.CharField(min_length=16, max_length=200, trim_whitespace=False)
    paused = serializers.BooleanField(required=False)

    def validate_url(self, value):
        if not host_allowed(value):
            raise serializers.ValidationError(
                _("Only http(s) URLs on the hosts in WEBHOOK_ALLOWED_HOSTS may be registered."))
        return value

    def validate_events(self, value):
        if "*" in value:
            if len(value) != 1:
                raise serializers.ValidationError(_('"*" stands alone: every event type.'))
            return value
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise serializers.ValidationError(_("Unknown event types: %(bad)s; known: %(known)s.") % {
                "bad": ", ".join(unknown), "known": ", ".join(EVENT_TYPES)})
        return sorted(set(value), key=value.index)


class SubscriptionOut(serializers.ModelSerializer):
    class Meta:
        model = Subscription
        fields = ["id", "url", "events", "format", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        return {**super().to_representation(instance), **services.subscription_state(instance)}


class SubscriptionViewSet(viewsets.ViewSet):
    permission_classes = [IsSupervisor]
    lookup_value_regex = "[0-9]+"

    def list(self, request):
        return Response(SubscriptionOut(Subscription.objects.all(), many=True).data)

    def retrieve(self, request, pk=None):
        return Response(SubscriptionOut(get_object_or_404(Subscription, pk=pk)).data)

    @extend_schema(request=SubscriptionIn, responses={201: SubscriptionOut})
    def create(self, request):
        data = SubscriptionIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        subscription = services.subscription_create(url=v["url"], events=v["events"], format=v["format"],
                                                    secret=v["secret"], actor=request.user)
        if v.get("paused"):
            services.subscription_update(subscription_id=subscription.pk, changes={"paused": True})
        return Response(SubscriptionOut(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SubscriptionIn, responses=SubscriptionOut)
    def partial_update(self, request, pk=None):
        subscription = get_object_or_404(Subscription, pk=pk)
        data = SubscriptionIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        subscription = services.subscription_update(subscription_id=subscription.pk, changes=changes)
        return Response(SubscriptionOut(subscription).data)

    def destroy(self, request, pk=None):
        subscription = get_object_or_404(Subscription, pk=pk)
        services.subscription_delete(subscription_id=subscription.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
