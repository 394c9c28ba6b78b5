"""API tokens: stored as a SHA-512 digest (django-rest-knox), shown once, found by digest.

Three kinds, told apart by the account: a unit's device token and a gateway's or alarm
source's machine token live until they are replaced or revoked; a person's token (operators, supervisors)
expires after API_TOKEN_TTL_HOURS. A password change or deactivation revokes every token
of the account (accounts/signals.py), and revocation closes the account's open websockets.
"""

from datetime import timedelta
from hmac import compare_digest

from django.conf import settings
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS

from .access import ALARM_SOURCE, GATEWAY

# Tokens issued before issue 14 were DRF's 40-hex keys; they were moved here by digest,
# so length is not checked, only that the text is a plausible token.
MAX_TOKEN_LENGTH = 128
# A person signing in from several machines gets one token each; the oldest go first.
MAX_PERSONAL_TOKENS = 10




def _is_machine(user):
    try:
        if user.unit is not None:  # a unit's device (units.Unit.user)
            return True
    except Exception:  # RelatedObjectDoesNotExist
        pass
    return user.groups.filter(name__in=[GATEWAY, ALARM_SOURCE]).exists()


def issue_token(user, *, replace=False, with_row=False):
    """A new token for the account; returns its text, which is never stored.

    replace=True revokes the account's other tokens in the same transaction (a unit's new
    device token, create_account's rotation)."""
    if replace:
        revoke_tokens(user)
    ttl = None
    if not _is_machine(user) and settings.API_TOKEN_TTL_HOURS:
        ttl = timedelta(hours=settings.API_TOKEN_TTL_HOURS)
        stale = AuthToken.objects.filter(user=user).order_by("-created").values_list("digest", flat=True)
        AuthToken.objects.filter(digest__in=list(stale[MAX_PERSONAL_TOKENS - 1:])).delete()
    token, text = AuthToken.objects.create(user=user, expiry=ttl)
    return (text, token) if with_row else text


def revoke_tokens(user):
    """Every token of the account stops working; its websockets close (signals)."""
    return AuthToken.objects.filter(user=user).delete()[0]


def token_digest(text):
    """The stored form of a presented token, or None when it cannot be one."""
    if not text or len(text) > MAX_TOKEN_LENGTH or not text.isascii():
        return None
    try:
        return hash_token(text)
    except (TypeError, ValueError, UnicodeError):
        return None


def find_token(text, *, related=("user",)):
    """The live token with this text, or None (unknown, expired or of an inactive user)."""
    digest = token_digest(text)
    if digest is None:
        return None
    token = AuthToken.objects.select_related(*related).filter(digest=digest).first()
    if token is None or not compare_digest(token.digest, digest):
        return None
    if token.expiry is not None and token.expiry <= timezone.now():
        return None
    if not token.user.is_active:
        return None
    return token


def token_is_live(digest):
    """For an open websocket: is the token it signed in with still valid?"""
    return AuthToken.objects.filter(
        digest=digest, user__is_active=True
    ).exclude(expiry__lte=timezone.now()).exists()


def purge_expired():
    return AuthToken.objects.filter(expiry__lte=timezone.now()).delete()[0]


def shown_prefix(token):
    """What screens show of a token: its first characters, enough to tell tokens apart."""
    return token.token_key[: CONSTANTS.TOKEN_KEY_LENGTH]
