from datetime import date

from django.core.management.base import BaseCommand, CommandError

from dispatch import rollups


class Command(BaseCommand):
    help = ("Roll up the statistics (dispatch/rollups.py): every day that has no valid rollup, or with --day "
            "the given days again. Idempotent; the beat task roll_up_stats does the same a little at a time.")

    def add_arguments(self, parser):
        parser.add_argument("--day", action="append", default=[], metavar="YYYY-MM-DD",
                            help="roll this local day up again (repeatable)")

    def handle(self, *args, **options):
        try:
            days = [date.fromisoformat(d) for d in options["day"]]
        except ValueError as exc:
            raise CommandError(f"--day: {exc}") from None
        if days:
            n, _ = rollups.rebuild(days, missing=0)
        else:
            n = rollups.rebuild_all(progress=lambda total: self.stdout.write(f"  {total} day(s)…"))
        self.stdout.write(f"rolled up {n} day(s)")
