from django.core.management.base import BaseCommand

from dispatch.metrics import backfill_call_metrics


class Command(BaseCommand):
    help = "Measure every ended call that has no statistics row (imports, calls ended by older code)."

    def handle(self, *args, **options):
        n = backfill_call_metrics()
        self.stdout.write(f"measured {n} ended call(s)")
