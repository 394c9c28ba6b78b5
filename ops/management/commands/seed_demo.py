"""seed_demo: a demo fleet over Astana, demo accounts, the gazetteer and the road graph.

It only ever adds what is missing. An account or unit that exists is left exactly as it is:
a password someone changed, a unit a crew took out of service, a position. New demo units
go through the services, so each appears in the journal like any other unit (created,
its first position, on duty). `--if-empty` (what `make run` uses on every start) does
nothing at all unless the database has no units and no accounts: restarting a running
centre must never reset anything.
"""

import os
import random
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.services import ensure_account
from calls.models import GazetteerEntry
from dispatch import roads
from dispatch.services import unit_set_status
from units.models import Unit
from units.services import unit_create, unit_report_positions

SHIPPED_GAZETTEER = Path(__file__).resolve().parents[3] / "calls" / "data" / "astana_gazetteer.json.gz"
# The Astana demo road graph (OpenStreetMap, ODbL; ops/data/ROADS.md, build_demo_roads).
SHIPPED_ROADS = Path(__file__).resolve().parents[2] / "data" / "astana_roads.json.gz"

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
        parser.add_argument("--no-roads", action="store_true", help="do not load the demo road graph")
        parser.add_argument("--if-empty", action="store_true",
                            help="do nothing unless the database has no units and no accounts")

    def handle(self, *args, no_gazetteer=False, no_roads=False, if_empty=False, **options):
        if if_empty and (Unit.objects.exists() or get_user_model().objects.exists()):
            self.stdout.write("demo data not added: the database is in use (run `manage.py seed_demo` to add "
                              "what is missing)")
            return
        for group in ("operator", "supervisor", "gateway"):
            Group.objects.get_or_create(name=group)
        created = self._fleet()
        lines = []
        User = get_user_model()
        for name, role, password in DEMO_ACCOUNTS:
            if User.objects.filter(username=name).exists():
                lines.append(f"  {role:<10} login {name}: exists, left unchanged")
                continue
            _user, key = ensure_account(name, role, password)
            lines.append(f"  {role:<10} login {name} / {password}   API token {key}")
        if not no_gazetteer and not GazetteerEntry.objects.exists():
            # The shipped Astana gazetteer (OpenStreetMap, ODbL); loaded once, reloadable by hand.
            call_command("load_gazetteer", str(SHIPPED_GAZETTEER), verbosity=0)
        graph = roads.graph_info()
        if not no_roads and not (graph and graph["edges"]):
            # Only when no graph is loaded: a centre's own (load_roads) is never replaced.
            call_command("load_roads", str(SHIPPED_ROADS), stdout=self.stdout)
            graph = roads.graph_info()
        self.stdout.write(f"demo fleet: {Unit.objects.count()} units ({created} new); "
                          f"gazetteer: {GazetteerEntry.objects.count()} entries; "
                          f"road graph: {graph['edges'] if graph else 0} edges")
        self.stdout.write("demo accounts:")
        for line in lines:
            self.stdout.write(line)
        # The port the run command serves on (PORT, as the Makefile and Procfile read it).
        port = os.environ.get("PORT") or "8000"
        self.stdout.write(f"log in at http://127.0.0.1:{port}/accounts/login/ ; API docs at /api/docs/")

    def _fleet(self):
        """Create the missing demo units and put each new one on duty, as its crew would."""
        rng = random.Random(112)
        existing = set(Unit.objects.values_list("callsign", flat=True))
        created = 0
        for prefix, service, caps, count in FLEET:
            for i in range(1, count + 1):
                station, lat, lon = STATIONS[(i - 1) % len(STATIONS)]
                fix = {"lat": lat + rng.uniform(-0.012, 0.012), "lon": lon + rng.uniform(-0.02, 0.02),
                       "accuracy_m": 10, "recorded_at": timezone.now()}
                callsign = f"{prefix}-{100 + i}"
                if callsign in existing:
                    continue
                with transaction.atomic():
                    unit = unit_create(actor=None, callsign=callsign, service=service,
                                       capabilities=caps[(i - 1) % len(caps)], home_station=station)
                    unit_report_positions(unit_id=unit.pk, fixes=[fix])
                    unit_set_status(unit_id=unit.pk, status="available")
                created += 1
        return created
