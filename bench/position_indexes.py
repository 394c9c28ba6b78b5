"""What the indexes of the position tables cost a position report, A/B on one database.

    python bench/position_indexes.py --units 10000 --positions 2000000 --seconds 15 --rounds 3

A position report is one statement (units.services.REPORT_SQL: the track row inserted,
the unit's live row updated). Until units/0002 every report also maintained a second
GiST index on `units_unit.location` (the same as `unit_location_gist`), a GiST index on
`units_unitposition.location` and a btree on `units_unitposition.unit_id` (both covered or
never read). This fills the bench database with units and a track history, then runs
pgbench with that very statement (each unit moving, one fix per report, random units)
alternately with the three indexes created ("before") and dropped ("after"), and prints
transactions per second and the statement's latency (p50 / p99 from pgbench's log).

Only the database: no HTTP, no Python in the measured path (bench/positions_ingest.py
measures the whole request).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _common  # noqa: F401  (the bench database; refuses any other)
from django.conf import settings
from django.db import connection

from units.services import REPORT_SQL

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
EXTRA = {
    "units_unit_location_f875c7a9_id": 'CREATE INDEX IF NOT EXISTS "units_unit_location_f875c7a9_id" '
                                        'ON "units_unit" USING gist ("location")',
    "units_unitposition_location_1eb3ce2b_id": 'CREATE INDEX IF NOT EXISTS "units_unitposition_location_1eb3ce2b_id" '
                                               'ON "units_unitposition" USING gist ("location")',
    "units_unitposition_unit_id_ed613739": 'CREATE INDEX IF NOT EXISTS "units_unitposition_unit_id_ed613739" '
                                           'ON "units_unitposition" ("unit_id")',
}


def pgbench_script(units):
    """REPORT_SQL with its parameters as pgbench variables: one fix near Astana per report."""
    values = {
        "id": ":uid", "now": "now()", "lons": "ARRAY[:lon]", "lats": "ARRAY[:lat]", "accs": "ARRAY[10.0]",
        "headings": "ARRAY[NULL]", "speeds": "ARRAY[NULL]", "ats": "ARRAY[now()]", "lon": ":lon", "lat": ":lat",
        "min_move": "5", "acc": "10.0", "heading": "NULL::float8", "speed": "NULL::float8", "at": "now()",
        "due": "now() - interval '1 second'",
    }
    sql = re.sub(r"%\((\w+)\)s", lambda m: values[m.group(1)], REPORT_SQL)
    sql = " ".join(sql.split())
    return (f"\\set uid random(1, {units})\n"
            "\\set dx random(0, 200000)\n\\set dy random(0, 100000)\n"
            "\\set lon 71.30 + :dx / 1000000.0\n\\set lat 51.08 + :dy / 1000000.0\n"
            f"{sql};\n")


def fill(units, positions):
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM units_unit")
        if cur.fetchone()[0] == units:
            return
        cur.execute("TRUNCATE units_unitposition, units_unit RESTART IDENTITY CASCADE")
        cur.execute("""
            INSERT INTO units_unit (callsign, service, capabilities, status, location, location_recorded_at, home_station)
            SELECT 'B-' || i, 'medical', '{}', 'available',
                   ST_SetSRID(ST_MakePoint(71.30 + random() * 0.2, 51.08 + random() * 0.1), 4326)::geography,
                   now() - interval '1 day', ''
            FROM generate_series(1, %s) i""", [units])
        cur.execute("""
            INSERT INTO units_unitposition (unit_id, location, accuracy_m, recorded_at, received_at)
            SELECT 1 + (i %% %s), ST_SetSRID(ST_MakePoint(71.30 + random() * 0.2, 51.08 + random() * 0.1), 4326)::geography,
                   10, now() - interval '1 day' + i * interval '1 ms', now() - interval '1 day' + i * interval '1 ms'
            FROM generate_series(1, %s) i""", [units, positions])
        cur.execute("VACUUM ANALYZE units_unit")
        cur.execute("VACUUM ANALYZE units_unitposition")


def set_indexes(before):
    with connection.cursor() as cur:
        for name, create in EXTRA.items():
            cur.execute(create if before else f'DROP INDEX IF EXISTS "{name}"')


def run(script, seconds, clients, logdir):
    db = settings.DATABASES["default"]
    env = {**os.environ, "PGPASSWORD": db["PASSWORD"]}
    for old in Path(logdir).glob("pgbench_log*"):
        old.unlink()
    done = subprocess.run(
        [PGBENCH, "-n", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"],
         "-c", str(clients), "-j", str(clients), "-T", str(seconds), "-l", "-f", script, db["NAME"]],
        cwd=logdir, env=env, capture_output=True, text=True, check=True)
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))
    latencies = []
    for log in Path(logdir).glob("pgbench_log*"):
        latencies += [int(line.split()[2]) / 1000 for line in log.read_text().splitlines()]
    latencies.sort()
    return tps, statistics.median(latencies), latencies[int(len(latencies) * 0.99)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--units", type=int, default=10000)
    p.add_argument("--positions", type=int, default=2000000)
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    fill(a.units, a.positions)
    with tempfile.TemporaryDirectory() as logdir:
        script = Path(logdir) / "report.sql"
        script.write_text(pgbench_script(a.units))
        rows = []
        for r in range(a.rounds):
            for before in (True, False):
                set_indexes(before)
                load = os.getloadavg()[0]
                tps, p50, p99 = run(script, a.seconds, a.clients, logdir)
                rows.append((r + 1, "before" if before else "after", tps, p50, p99, load))
                print(f"round {r + 1} {'before' if before else 'after ':6} {tps:8.0f} reports/s  "
                      f"p50 {p50:.3f} ms  p99 {p99:.3f} ms  (load {load:.1f})", flush=True)
        set_indexes(False)  # as the migrations leave it
    for label in ("before", "after"):
        mine = [row for row in rows if row[1] == label]
        print(f"{label:6}: median of rounds {statistics.median(r[2] for r in mine):.0f} reports/s, "
              f"p50 {statistics.median(r[3] for r in mine):.3f} ms, p99 {statistics.median(r[4] for r in mine):.3f} ms")


if __name__ == "__main__":
    sys.exit(main())
