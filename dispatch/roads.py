"""The road graph: building it from ways, and replacing it atomically in PostGIS.

The graph lives in three plain tables that pgRouting reads (no Django models: a reload
builds new tables under a fresh name and swaps them in, which a model could not follow):

- `road_edge`: one row per stretch of road between two junctions, with its length, class,
  one-way flag and travel cost in seconds each way (`reverse_cost_s` = -1: not allowed).
- `road_node`: the junctions (and dead ends).
- `road_graph`: one row saying what was loaded, when, and its attribution.

`replace_graph` loads into `road_*_<token>` tables, indexes them, and then renames them
over the live ones in one short transaction: a dispatch during a reload costs either the
old graph or the new one (or, if it waits on the swap's lock past its budget, falls back to
the straight line; see dispatch/routing.py). Readers never see a half-loaded graph.
"""

import gzip
import json
import math
import secrets
from dataclasses import dataclass, field

import osmium
from django.db import connection, transaction
from django.utils import timezone

# Speeds by OSM highway class (km/h) when a way has no usable `maxspeed`: urban driving
# of an emergency vehicle in traffic, not the legal limit.
CLASS_SPEED_KMH = {
    "motorway": 90, "motorway_link": 50,
    "trunk": 70, "trunk_link": 40,
    "primary": 55, "primary_link": 35,
    "secondary": 45, "secondary_link": 30,
    "tertiary": 40, "tertiary_link": 30,
    "unclassified": 30, "road": 30, "residential": 25,
    "living_street": 10, "service": 15,
    # The shipped Astana graph has names but no classes (ops/management/commands/build_demo_roads.py).
    "avenue": 50, "highway": 60, "street": 30, "lane": 20,
}
DEFAULT_SPEED_KMH = 25
DRIVABLE = frozenset(k for k in CLASS_SPEED_KMH if k not in {"avenue", "highway", "street", "lane"})
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def parse_maxspeed(raw):
    """km/h from an OSM maxspeed ('60', '40 mph'); None for zones ('RU:urban'), 'none', junk."""
    if not raw:
        return None
    text = raw.strip().lower()
    factor = 1.0
    if text.endswith("mph"):
        factor, text = 1.609344, text[:-3].strip()
    elif text.endswith("km/h"):
        text = text[:-4].strip()
    try:
        value = float(text) * factor
    except ValueError:
        return None
    return value if 3 <= value <= 200 else None


@dataclass
class Way:
    """A drivable way: its points as (key, lon, lat); a key is shared where ways join
    (the OSM node id; a rounded coordinate for data without ids)."""

    points: list
    road_class: str = "road"
    oneway: bool = False  # True: only in the order of `points`
    maxspeed_kmh: float | None = None
    name: str = ""
    osm_id: int | None = None
    tags: dict = field(default_factory=dict)


def osm_way(way_id, points, tags):
    """A Way from an OSM way's tags, or None when cars cannot use it."""
    highway = tags.get("highway", "")
    if highway not in DRIVABLE or tags.get("area") == "yes" or tags.get("access") == "no":
        return None
    oneway_tag = tags.get("oneway", "").lower()
    oneway = oneway_tag in {"yes", "true", "1", "-1"} or (
        oneway_tag != "no" and (tags.get("junction") in {"roundabout", "circular"} or highway == "motorway")
    )
    if oneway_tag == "-1":
        points = list(reversed(points))
    return Way(points=points, road_class=highway, oneway=oneway, maxspeed_kmh=parse_maxspeed(tags.get("maxspeed")),
               name=tags.get("name", ""), osm_id=way_id)


def read_osm(path):
    """The drivable ways of an OSM file (.osm, .osm.pbf, .osm.bz2...) read with pyosmium."""
    ways = []

    class Handler(osmium.SimpleHandler):
        def way(self, w):
            if "highway" not in w.tags:
                return
            points = [(n.ref, n.lon, n.lat) for n in w.nodes if n.location.valid()]
            if len(points) < 2:
                return
            way = osm_way(w.id, points, {t.k: t.v for t in w.tags})
            if way is not None:
                ways.append(way)

    Handler().apply_file(str(path), locations=True)
    return ways


