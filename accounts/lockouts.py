"""Sign-in lock-outs (issue 14): what django-axes has locked, how it is refused, and how
a supervisor lifts it.

django-axes (database handler) counts failed passwords per username + client address
in `axes_accessattempt`; AUTH_FAILURE_LIMIT of them inside AUTH_LOCKOUT_MINUTES lock that
pair for AUTH_LOCKOUT_MINUTES after the last one. The rule here mirrors axes' own
(`AxesDatabaseHandler.get_failures`), so the list, the 429 and axes always agree.
"""

import logging
import math
from collections import defaultdict

from axes.models import AccessAttempt
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsSupervisor

log = logging.getLogger("accounts")

LOCKED_DETAIL = _(
    "Too many failed sign-in attempts for this username from this address. Sign-in is locked "
    "until {until}; a supervisor can unlock it sooner."
)


def locked_detail(until):
    return str(LOCKED_DETAIL).format(until=timezone.localtime(until).strftime("%H:%M"))


# --- selectors and services -------------------------------------------------------------


def lockouts_current(*, username=None, ip=None):
    """Locked username + address pairs: username, ip, failures, since (the last counted
    failure), until (when the count inside the window falls under the limit)."""
    limit, cool_off = settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME
    rows = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - cool_off)
    if username is not None:
        rows = rows.filter(username=username)
    if ip is not None:
        rows = rows.filter(ip_address=ip)
    # One row per username + address + user agent: an attacker who varies the user agent
    # gets several rows, and axes sums them.
    pairs = defaultdict(list)
    for name, address, at, failures in rows.order_by("-attempt_time").values_list(
        "username", "ip_address", "attempt_time", "failures_since_start"
    ):
        pairs[(name, address)].append((at, failures))
    found = []
    for (name, address), attempts in pairs.items():
        counted = 0
        for at, failures in attempts:  # newest first
            counted += failures
            if counted >= limit:
                # The pair stays locked until this row leaves the window.
                found.append({"username": name, "ip": address, "failures": sum(f for _, f in attempts),
                              "since": attempts[0][0], "until": at + cool_off})
                break
    return sorted(found, key=lambda lock: lock["since"], reverse=True)


def lockout_of(username, ip):
    """The lock-out of this username from this address, or None."""
    found = lockouts_current(username=username, ip=ip)
    return found[0] if found else None


def lockouts_reset(*, username, ip=None, actor):
    """Forget the failed sign-ins of `username` (from `ip` only, if given); returns how many
    attempt rows went. Same effect as `manage.py axes_reset_username`."""
    rows = AccessAttempt.objects.filter(username=username)
    if ip is not None:
        rows = rows.filter(ip_address=ip)
    count, _ = rows.delete()
    log.warning("sign-in lock-out lifted: %s unlocked username=%r ip=%s (%d attempt rows)",
                actor.get_username(), username, ip or "any", count)
    return count


# --- how a lock-out is answered ------------------------------------------------------------


class SignInLocked(exceptions.Throttled):
    """429 + Retry-After for the token API, in the project's {"detail"} shape."""

    default_code = "locked_out"

    def __init__(self, until):
        super().__init__(detail=locked_detail(until))
        self.wait = max(1, math.ceil((until - timezone.now()).total_seconds()))


def _wants_json(request):
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: what AxesMiddleware answers for a locked browser sign-in
    (/accounts/login/, /admin/login/): a page in the user's language, or JSON for API
    clients. Status 429 with Retry-After either way."""
    credentials = credentials or getattr(request, "axes_credentials", None) or {}
    username = credentials.get("username") or request.POST.get("username") or ""
    lock = lockout_of(username, getattr(request, "axes_ip_address", None))
    until = lock["until"] if lock else timezone.now() + settings.AXES_COOLOFF_TIME
    wait = max(1, math.ceil((until - timezone.now()).total_seconds()))
    if _wants_json(request):
        response = JsonResponse({"detail": locked_detail(until)}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {
            "username": username, "until": until, "minutes": math.ceil(wait / 60),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        }, status=429)
    response["Retry-After"] = str(wait)
    return response


# --- supervisors' API --------------------------------------------------------------------


class LockoutOutSerializer(serializers.Serializer):
    username = serializers.CharField()
    ip = serializers.IPAddressField(allow_null=True)
    failures = serializers.IntegerField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()


class LockoutResetInSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=255)
    ip = serializers.IPAddressField(required=False)


class LockoutsView(APIView):
    """GET: current sign-in lock-outs. DELETE ?username=NAME[&ip=ADDR]: lift them."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses=inline_serializer("Lockouts", {
        "failure_limit": serializers.IntegerField(),
        "lockout_minutes": serializers.FloatField(),
        "results": LockoutOutSerializer(many=True),
    }))
    def get(self, request):
        return Response({
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": settings.AXES_COOLOFF_TIME.total_seconds() / 60,
            "results": LockoutOutSerializer(lockouts_current(), many=True).data,
        })

    @extend_schema(
        parameters=[OpenApiParameter("username", str, required=True),
                    OpenApiParameter("ip", str, required=False, description="only from this address")],
        responses={200: inline_serializer("LockoutReset", {"username": serializers.CharField(),
                                                            "ip": serializers.CharField(allow_null=True),
                                                            "cleared": serializers.IntegerField()}),
                   404: OpenApiResponse(description="no failed sign-ins recorded for that username")},
    )
    def delete(self, request):
        params = LockoutResetInSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        username, ip = params.validated_data["username"], params.validated_data.get("ip")
        cleared = lockouts_reset(username=username, ip=ip, actor=request.user)
        if not cleared:
            raise exceptions.NotFound(_("No failed sign-ins are recorded for this username."))
        return Response({"username": username, "ip": ip, "cleared": cleared})
