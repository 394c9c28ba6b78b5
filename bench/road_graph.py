"""Quality of the shipped Astana road graph (issue 16): detour ratios and river crossings.

    .venv/bin/python bench/road_graph.py [--pairs 1000] [--seed 112]

Loads ops/data/astana_roads.json.gz into the bench database, then for random pairs of
graph nodes inside the city box (bench/_common.py ASTANA) 1-15 km apart routes each
through dispatch.routing.route and prints the distribution of route length / straight-line
length, the share under 1.0 (impossible on a sane network), the share of pairs with no road
route, and for pairs on opposite banks of the Esil (a hand-drawn centre line through the
bridges named in the data, RIVER below: approximate) where the route crosses it.
"""

import argparse
import random
import time
from collections import Counter

import _common  # noqa: F401  (sets up Django against dispatch_bench)
from _common import ASTANA, ROOT, connection, percentile, print_machine, table

from dispatch import roads, routing

# The Esil through the city, west to east, (lon, lat): through the Serуен and Қараөткел
# bridges and the Арқар / Марал crossings. Hand-drawn, good to a few hundred metres.
RIVER = [(71.30, 51.168), (71.37, 51.170), (71.40, 51.163), (71.419, 51.1605), (71.428, 51.152),
         (71.44, 51.137), (71.447, 51.132), (71.46, 51.125), (71.50, 51.115), (71.60, 51.113)]


def north_of_river(lon, lat):
    for (x1, y1), (x2, y2) in zip(RIVER, RIVER[1:], strict=False):
        if x1 <= lon <= x2:
            return lat > y1 + (y2 - y1) * (lon - x1) / (x2 - x1)
    return None


def crossings(line):
    """Where a route ([lon, lat] points) crosses the river line: rounded (lon, lat)."""
    out = []
    for (ax, ay), (bx, by) in zip(line, line[1:], strict=False):
        for (x1, y1), (x2, y2) in zip(RIVER, RIVER[1:], strict=False):
            d = (bx - ax) * (y2 - y1) - (by - ay) * (x2 - x1)
            if d == 0:
                continue
            t = ((x1 - ax) * (y2 - y1) - (y1 - ay) * (x2 - x1)) / d
            u = ((x1 - ax) * (by - ay) - (y1 - ay) * (bx - ax)) / d
            if 0 <= t <= 1 and 0 <= u <= 1:
                out.append((round(ax + t * (bx - ax), 2), round(ay + t * (by - ay), 3)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=112)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print_machine("Astana road graph quality (bench/road_graph.py)")
    nodes, edges, attribution = roads.read_graph_file(ROOT / "ops" / "data" / "astana_roads.json.gz")
    roads.replace_graph(nodes, edges, source="astana_roads.json.gz", attribution=attribution)
    total_km = sum(e["length_m"] for e in edges) / 1000
    print(f"-- graph: {len(nodes)} nodes, {len(edges)} edges, {total_km:.0f} km of road")
    inside = [(lon, lat) for _i, lon, lat in nodes if ASTANA[0] <= lat <= ASTANA[1] and ASTANA[2] <= lon <= ASTANA[3]]
    ratios, failed, times, cross_ratio, same_ratio = [], 0, [], [], []
    bridges = Counter()
    n_cross = 0
    try:
        while len(ratios) + failed < args.pairs:
            a, b = rng.sample(inside, 2)
            air = routing.air_m(a, b)
            if not 1000 <= air <= 15000:
                continue
            t0 = time.perf_counter()
            leg = routing.route(a, b, budget_ms=2000)
            times.append((time.perf_counter() - t0) * 1000)
            if leg.basis != routing.ROAD:
                failed += 1
                continue
            ratio = leg.route_m / air
            ratios.append(ratio)
            sides = north_of_river(*a), north_of_river(*b)
            if None in sides:
                continue
            if sides[0] != sides[1]:
                n_cross += 1
                cross_ratio.append(ratio)
                where = crossings(leg.geometry)
                for c in set(where):
                    bridges[c] += 1
            else:
                same_ratio.append(ratio)
    finally:
        roads.clear_graph()
        connection.close()
    print(f"-- {len(ratios) + failed} random node pairs 1-15 km apart; {failed} without a road route "
          f"({100 * failed / (len(ratios) + failed):.1f} %)")
    qs = [5, 25, 50, 75, 95, 99]
    table(["pairs", *[f"p{q}" for q in qs], "< 1.0", "> 2.0"],
          [["all", *[percentile(ratios, q) for q in qs], sum(r < 1.0 for r in ratios), sum(r > 2.0 for r in ratios)],
           ["same bank", *[percentile(same_ratio, q) for q in qs], sum(r < 1.0 for r in same_ratio),
            sum(r > 2.0 for r in same_ratio)],
           ["across the Esil", *[percentile(cross_ratio, q) for q in qs], sum(r < 1.0 for r in cross_ratio),
            sum(r > 2.0 for r in cross_ratio)]])
    print(f"-- route length / straight line; routing wall time p50 {percentile(times, 50):.1f} ms, "
          f"p99 {percentile(times, 99):.1f} ms (route() with geometry)")
    print(f"-- {n_cross} cross-river pairs; where their routes cross the river line (lon, lat ~1 km), most used first:")
    for (lon, lat), count in bridges.most_common(12):
        print(f"   {lon:.2f}, {lat:.3f}: {count}")


if __name__ == "__main__":
    main()
