"""Websocket authentication: an API token (header or ?token=) or the browser session.

A session cookie is only honoured with an Origin header of an allowed host, so another
site cannot open the feed with an operator's cookie (cross-site websocket hijacking).
An open socket is not trusted forever: `credential_is_live` re-checks the token or the
session it signed in with (on a revocation doorbell and every WS_REAUTH_INTERVAL_S).
"""

from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http.request import validate_host
from django.utils.crypto import constant_time_compare

from accounts.tokens import find_token, token_is_live


class _SessionAuth(AuthMiddleware):
    async def resolve_scope(self, scope):
        try:
            await super().resolve_scope(scope)
        except DatabaseError:  # PostgreSQL restarting: the consumer answers 1013, try again
            scope["user"]._wrapped = AnonymousUser()
            scope["db_unavailable"] = True


@database_sync_to_async
def _token_for(key):
    return find_token(key)


def credential_is_live(scope):
    """Is the credential this socket signed in with still good? (sync; reads the database)"""
    digest = scope.get("auth_token_digest")
    if digest:
        return token_is_live(digest)
    session = scope.get("session")
    user = scope.get("user")
    if session is None or user is None or not user.is_authenticated or not session.session_key:
        return False
    # A fresh read of both: logout deletes the session, a password change alters the hash.
    stored = session.__class__(session.session_key).load()
    fresh = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    return bool(
        fresh is not None
        and str(stored.get(SESSION_KEY)) == str(fresh.pk)
        and constant_time_compare(stored.get(HASH_SESSION_KEY, ""), fresh.get_session_auth_hash())
    )


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
                token = await _token_for(key)
            except DatabaseError:
                token, scope["db_unavailable"] = None, True
            scope["user"] = token.user if token else AnonymousUser()
            if token is None:
                scope["auth_error"] = "invalid token"
            else:
                scope["auth_token_digest"] = token.digest
            return await self.inner(scope, receive, send)
        if not _origin_allowed(scope):
            scope["user"] = AnonymousUser()
            scope["auth_error"] = "cross-origin session"
            return await self.inner(scope, receive, send)
        return await self.session_auth(scope, receive, send)
