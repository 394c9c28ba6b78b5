"""Websocket authentication: an API token (header or ?token=) or the browser session.

A session cookie is only honoured with an Origin header of an allowed host, so another
site cannot open the feed with an operator's cookie (cross-site websocket hijacking).
"""

from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http.request import validate_host


class _SessionAuth(AuthMiddleware):
    async def resolve_scope(self, scope):
        try:
            await super().resolve_scope(scope)
        except DatabaseError:  # PostgreSQL restarting: the consumer answers 1013, try again
            scope["user"]._wrapped = AnonymousUser()
            scope["db_unavailable"] = True


@database_sync_to_async
def _user_for_token(key):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def _token_from(scope):
    headers = dict(scope.get("headers", []))
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("token "):
        return auth[6:].strip()
    values = parse_qs(scope.get("query_string", b"").decode()).get("token")
    return values[0] if values else None


def _origin_allowed(scope):
    origin = dict(scope.get("headers", [])).get(b"origin")
    if origin is None:
        return False
    host = urlparse(origin.decode("latin-1")).hostname or ""
    hosts = settings.ALLOWED_HOSTS if settings.ALLOWED_HOSTS else ["localhost", "127.0.0.1", "[::1]"]
    return validate_host(host, hosts)


class TokenOrSessionAuthMiddleware(BaseMiddleware):
    def __init__(self, inner):
        super().__init__(inner)
        self.session_auth = CookieMiddleware(SessionMiddleware(_SessionAuth(inner)))

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        key = _token_from(scope)
        if key:
            try:
                user = await _user_for_token(key)
            except DatabaseError:
                user, scope["db_unavailable"] = None, True
            scope["user"] = user or AnonymousUser()
            if user is None:
                scope["auth_error"] = "invalid token"
            return await self.inner(scope, receive, send)
        if not _origin_allowed(scope):
            scope["user"] = AnonymousUser()
            scope["auth_error"] = "cross-origin session"
            return await self.inner(scope, receive, send)
        return await self.session_auth(scope, receive, send)
