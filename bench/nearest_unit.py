"""Nearest-unit selection: the engine's KNN query against GeoDjango's Distance ordering.

    .venv/bin/python bench/nearest_unit.py [--sizes 1000,10000,100000] [--points 300] [--seed 112]

For each fleet size the Unit table is filled with bulk_create (4 services, ~60 % available,
fresh positions over Astana, a few capabilities), VACUUM ANALYZEd, then timed with the
same random points, service and capability for:
  (a) dispatch.engine.candidate_units(point, service, capability)  -- the engine's query:
      ORDER BY location <-> point (KNN on the partial GiST index unit_available_knn), LIMIT 5;
  (b) the same filter ordered by Distance("location", point)       -- ST_Distance on every row.
Wall time of the Python call (ORM + round trip + fetch), and the KNN SQL alone on a cursor. Also prints EXPLAIN ANALYZE of (a)
at 10,000 units. SPEC: p99 <= 5 ms among 10,000 units. Empties the tables at the end.
"""

import argparse
import random
import re
import time

import _common  # noqa: F401  (sets up Django against dispatch_bench)
from _common import (
    bulk_units,
    clean_database,
    connection,
    percentile,
    print_load_after,
    print_machine,
    random_point,
    table,
)
from django.contrib.gis.db.models.functions import Distance
from django.test.utils import CaptureQueriesContext

from dispatch.engine import candidate_units, fresh_cutoff
from units.models import Unit

FLEET = {
    "medical": [["als"], ["bls"], ["als", "neonatal"], ["bls"]],
    "fire": [["engine"], ["ladder"], ["engine", "rescue"], ["hazmat"]],
    "police": [[], [], ["k9"], ["traffic"]],
    "utility": [["gas"], ["power"], ["water"], ["gas", "power"]],
}
# What a call asks for: service and capability ("" = any unit of the service).
NEEDS = [("medical", "als"), ("medical", "bls"), ("medical", ""), ("fire", "engine"), ("fire", "ladder"),
         ("police", ""), ("police", "k9"), ("utility", "gas")]


def by_distance(point, service, capability, limit=5):
    """The filter of candidate_units, ordered by GeoDjango's Distance annotation (ST_Distance)."""
    qs = Unit.objects.filter(service=service, status="available", location__isnull=False,
                             location_recorded_at__gte=fresh_cutoff())
    if capability:
        qs = qs.filter(capabilities__contains=[capability])
    return list(qs.annotate(distance=Distance("location", point)).order_by("distance")[:limit])


def timed(fn, cases):
    out = []
    for point, service, capability in cases:
        t0 = time.perf_counter()
        fn(point, service, capability)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def raw_sql_times(cases):
    """The KNN statements alone (captured SQL re-executed on a cursor): server + round trip."""
    with CaptureQueriesContext(connection) as ctx:
        for point, service, capability in cases:
            candidate_units(point, service, capability)
    out = []
    with connection.cursor() as cur:
        for q in ctx.captured_queries:
            t0 = time.perf_counter()
            cur.execute(q["sql"])
            cur.fetchall()
            out.append((time.perf_counter() - t0) * 1000)
    return out


def explain(point):
    with CaptureQueriesContext(connection) as ctx:
        candidate_units(point, "medical", "als")
    sql = ctx.captured_queries[-1]["sql"]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
        plan = "\n".join(r[0] for r in cur.fetchall())
    print("-- EXPLAIN ANALYZE of candidate_units(point, 'medical', 'als') at this size:")
    print(re.sub(r"'[0-9A-F]{40,}'::geography", "'<point>'::geography", plan))
    used = "Order By: (location <-> " in plan and "unit_available_knn" in plan
    print(f"-- KNN order on unit_available_knn: {'yes' if used else 'NO'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--points", type=int, default=300)
    ap.add_argument("--seed", type=int, default=112)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print_machine("nearest-unit selection (bench/nearest_unit.py)")
    rows = []
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            clean_database()
            t0 = time.monotonic()
            bulk_units(n, rng, FLEET, available=0.6)
            with connection.cursor() as cur:
                cur.execute("VACUUM ANALYZE units_unit")
            print(f"-- {n} units loaded in {time.monotonic() - t0:.1f} s")
            cases = [(random_point(rng), *rng.choice(NEEDS)) for _ in range(args.points)]
            timed(candidate_units, cases[:30])  # warm caches and the connection
            timed(by_distance, cases[:30])
            knn = timed(candidate_units, cases)
            dist = timed(by_distance, cases)
            sql = raw_sql_times(cases)
            # Same answer? The KNN order is by the spheroid-free <-> distance; compare id sets.
            same = sum({u.id for u in candidate_units(p, s, c)} == {u.id for u in by_distance(p, s, c)}
                       for p, s, c in cases[:50])
            rows.append([n, percentile(knn, 50), percentile(knn, 99), percentile(sql, 99), percentile(dist, 50), percentile(dist, 99),
                         percentile(dist, 99) / percentile(knn, 99), f"{same}/50"])
            if n == 10000:
                explain(cases[0][0])
    finally:
        clean_database()
    print(f"-- {args.points} random points per size; times in ms, wall time of the Python call;"
          " 'SQL-only' re-executes the KNN statements on a raw cursor (no ORM)")
    table(["units", "KNN p50", "KNN p99", "KNN SQL-only p99", "Distance p50", "Distance p99", "p99 ratio", "same 5 units"], rows)
    print("SPEC: p99 <= 5 ms among 10,000 units (KNN column).")
    print_load_after()


if __name__ == "__main__":
    main()
