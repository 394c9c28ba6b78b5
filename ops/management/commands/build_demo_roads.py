"""python manage.py build_demo_roads: rebuild ops/data/astana_roads.json.gz, the shipped
Astana demo road graph, from the ODbL files in data/ (see data/SOURCES.md, ops/data/ROADS.md).

The source has street names and points but no road classes, directions or way ids:
- each name's points are in path order within each OSM way, but the ways of one name are
  concatenated: a step longer than JUMP_M starts a new way (shorter jumps cannot be told
  from a long straight segment and are kept: a known error);
- streets join where they share a point, and at the crossings of astana_intersections.json:
  every stretch passing within CROSSING_M of a crossing gets that point;
- the class comes from the name (даңғылы / проспект → avenue, шоссе / тас жолы → highway,
  тұйығы / переулок → lane, else street), all two-way;
- only the largest connected component is kept (the rest cannot route to most of the city).
The output is byte-for-byte reproducible (sorted input, fixed rounding, gzip without a date).
"""

import gzip
import json
import math
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch import roads

JUMP_M = 500.0
CROSSING_M = 12.0
DATA = Path(settings.BASE_DIR) / "data"
OUT = Path(settings.BASE_DIR) / "ops" / "data" / "astana_roads.json.gz"
ATTRIBUTION = ("© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright); "
               "derived from bayan-yelemes/AstanaSafe astana_streets.json and astana_intersections.json")
CLASSES = [
    (re.compile(r"даңғыл|проспект|avenue", re.I), "avenue"),
    (re.compile(r"шоссе|тас жол|трасса", re.I), "highway"),
    (re.compile(r"тұйы|переулок|проезд|өткел", re.I), "lane"),
]


def road_class(name):
    return next((cls for pattern, cls in CLASSES if pattern.search(name)), "street")


def key(lon, lat):
    return (round(lon, 6), round(lat, 6))


def split_ways(streets):
    """[(name, [(lon, lat), ...])], cut at the jumps between concatenated ways."""
    ways = []
    for street in sorted(streets, key=lambda s: s["name"]):
        current = []
        for p in street["points"]:
            point = (p["lng"], p["lat"])
            if current and roads.haversine_m(*current[-1], *point) > JUMP_M:
                ways.append((street["name"], current))
                current = []
            if not current or current[-1] != point:
                current.append(point)
        ways.append((street["name"], current))
    return [(name, pts) for name, pts in ways if len(pts) >= 2]


def add_crossings(ways, crossings):
    """Insert each crossing point into every segment passing within CROSSING_M of it."""
    cell = 0.002
    grid = {}
    for w, (_name, pts) in enumerate(ways):
        for s in range(len(pts) - 1):
            (x1, y1), (x2, y2) = pts[s], pts[s + 1]
            for gx in range(int(min(x1, x2) // cell), int(max(x1, x2) // cell) + 1):
                for gy in range(int(min(y1, y2) // cell), int(max(y1, y2) // cell) + 1):
                    grid.setdefault((gx, gy), []).append((w, s))
    inserts = {}  # (way, segment) -> [(t, point)]
    for cx, cy in sorted(crossings):
        kx = math.cos(math.radians(cy)) * 111_320.0
        for w, s in grid.get((int(cx // cell), int(cy // cell)), ()):
            (x1, y1), (x2, y2) = ways[w][1][s], ways[w][1][s + 1]
            dx, dy = (x2 - x1) * kx, (y2 - y1) * 111_320.0
            px, py = (cx - x1) * kx, (cy - y1) * 111_320.0
            seg2 = dx * dx + dy * dy
            t = max(0.0, min(1.0, (px * dx + py * dy) / seg2)) if seg2 else 0.0
            if math.hypot(px - t * dx, py - t * dy) <= CROSSING_M:
                inserts.setdefault((w, s), set()).add((t, (cx, cy)))
    out = []
    for w, (name, pts) in enumerate(ways):
        new = [pts[0]]
        for s in range(len(pts) - 1):
            for t, point in sorted(inserts.get((w, s), ())):
                if t <= 0.0:
                    new[-1] = point  # the crossing is this vertex (to within CROSSING_M)
                elif t >= 1.0:
                    continue  # handled as the next segment's start
                else:
                    new.append(point)
            nxt = pts[s + 1]
            hits_end = [p for t, p in inserts.get((w, s), ()) if t >= 1.0]
            new.append(hits_end[0] if hits_end else nxt)
        deduped = [p for i, p in enumerate(new) if i == 0 or p != new[i - 1]]
        out.append((name, deduped))
    return out


def largest_component(nodes, edges):
    parent = {n[0]: n[0] for n in nodes}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for e in edges:
        parent[find(e["source"])] = find(e["target"])
    sizes = {}
    for n in nodes:
        root = find(n[0])
        sizes[root] = sizes.get(root, 0) + 1
    biggest = max(sizes, key=sizes.get)
    keep = {n[0] for n in nodes if find(n[0]) == biggest}
    return keep, len(sizes)


def build(streets, crossings):
    ways = split_ways(streets)
    # A way's end near another street joins it there too (the extract lost shared nodes).
    ends = {key(*pts[i]) for _name, pts in ways for i in (0, -1)}
    ways = add_crossings(ways, crossings | ends)
    way_objs = [roads.Way(points=[(key(*p), *key(*p)) for p in pts], road_class=road_class(name), name=name)
                for name, pts in ways]
    nodes, edges = roads.build_graph(way_objs)
    keep, components = largest_component(nodes, edges)
    stats = {"ways": len(ways), "nodes": len(nodes), "edges": len(edges), "components": components,
             "largest_component_nodes": len(keep), "largest_component_share": round(len(keep) / len(nodes), 4)}
    renumber = {old: new for new, old in enumerate(sorted(keep), 1)}
    nodes = [(renumber[i], lon, lat) for i, lon, lat in nodes if i in keep]
    edges = [dict(e, source=renumber[e["source"]], target=renumber[e["target"]]) for e in edges
             if e["source"] in keep]
    return nodes, edges, stats


def read_json(folder, name):
    """The file as shipped in data/ (gzip-compressed), or a plain copy of it elsewhere."""
    path = folder / name
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    with gzip.open(folder / f"{name}.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


class Command(BaseCommand):
    help = "Rebuild the shipped Astana demo road graph from data/ (ODbL)."

    def add_arguments(self, parser):
        parser.add_argument("--data", default=str(DATA))
        parser.add_argument("--out", default=str(OUT))

    def handle(self, *args, data, out, **options):
        data = Path(data)
        streets = read_json(data, "astana_streets.json")["streets"]
        crossings = {(round(p["lng"], 6), round(p["lat"], 6))
                     for points in read_json(data, "astana_intersections.json").values()
                     for p in points}
        nodes, edges, stats = build(streets, crossings)
        roads.write_graph_file(out, nodes, edges, ATTRIBUTION, "astana_streets.json + astana_intersections.json")
        stats["kept_edges"] = len(edges)
        self.stdout.write(json.dumps(stats))
