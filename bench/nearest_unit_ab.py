"""The engine's selection path, this tree against an older commit, call by call (A/B).

    .venv/bin/python bench/nearest_unit_ab.py --base 00138d0 [--sizes 1000,10000,100000] [--points 300]
                                              [--road] [--seed 112]

On a shared, busy machine two runs of nearest_unit.py minutes apart are not comparable. This
script loads `dispatch/engine.py` and `dispatch/routing.py` as they were at `--base` (from
git, beside the current ones, the old engine using the old routing) and times both
implementations on the same points, alternating which goes first, so that both see the
same load. Per size and point: (a) candidate_units(..., by_road=False), the in-app
nearest-unit selection (issue 19), and with --road (c) candidate_units(..., by_road=True)
over the Astana graph with the units on it, as in nearest_unit.py --road. Also counts the
points where the two choose a different first unit. Same database rules as the other
scripts (bench/_common.py); empties the tables at the end.
"""

import argparse
import random
import subprocess
import sys
import time
import types

import _common  # noqa: F401  (sets up Django against dispatch_bench)
from _common import ROOT, bulk_units, clean_database, connection, percentile, print_load_after, print_machine, table
from django.contrib.gis.geos import Point
from nearest_unit import FLEET, NEEDS, place_on_graph

from dispatch import engine, roads


def module_at(rev, path, name):
    """The module at `path` as it was at git revision `rev` (in the dispatch package)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True, capture_output=True,
                            text=True).stdout
    module = types.ModuleType(name)
    module.__package__ = "dispatch"
    module.__file__ = f"{rev}:{path}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def first(units):
    return units[0].id if units else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="git revision to compare against (e.g. 00138d0)")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--points", type=int, default=300)
    ap.add_argument("--seed", type=int, default=112)
    ap.add_argument("--road", action="store_true", help="also the road variant (loads the Astana graph)")
    args = ap.parse_args()
    old_routing = module_at(args.base, "dispatch/routing.py", "dispatch_base_routing")
    old_engine = module_at(args.base, "dispatch/engine.py", "dispatch_base_engine")
    old_engine.routing = old_routing  # its `from . import routing` found the current one
    rng = random.Random(args.seed)
    print_machine(f"engine selection, this tree against {args.base} (bench/nearest_unit_ab.py)")
    nodes = None
    if args.road:
        nodes, edges, attribution = roads.read_graph_file(ROOT / "ops" / "data" / "astana_roads.json.gz")
        roads.replace_graph(nodes, edges, source="astana_roads.json.gz", attribution=attribution)
    rows = []
    try:
        for n in [int(x) for x in args.sizes.split(",")]:
            clean_database()
            bulk_units(n, rng, FLEET, available=0.6)
            if args.road:
                place_on_graph()
            with connection.cursor() as cur:
                cur.execute("VACUUM ANALYZE units_unit")
            if args.road:
                cases = [(Point(lon, lat, srid=4326), *rng.choice(NEEDS)) for _i, lon, lat in
                         rng.sample(nodes, args.points)]
            else:
                cases = [(Point(rng.uniform(71.35, 71.52), rng.uniform(51.08, 51.20), srid=4326), *rng.choice(NEEDS))
                         for _ in range(args.points)]
            variants = [("knn", False)] + ([("road", True)] if args.road else [])
            times = {(impl, v): [] for impl in ("base", "new") for v, _r in variants}
            differ = dict.fromkeys([v for v, _r in variants], 0)
            impls = {"base": old_engine.candidate_units, "new": engine.candidate_units}
            for k, (point, service, capability) in enumerate(cases[:30] + cases):
                for variant, road in variants:
                    order = ("base", "new") if k % 2 else ("new", "base")
                    got = {}
                    for impl in order:
                        t0 = time.perf_counter()
                        got[impl] = impls[impl](point, service, capability, by_road=road)
                        took = (time.perf_counter() - t0) * 1000
                        if k >= 30:  # the first 30 warm the caches
                            times[(impl, variant)].append(took)
                    if k >= 30 and first(got["base"]) != first(got["new"]):
                        differ[variant] += 1
            for variant, _road in variants:
                b, m = times[("base", variant)], times[("new", variant)]
                rows.append([n, variant, percentile(b, 50), percentile(b, 99), percentile(m, 50), percentile(m, 90),
                             percentile(m, 99), f"{differ[variant]}/{len(cases)}"])
            if args.road:
                extra = {impl: [r - k for r, k in zip(times[(impl, "road")], times[(impl, "knn")], strict=True)]
                         for impl in ("base", "new")}
                rows.append([n, "road - knn", percentile(extra["base"], 50), percentile(extra["base"], 99),
                             percentile(extra["new"], 50), percentile(extra["new"], 90), percentile(extra["new"], 99),
                             ""])
    finally:
        clean_database()
        if args.road:
            roads.clear_graph()
    print(f"-- {args.points} points per size, ms per call, base and new alternating on the same point;"
          " 'knn' = candidate_units(by_road=False), 'road' = by_road=True")
    table(["units", "path", "base p50", "base p99", "new p50", "new p90", "new p99", "first unit differs"], rows)
    print_load_after()


if __name__ == "__main__":
    main()
