"""create_account NAME --role operator|supervisor|gateway [--password P]: prints the API token last."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

ROLES = ("operator", "supervisor", "gateway")


def ensure_account(username, role, password=None):
    """Create or update an account in exactly one role; returns (user, token key)."""
    if role not in ROLES:
        raise CommandError(f"--role must be one of {', '.join(ROLES)}")
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
        user.groups.set([Group.objects.get(name=role)])
        token, _ = Token.objects.get_or_create(user=user)
    return user, token.key


class Command(BaseCommand):
    help = "Create or update an operator, supervisor or gateway account and print its API token."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password")

    def handle(self, *args, name, role, password=None, **options):
        user, key = ensure_account(name, role, password)
        self.stdout.write(f"account {user.username} ({role}) ready")
        self.stdout.write(key)
