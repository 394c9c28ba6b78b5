"""seed_demo: a demo fleet over Astana, demo accounts, and the gazetteer. Idempotent."""

import random
from pathlib import Path

from django.contrib.auth.models import Group
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from calls.management.commands.create_account import ensure_account
from calls.models import GazetteerEntry
from units.models import Unit

SHIPPED_GAZETTEER = Path(__file__).resolve().parents[3] / "calls" / "data" / "astana_gazetteer.json.gz"

# Stations spread over the city (lat, lon): Left bank, Right bank, Saryarka, Baikonur, Almaty districts.
STATIONS = [
    ("Esil", 51.1280, 71.4300), ("Almaty district", 51.1470, 71.4900), ("Saryarka", 51.1800, 71.4100),
    ("Baikonur", 51.1650, 71.4400), ("Nura", 51.0900, 71.4200), ("Left bank south", 51.1000, 71.3800),
]
FLEET = [
    ("P", "police", [[], ["k9"], []], 12),
    ("A", "medical", [["als"], ["bls"], ["bls"]], 12),
    ("F", "fire", [[], ["ladder"], ["hazmat"]], 8),
    ("U", "utility", [["gas"], ["electric"], ["water"], ["heating"]], 8),
]
DEMO_ACCOUNTS = [("operator", "operator", "operator112"), ("supervisor", "supervisor", "supervisor112"),
                 ("gateway", "gateway", "gateway112")]


class Command(BaseCommand):
    help = "Add a demo fleet around Astana, demo accounts and the gazetteer (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--no-gazetteer", action="store_true")

    def handle(self, *args, no_gazetteer=False, **options):
        rng = random.Random(112)
        now = timezone.now()
        created = 0
        with transaction.atomic():
            for prefix, service, caps, count in FLEET:
                for i in range(1, count + 1):
                    station, lat, lon = STATIONS[(i - 1) % len(STATIONS)]
                    point = Point(lon + rng.uniform(-0.02, 0.02), lat + rng.uniform(-0.012, 0.012), srid=4326)
                    unit, was_created = Unit.objects.get_or_create(
                        callsign=f"{prefix}-{100 + i}",
                        defaults={"service": service, "capabilities": caps[(i - 1) % len(caps)],
                                  "home_station": station},
                    )
                    if was_created or unit.status in ("available", "out_of_service"):
                        # A demo fleet on duty with fresh positions, whatever it did last time.
                        Unit.objects.filter(pk=unit.pk, status__in=("available", "out_of_service")).update(
                            status="available", location=point, location_accuracy_m=10, location_recorded_at=now,
                            status_changed_at=now,
                        )
                    created += was_created
        for group in ("operator", "supervisor", "gateway"):
            Group.objects.get_or_create(name=group)
        lines = []
        for name, role, password in DEMO_ACCOUNTS:
            _user, key = ensure_account(name, role, password)
            lines.append(f"  {role:<10} login {name} / {password}   API token {key}")
        if not no_gazetteer and not GazetteerEntry.objects.exists():
            # The shipped Astana gazetteer (OpenStreetMap, ODbL); loaded once, reloadable by hand.
            call_command("load_gazetteer", str(SHIPPED_GAZETTEER), verbosity=0)
        self.stdout.write(f"demo fleet: {Unit.objects.count()} units ({created} new); "
                          f"gazetteer: {GazetteerEntry.objects.count()} entries")
        self.stdout.write("demo accounts:")
        for line in lines:
            self.stdout.write(line)
        self.stdout.write("log in at http://127.0.0.1:8000/accounts/login/ ; API docs at /api/docs/")
