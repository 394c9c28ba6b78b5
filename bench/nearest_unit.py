"""Nearest-unit selection: the engine's KNN query against GeoDjango's Distance ordering.

    .venv/bin/python bench/nearest_unit.py [--sizes 1000,10000,100000] [--points 300] [--seed 112]

For each fleet size the Unit table is filled with bulk_create (4 services, ~60 % available,
fresh positions over Astana, a few capabilities), VACUUM ANALYZEd, then timed with the
same random points, service and capability for:
  (a) dispatch.engine.candidate_units(point, service, capability)  -- the engine's query:
      ORDER BY location <-> point (KNN on the partial GiST index unit_available_knn), LIMIT 5;
  (b) the same filter ordered by Distance("location", point)       -- ST_Distance on every row.
Wall time of the Python call (query + round trip + rows), and the KNN SQL alone on a cursor. Also prints EXPLAIN ANALYZE of (a)
at 10,000 units. SPEC: p99 <= 5 ms among 10,000 units. Empties the tables at the end.

With --road (issue 16) the shipped Astana road graph is loaded (ops/data/astana_roads.json.gz)
and, side by side with (a), the engine's road variant is timed:
  (c) candidate_units(point, service, capability, by_road=True) -- the DISPATCH_ROUTE_CANDIDATES
      nearest by air, costed by one pgRouting query and ranked by travel time.
With --road the units stand on the graph (each moved to a random node, jittered by up to
~50 m) and the call points are random nodes, so every candidate is costed by road (the
worst case: off the graph a leg costs nothing). Goal: p99 <= 20 ms extra per dispatch over (a).
"""

import argparse
import random
import re
import time

import _common  # noqa: F401  (sets up Django against dispatch_bench)
from _common import (
    ROOT,
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
from django.contrib.gis.geos import Point
from django.test.utils import CaptureQueriesContext

from dispatch import roads
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


def knn_only(point, service, capability):
    return candidate_units(point, service, capability, by_road=False)


def by_road(point, service, capability):
    return candidate_units(point, service, capability, by_road=True)


def place_on_graph():
    """Move every unit onto a graph node, jittered by up to ~50 m (the road variant's worst case)."""
    with connection.cursor() as cur:
        cur.execute("""
            WITH n AS (SELECT geom, row_number() OVER (ORDER BY id) - 1 AS k FROM road_node),
                 c AS (SELECT count(*) AS total FROM road_node)
            UPDATE units_unit u SET location = ST_Translate(n.geom, (random() - 0.5) * 0.0012,
                                                             (random() - 0.5) * 0.0008)::geography
            FROM n, c WHERE n.k = (u.id * 7919) % c.total""")


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
            knn_only(point, service, capability)
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
        knn_only(point, "medical", "als")
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
    ap.add_argument("--road", action="store_true", help="also time the road variant (loads the Astana graph)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print_machine("nearest-unit selection (bench/nearest_unit.py)")
    rows, road_rows = [], []
    if args.road:
        nodes, edges, attribution = roads.read_graph_file(ROOT / "ops" / "data" / "astana_roads.json.gz")
        roads.replace_graph(nodes, edges, source="astana_roads.json.gz", attribution=attribution)
        print(f"-- road graph: {len(nodes)} nodes, {len(edges)} edges")
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            clean_database()
            t0 = time.monotonic()
            bulk_units(n, rng, FLEET, available=0.6)
            if args.road:
                place_on_graph()
            with connection.cursor() as cur:
                cur.execute("VACUUM ANALYZE units_unit")
            print(f"-- {n} units loaded in {time.monotonic() - t0:.1f} s")
            if args.road:
                cases = [(Point(lon, lat, srid=4326), *rng.choice(NEEDS)) for _i, lon, lat in
                         rng.sample(nodes, args.points)]
            else:
                cases = [(random_point(rng), *rng.choice(NEEDS)) for _ in range(args.points)]
            timed(knn_only, cases[:30])  # warm caches and the connection
            timed(by_distance, cases[:30])
            knn = timed(knn_only, cases)
            dist = timed(by_distance, cases)
            sql = raw_sql_times(cases)
            # Same answer? The KNN order is by the spheroid-free <-> distance; compare id sets.
            same = sum({u.id for u in knn_only(p, s, c)} == {u.id for u in by_distance(p, s, c)}
                       for p, s, c in cases[:50])
            rows.append([n, percentile(knn, 50), percentile(knn, 99), percentile(sql, 99), percentile(dist, 50), percentile(dist, 99),
                         percentile(dist, 99) / percentile(knn, 99), f"{same}/50"])
            if n == 10000:
                explain(cases[0][0])
            if args.road:
                timed(by_road, cases[:30])
                road = timed(by_road, cases)
                knn_again = timed(knn_only, cases)
                extra = [r - k for r, k in zip(road, knn_again, strict=True)]
                bases = [by_road(p, s, c) for p, s, c in cases[:100]]
                on_road = sum(1 for units in bases for u in units if u.leg.basis == "road")
                changed = sum(1 for units in bases if units and units[0].id != min(units, key=lambda u: u.distance.m).id)
                road_rows.append([n, percentile(knn_again, 50), percentile(knn_again, 99), percentile(road, 50),
                                  percentile(road, 90), percentile(road, 99), percentile(extra, 50),
                                  percentile(extra, 99), f"{on_road}/{sum(len(u) for u in bases)}",
                                  f"{changed}/{sum(1 for u in bases if u)}"])
    finally:
        clean_database()
        if args.road:
            roads.clear_graph()
    print(f"-- {args.points} random points per size; times in ms, wall time of the Python call;"
          " 'SQL-only' re-executes the KNN statements on a cursor (no Python around them)")
    table(["units", "KNN p50", "KNN p99", "KNN SQL-only p99", "Distance p50", "Distance p99", "p99 ratio", "same 5 units"], rows)
    print("SPEC: p99 <= 5 ms among 10,000 units (KNN column).")
    if road_rows:
        print("-- road variant (c): candidates costed over the Astana graph; 'extra' = (c) - (a) for the same point")
        table(["units", "KNN p50", "KNN p99", "road p50", "road p90", "road p99", "extra p50", "extra p99",
               "legs by road", "first choice changed"], road_rows)
        print("Goal: extra p99 <= 20 ms per dispatch.")
    print_load_after()


if __name__ == "__main__":
    main()