def build_graph(ways):
    """(nodes, edges) from ways, split at every point shared by two ways and at their ends.

    nodes: [(id, lon, lat)]; edges: [dict(id, source, target, length_m, road_class, oneway,
    maxspeed_kmh, cost_s, reverse_cost_s, name, osm_id, coords)].
    """
    uses = {}
    for way in ways:
        for i, (key, _lon, _lat) in enumerate(way.points):
            # Ends always cut; an inner point cuts when another way (or this one again) uses it.
            uses[key] = uses.get(key, 0) + (2 if i in (0, len(way.points) - 1) else 1)
    node_ids, nodes, edges = {}, [], []

    def node(key, lon, lat):
        if key not in node_ids:
            node_ids[key] = len(nodes) + 1
            nodes.append((node_ids[key], lon, lat))
        return node_ids[key]

    for way in ways:
        speed = way.maxspeed_kmh or CLASS_SPEED_KMH.get(way.road_class, DEFAULT_SPEED_KMH)
        piece = [way.points[0]]
        for point in way.points[1:]:
            if point[0] == piece[-1][0]:
                continue  # a repeated point
            piece.append(point)
            if uses.get(point[0], 0) >= 2 or point is way.points[-1]:
                start, end = piece[0], piece[-1]
                length = sum(haversine_m(a[1], a[2], b[1], b[2]) for a, b in zip(piece, piece[1:], strict=False))
                if start[0] != end[0] and length > 0:
                    cost = length / (speed / 3.6)
                    edges.append({
                        "id": len(edges) + 1, "source": node(*start), "target": node(*end), "length_m": length,
                        "road_class": way.road_class, "oneway": way.oneway, "maxspeed_kmh": way.maxspeed_kmh,
                        "cost_s": cost, "reverse_cost_s": -1.0 if way.oneway else cost,
                        "name": way.name[:200], "osm_id": way.osm_id,
                        "coords": [(p[1], p[2]) for p in piece],
                    })
                piece = [point]
    return nodes, edges


def write_graph_file(path, nodes, edges, attribution, source):
    """A built graph as gzipped JSON (the shipped demo graph), reproducible byte for byte."""
    doc = {
        "attribution": attribution,
        "source": source,
        "nodes": [[i, round(lon, 6), round(lat, 6)] for i, lon, lat in nodes],
        "edges": [[e["source"], e["target"], round(e["length_m"], 1), e["road_class"], e["oneway"],
                   e["maxspeed_kmh"], e["name"], [[round(x, 6), round(y, 6)] for x, y in e["coords"]]]
                  for e in edges],
    }
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
        out.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())


def read_graph_file(path):
    """(nodes, edges, attribution) from write_graph_file's format."""
    with gzip.open(path, "rb") as f:
        doc = json.loads(f.read())
    nodes = [tuple(n) for n in doc["nodes"]]
    edges = []
    for k, (source, target, length, road_class, oneway, maxspeed, name, coords) in enumerate(doc["edges"], 1):
        speed = maxspeed or CLASS_SPEED_KMH.get(road_class, DEFAULT_SPEED_KMH)
        cost = length / (speed / 3.6)
        edges.append({"id": k, "source": source, "target": target, "length_m": length, "road_class": road_class,
                      "oneway": oneway, "maxspeed_kmh": maxspeed, "cost_s": cost,
                      "reverse_cost_s": -1.0 if oneway else cost, "name": name, "osm_id": None,
                      "coords": [tuple(c) for c in coords]})
    return nodes, edges, doc["attribution"]


_EDGE_COLUMNS = ("id", "source", "target", "length_m", "road_class", "oneway", "maxspeed_kmh", "cost_s",
                 "reverse_cost_s", "name", "osm_id", "geom")


