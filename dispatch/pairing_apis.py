"""Pairing a phone with a unit (issue 17): a supervisor's new device token as a link and a QR code.

POST /api/v1/units/{id}/pairing/ does what POST /units/{id}/token/ does (a new token; the
old one stops working and its open sockets close with 4401) and adds the link that signs
the crew app in, `/crew/#token=…`, and that link as a QR code (an SVG data URI). The token
rides in the fragment, which a browser never sends to a server, so it stays out of every
access log.
"""

import segno
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import IsSupervisor
from units import services as unit_services
from units.models import Unit


def pairing_link(request, token):
    return request.build_absolute_uri(reverse("crew")) + "#token=" + token


def qr_data_uri(text):
    return segno.make(text, error="m").svg_data_uri(scale=6, border=2, dark="#000", light="#fff")


class UnitPairingView(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(
        request=None,
        responses=inline_serializer("Pairing", {
            "unit": serializers.IntegerField(),
            "token": serializers.CharField(),
            "link": serializers.CharField(help_text="Opens the crew app signed in as the unit."),
            "qr": serializers.CharField(help_text="The link as a QR code: an SVG data URI."),
        }),
    )
    def post(self, request, pk):
        unit = get_object_or_404(Unit, pk=pk)
        token = unit_services.unit_issue_token(unit_id=unit.pk, actor=request.user)
        link = pairing_link(request, token)
        response = Response({"unit": unit.pk, "token": token, "link": link, "qr": qr_data_uri(link)})
        response["Cache-Control"] = "no-store"  # it holds a live token
        return response
