"""Signing in for API clients."""

from axes.models import AccessAttempt
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import parsers, permissions, renderers, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsers import JSONParser

from . import language
from .throttling import SignInLockoutThrottle, SignInRateThrottle, client_ip
from .tokens import issue_token


class TokenView(APIView):
    """POST username + password → {"token", "expiry"}. Open to anyone, by design.

    Each sign-in issues a new token (a person may work from several machines); the text is
    shown only here, the database keeps its digest."""

    authentication_classes = []
    permission_classes = [AllowAny]
    # Per-address rate first (Redis), then the axes lock-out of username + address (429).
    throttle_classes = [SignInRateThrottle, SignInLockoutThrottle]
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, JSONParser)
    renderer_classes = (renderers.JSONRenderer,)

    @extend_schema(
        request=AuthTokenSerializer,
        responses=inline_serializer("IssuedToken", {"token": serializers.CharField(),
                                                     "expiry": serializers.DateTimeField(allow_null=True)}),
    )
    def post(self, request):
        credentials = AuthTokenSerializer(data=request.data, context={"request": request})
        credentials.is_valid(raise_exception=True)
        user = credentials.validated_data["user"]
        # A right password clears this address's failures, as a browser sign-in does
        # (axes resets on user_logged_in, which token sign-ins do not send).
        AccessAttempt.objects.filter(username=user.get_username(), ip_address=client_ip(request)).delete()
        text, token = issue_token(user, with_row=True)
        return Response({"token": text, "expiry": token.expiry})


class LanguageSerializer(serializers.Serializer):
    language = serializers.ChoiceField(choices=language.CODES)


class AccountLanguageView(APIView):
    """GET → {"language": "kk" | null} (null: no choice saved, the request's language
    applies); PUT {"language": "ru"|"kk"|"en"} saves the signed-in user's choice."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=inline_serializer("AccountLanguage", {"language": serializers.CharField(allow_null=True)}))
    def get(self, request):
        return Response({"language": language.saved_language(request.user)})

    @extend_schema(request=LanguageSerializer, responses=LanguageSerializer)
    def put(self, request):
        body = LanguageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        chosen = body.validated_data["language"]
        language.save_language(request, request.user, chosen)
        language.activate(request, chosen)
        return Response({"language": chosen})
