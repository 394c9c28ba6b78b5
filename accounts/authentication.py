"""DRF authentication by API token (`Authorization: Token …`), digests only at rest."""

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

from .language import saved_language
from .tokens import find_token


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's scheme, with one indexed lookup by digest per request.

    knox itself scans the account's other tokens on every request to delete expired ones;
    here expired tokens are simply refused and purged by a periodic task, and the unit
    rides along with the user (every responder request is scoped by it)."""

    def authenticate(self, request):
        self._names_language = "HTTP_ACCEPT_LANGUAGE" in request.META
        return super().authenticate(request)

    def _request_names_language(self):
        return getattr(self, "_names_language", False)

    def authenticate_credentials(self, token):
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        found = find_token(text, related=("user", "user__unit", "user__language_choice"))
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        # A client that names no language gets its user's saved one (accounts/language.py).
        language = saved_language(found.user)
        if language and not self._request_names_language():
            translation.activate(language)
        return found.user, found
