"""The retention pass (dispatch/retention.py) over a large history, while calls keep coming.

Usage (from the project root; PostgreSQL must be up):

    PGPASSWORD=dispatch createdb -h 127.0.0.1 -U dispatch -T dispatch_template dispatch_bench_privacy
    DATABASE_URL=postgis://dispatch:dispatch@127.0.0.1:5432/dispatch_bench_privacy DEBUG=true \\
        .venv/bin/python manage.py migrate
    BENCH_RETENTION_CALLS=200000 .venv/bin/python bench/retention.py

It fills the separate database `dispatch_bench_privacy` (it truncates: never another one)
with N ended calls over two years, 4 journal rows each carrying the call's representation
(caller's phone, name, description, address, location) and one AML message per 3 calls,
VACUUM ANALYZEs, then runs: a dry run, the real pass (timing every batch), and a second
pass (must erase 0). Meanwhile a thread creates calls through calls.services.call_create
(which takes the journal lock) and reports their latency, to show the pass does not hold
the journal up. Prints the figures and the machine.
"""

import os
import platform
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "dispatch_bench_privacy"
os.environ.setdefault("DATABASE_URL", f"postgis://dispatch:dispatch@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
# The intake thread's dispatch requests go to this Redis only, never to a broker that a
# worker on another database listens to.
os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if urlparse(os.environ["DATABASE_URL"]).path.lstrip("/") != DB_NAME:
    sys.exit(f"refusing to run against anything but {DB_NAME}: this benchmark truncates tables")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from calls.models import IncidentType  # noqa: E402
from calls.services import call_create  # noqa: E402
from dispatch import retention  # noqa: E402

N_CALLS = int(os.environ.get("BENCH_RETENTION_CALLS", 1_000_000))
DAYS = 365


def fill():
    with connection.cursor() as cur:
        cur.execute("TRUNCATE calls_call, calls_amlmessage, dispatch_event, dispatch_readaudit, dispatch_assignment,"
                    " dispatch_callmetrics, dispatch_callservicemetrics, calls_call_possible_duplicates CASCADE")
        cur.execute("SELECT min(id) FROM calls_incidenttype")
        (type_id,) = cur.fetchone()
        # Two years of ended calls, oldest first (ids grow with time): about half are due.
        cur.execute("""
            INSERT INTO calls_call (reference, status, incident_type_id, priority, caller_phone, caller_name, channel,
                description, location, location_accuracy_m, location_source, address, received_at, dispatched_at,
                closed_at, disposition, hold_reason, unmet_needs, updated_at)
            SELECT 'C-B-' || g, 'closed', %s, 1 + g %% 4, '+7701' || lpad((g %% 10000000)::text, 7, '0'),
                'Caller ' || g, 'voice', 'описание вызова номер ' || g,
                ST_SetSRID(ST_MakePoint(71.43 + (g %% 1000) / 10000.0, 51.12 + (g %% 777) / 10000.0), 4326)::geography,
                10, 'operator', 'улица Достык, ' || (g %% 300), t, t + interval '40 s', t + interval '1 hour',
                'resolved', '', '[]', t
            FROM generate_series(1, %s) g, LATERAL (SELECT now() - interval '730 days'
                 + (g::float / %s) * interval '729 days' AS t) x
        """, [type_id, N_CALLS, N_CALLS])
        cur.execute("""
            INSERT INTO dispatch_event (type, at, call_id, summary, data)
            SELECT CASE k WHEN 1 THEN 'call.created' ELSE 'call.updated' END, c.received_at, c.id,
                CASE k WHEN 3 THEN 'note: the caller says the door code is 4417'
                       WHEN 4 THEN 'closed: resolved handed over' ELSE 'status dispatched' END,
                jsonb_build_object('id', c.id, 'reference', c.reference, 'status', c.status, 'caller_phone',
                    c.caller_phone, 'caller_name', c.caller_name, 'description', c.description, 'address', c.address,
                    'location', jsonb_build_object('lat', ST_Y(c.location::geometry), 'lon', ST_X(c.location::geometry),
                    'accuracy_m', 10, 'source', 'operator'), 'assignments', '[]'::jsonb, 'unmet_needs', '[]'::jsonb)
            FROM calls_call c, generate_series(1, 4) k ORDER BY c.id, k
        """)
        cur.execute("""
            INSERT INTO calls_amlmessage (received_at, msisdn, raw, accepted, reason, parsed, location, accuracy_m, call_id)
            SELECT c.received_at, c.caller_phone, 'A"ML=2;lt=+51.1;lg=+71.4;rd=10', true, '',
                   '{"version": "2", "fields": {"si": "4010112"}}', c.location, 10, c.id
            FROM calls_call c WHERE c.id % 3 = 0
        """)
        cur.execute("UPDATE dispatch_event SET previous_id = id - 1")
    connection.ensure_connection()
    old_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE calls_call")
        cur.execute("VACUUM ANALYZE dispatch_event")
        cur.execute("VACUUM ANALYZE calls_amlmessage")
    connection.set_autocommit(old_autocommit)


class Intake(threading.Thread):
    """Calls taken through the service while the pass runs (journal lock included)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.latencies = []

    def run(self):
        incident_type = IncidentType.objects.filter(active=True).first()
        try:
            while not self.stop.is_set():
                start = time.perf_counter()
                call_create(actor=None, incident_type=incident_type, caller_phone="+77019990000")
                self.latencies.append(time.perf_counter() - start)
                time.sleep(0.05)
        finally:
            connections.close_all()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")


def main():
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}")
    start = time.perf_counter()
    fill()
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM calls_call), (SELECT count(*) FROM dispatch_event),"
                    " (SELECT count(*) FROM calls_amlmessage), pg_size_pretty(pg_database_size(current_database()))")
        calls, events, aml, size = cur.fetchone()
        print(f"filled: calls {calls}, journal rows {events}, AML {aml}, database {size}"
              f" in {time.perf_counter() - start:.0f} s")

    # One `now` for the dry run and the pass: the fill's calls come due every few minutes.
    now = timezone.now()
    start = time.perf_counter()
    dry = retention.personal_data_erase(days=DAYS, now=now, dry_run=True)
    print(f"dry run: {dry.as_dict()} in {time.perf_counter() - start:.2f} s")

    intake = Intake()
    intake.start()
    time.sleep(15)
    intake.stop.set()
    intake.join()
    print(f"call intake alone: {len(intake.latencies)} calls, p50 {pct(intake.latencies, 0.5):.1f} ms, "
          f"p99 {pct(intake.latencies, 0.99):.1f} ms, max {max(intake.latencies) * 1000:.1f} ms")

    batches = []
    erase = retention._erase_calls

    def timed(cur, ids, now):
        t = time.perf_counter()
        result = erase(cur, ids, now)
        batches.append(time.perf_counter() - t)
        return result

    retention._erase_calls = timed
    intake = Intake()
    intake.start()
    start = time.perf_counter()
    counts = retention.personal_data_erase(days=DAYS, now=now)
    elapsed = time.perf_counter() - start
    intake.stop.set()
    intake.join()
    retention._erase_calls = erase
    print(f"pass: {counts.as_dict()} in {elapsed:.1f} s = {counts.calls / elapsed:.0f} calls/s; "
          f"{len(batches)} batches of {retention.BATCH_SIZE}: UPDATEs p50 {pct(batches, 0.5):.0f} ms, "
          f"p99 {pct(batches, 0.99):.0f} ms, max {max(batches) * 1000:.0f} ms")
    print(f"call intake meanwhile: {len(intake.latencies)} calls, p50 {pct(intake.latencies, 0.5):.1f} ms, "
          f"p99 {pct(intake.latencies, 0.99):.1f} ms, max {max(intake.latencies) * 1000:.1f} ms")
    assert counts.calls == dry.calls, (counts, dry)

    start = time.perf_counter()
    again = retention.personal_data_erase(days=DAYS, now=now)
    print(f"second pass: {again.as_dict()} in {time.perf_counter() - start:.3f} s")
    assert again.calls == 0


if __name__ == "__main__":
    main()
