"""Signing in for API clients."""

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny


class TokenView(ObtainAuthToken):
    """POST username + password → {"token"}. Open to anyone, by design."""

    permission_classes = [AllowAny]
