"""Who the client is, and DRF throttles for the token sign-in (issue 14).

Both the per-address rate and django-axes' lock-outs key on `client_ip`, so the two can
never disagree about who is knocking.
"""

import ipaddress
import logging
from collections.abc import Mapping

import redis
from django.conf import settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from . import lockouts

log = logging.getLogger("accounts")


def client_ip(request):
    """REMOTE_ADDR, unless TRUSTED_PROXY_COUNT says how many proxies append to X-Forwarded-For.

    DRF's rule (NUM_PROXIES): the address that many hops from the right of the header.
    Anything that is not an IP address falls back to REMOTE_ADDR: the database stores
    it as `inet`, and a forged header must not turn a sign-in into a 500."""
    remote = request.META.get("REMOTE_ADDR")
    ident = BaseThrottle().get_ident(request)
    if ident == remote:
        return remote
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return remote


class SignInRateThrottle(SimpleRateThrottle):
    """AUTH_TOKEN_RATE per client address, counted in the Redis cache.

    Fails open: the lock-outs live in PostgreSQL and still hold, so a Redis outage must
    cost sign-in its rate limit, not its availability (a console that cannot get a token
    cannot take calls)."""

    scope = "auth_token"

    def get_rate(self):
        # Read per request (not at import) so that the setting can change in tests.
        return settings.AUTH_TOKEN_RATE

    def get_ident(self, request):
        return client_ip(request)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except redis.RedisError as exc:
            log.warning("sign-in rate not checked, the cache is unavailable: %s", exc)
            return True


class SignInLockoutThrottle(BaseThrottle):
    """Refuses a username + address that django-axes has locked out with 429, before the
    password is looked at (axes' backend would refuse it too, but DRF would answer 400)."""

    def allow_request(self, request, view):
        data = request.data
        username = data.get("username") if isinstance(data, Mapping) else None
        if not isinstance(username, str) or not username:
            return True
        lock = lockouts.lockout_of(username, client_ip(request))
        if lock is not None:
            raise lockouts.SignInLocked(lock["until"])
        return True
