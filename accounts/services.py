"""Accounts of people and machines: one role each (a Django group of the same name)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from .tokens import issue_token

ROLES = ("operator", "supervisor", "gateway")


def ensure_account(username, role, password=None):
    """Create or update an account in exactly one role; returns (user, new token text).

    Tokens are kept only as digests, so the text can be shown once: every call issues a
    new token and revokes the account's earlier ones (a rotation)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    User = get_user_model()
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=username)
        if password:
            user.set_password(password)
        elif not user.has_usable_password():
            user.set_unusable_password()
        user.is_active = True
        user.is_staff = role == "supervisor"  # supervisors may use the admin for the catalogue
        user.save()
        user.groups.set([Group.objects.get_or_create(name=role)[0]])
        key = issue_token(user, replace=True)
    return user, key
