"""Revocation: a password change or deactivation ends every token of the account, and any
revoked token ends the websockets that signed in with it, within a second or two.

The websocket side listens on the group `revocation_group(user_id)` and re-checks its own
credential on the doorbell (dispatch/consumers.py); it also re-checks every
WS_REAUTH_INTERVAL_S, so a lost doorbell (Redis down) delays the close, never skips it.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from knox.models import AuthToken

from .tokens import revoke_tokens

log = logging.getLogger(__name__)
User = get_user_model()


def revocation_group(user_id):
    return f"auth.user.{user_id}"


def _ring(user_id):
    try:
        async_to_sync(get_channel_layer().group_send)(revocation_group(user_id), {"type": "auth.revoked"})
    except Exception as exc:  # Redis down: the periodic re-check closes the sockets
        log.warning("revocation doorbell not sent for user %s: %s", user_id, exc)


def announce_revocation(user_id):
    transaction.on_commit(lambda: _ring(user_id))


@receiver(pre_save, sender=User)
def _note_credential_change(sender, instance, **kwargs):
    # set_password() leaves the new hash in _password until save(); is_active is compared
    # with the stored row. Both are read before the save overwrites them.
    instance._revoke_on_save = False
    fields = kwargs.get("update_fields")
    if instance.pk is None or (fields is not None and not {"password", "is_active"} & set(fields)):
        return  # a new account, or e.g. last_login alone
    if getattr(instance, "_password", None) is not None:
        instance._revoke_on_save = True
        return
    was_active = User.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    if was_active and not instance.is_active:
        instance._revoke_on_save = True


@receiver(post_save, sender=User)
def _revoke_after_credential_change(sender, instance, created, **kwargs):
    if getattr(instance, "_revoke_on_save", False):
        instance._revoke_on_save = False
        revoke_tokens(instance)
        announce_revocation(instance.pk)  # session-signed sockets too


@receiver(post_delete, sender=AuthToken)
def _token_deleted(sender, instance, **kwargs):
    announce_revocation(instance.user_id)