def _create_tables(cur, suffix):
    cur.execute(f"""
        CREATE TABLE road_edge{suffix} (
            id bigint PRIMARY KEY,
            source bigint NOT NULL,
            target bigint NOT NULL,
            length_m double precision NOT NULL,
            road_class text NOT NULL,
            oneway boolean NOT NULL,
            maxspeed_kmh real,
            cost_s double precision NOT NULL,
            reverse_cost_s double precision NOT NULL,
            name text NOT NULL DEFAULT '',
            osm_id bigint,
            geom geometry(LineString, 4326) NOT NULL
        );
        CREATE TABLE road_node{suffix} (id bigint PRIMARY KEY, geom geometry(Point, 4326) NOT NULL);
        CREATE TABLE road_graph{suffix} (
            source text NOT NULL, attribution text NOT NULL, loaded_at timestamptz NOT NULL,
            nodes integer NOT NULL, edges integer NOT NULL
        );
    """)


def replace_graph(nodes, edges, source, attribution=""):
    """Load a graph into new tables and swap them in atomically. Returns (nodes, edges)."""
    token = "_" + secrets.token_hex(4)
    with connection.cursor() as cur:
        _create_tables(cur, token)
        pg = cur.cursor  # psycopg's own cursor, for COPY
        with pg.copy(f"COPY road_node{token} (id, geom) FROM STDIN") as copy:
            for node_id, lon, lat in nodes:
                copy.write_row((node_id, f"SRID=4326;POINT({lon!r} {lat!r})"))
        with pg.copy(f"COPY road_edge{token} ({', '.join(_EDGE_COLUMNS)}) FROM STDIN") as copy:
            for e in edges:
                line = ",".join(f"{lon!r} {lat!r}" for lon, lat in e["coords"])
                copy.write_row((e["id"], e["source"], e["target"], e["length_m"], e["road_class"], e["oneway"],
                                e["maxspeed_kmh"], e["cost_s"], e["reverse_cost_s"], e["name"], e["osm_id"],
                                f"SRID=4326;LINESTRING({line})"))
        cur.execute(f"INSERT INTO road_graph{token} VALUES (%s, %s, %s, %s, %s)",
                    [source, attribution, timezone.now(), len(nodes), len(edges)])
        cur.execute(f"CREATE INDEX road_edge{token}_geom ON road_edge{token} USING gist (geom)")
        cur.execute(f"CREATE INDEX road_node{token}_geom ON road_node{token} USING gist (geom)")
        cur.execute(f"ANALYZE road_edge{token}")
        cur.execute(f"ANALYZE road_node{token}")
    _swap(token)
    return len(nodes), len(edges)


def _swap(token):
    """Drop the live tables and rename the new ones over them, in one transaction. The
    ACCESS EXCLUSIVE locks are held for milliseconds; a routing query that meets them waits
    within its own statement budget and otherwise falls back to the straight line."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL lock_timeout = '10s'")
        cur.execute("DROP TABLE IF EXISTS road_edge, road_node, road_graph")
        for table in ("road_edge", "road_node", "road_graph"):
            cur.execute(f"ALTER TABLE {table}{token} RENAME TO {table}")
        for table in ("road_edge", "road_node"):
            cur.execute(f"ALTER INDEX {table}{token}_pkey RENAME TO {table}_pkey")
            cur.execute(f"ALTER INDEX {table}{token}_geom RENAME TO {table}_geom")


def clear_graph():
    """An empty graph (dispatch then ranks by air): for tests and for unloading."""
    return replace_graph([], [], source="", attribution="")


def graph_info():
    with connection.cursor() as cur:
        cur.execute("SELECT source, attribution, loaded_at, nodes, edges FROM road_graph LIMIT 1")
        row = cur.fetchone()
    return dict(zip(("source", "attribution", "loaded_at", "nodes", "edges"), row, strict=True)) if row else None
