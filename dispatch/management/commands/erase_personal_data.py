from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dispatch.retention import personal_data_erase


class Command(BaseCommand):
    help = (
        "Erase callers' personal data of calls that ended more than the retention period ago "
        "(PERSONAL_DATA_RETENTION_DAYS), and the searched texts of older audit rows. See docs/privacy.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None,
                            help="Retention period in days (default: PERSONAL_DATA_RETENTION_DAYS).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be erased; change nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Calls per transaction (default 500).")

    def handle(self, *args, days=None, dry_run=False, batch_size=500, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1 (PERSONAL_DATA_RETENTION_DAYS=0 is how to keep everything).")
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000.")
        period = settings.PERSONAL_DATA_RETENTION_DAYS if days is None else days
        if period == 0:
            self.stdout.write("PERSONAL_DATA_RETENTION_DAYS=0: personal data is kept; nothing erased.")
            return
        counts = personal_data_erase(days=period, dry_run=dry_run, batch_size=batch_size)
        verb = "would erase" if dry_run else "erased"
        self.stdout.write(
            f"{verb} (ended more than {period} days ago): {counts.calls} call(s), {counts.aml_messages} AML "
            f"message(s), {counts.journal_rows} journal row(s); search text of {counts.audit_rows} audit row(s)"
        )
