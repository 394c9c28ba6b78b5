"""create_account NAME --role operator|supervisor|gateway [--password P]: prints a new API token last."""

from django.core.management.base import BaseCommand

from accounts.services import ROLES, ensure_account


class Command(BaseCommand):
    help = ("Create or update an operator, supervisor or gateway account and print a new API token "
            "(the account's earlier tokens stop working).")

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password")

    def handle(self, *args, name, role, password=None, **options):
        user, key = ensure_account(name, role, password)
        self.stdout.write(f"account {user.username} ({role}) ready")
        self.stdout.write(key)
