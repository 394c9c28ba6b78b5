"""The basemap the app serves itself (issue 21): Astana's streets as small vector tiles, so the
consoles' maps show streets on a closed network where no tile server answers.

Drawn from the data the project ships: the road graph (`road_edge`, dispatch/roads.py) when
one is loaded, otherwise the streets of the gazetteer (`calls.GazetteerEntry`, kind
`street`). Neither holds water: the shipped OSM files (data/SOURCES.md) are roads only, so
the river is not drawn.

One tile is `{"extent", "source", "roads": [{"class", "name", "lines"}]}` where `lines` are
flat `[x0, y0, x1, y1, ...]` runs in tile coordinates (0..extent, y down), clipped to the
tile plus a small buffer, simplified to the tile's pixel grid and merged per street, by
PostGIS (`ST_AsMVTGeom`, the same clipping and quantising Mapbox vector tiles use). The
browser draws them on a canvas without projecting anything (static/map/basemap.js).

Tiles are fixed keys, so they cache: gzipped bytes in the shared cache (Redis) under the
data's version, which changes when a graph or gazetteer is loaded; the version is also the
ETag, and the pages ask with `?v=VERSION` so browsers keep tiles for a day.
"""

import gzip
import hashlib
import json
import logging

from django.core.cache import cache
from django.db import connection

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the tile's shape or the styling classes change: it is part of the version
EXTENT = 512  # tile units per side: half-pixel precision on a 256 px tile at device pixel ratio 2
BUFFER = 16  # tile units drawn past each edge, so line ends and casings meet between tiles
MAX_ZOOM = 20
LABEL_ZOOM = 14  # street names are sent from this zoom on
CACHE_TTL_S = 7 * 24 * 3600
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"

# Drawing classes. The shipped graph has word classes taken from the street names
# (ops/management/commands/build_demo_roads.py): avenue, highway, street, lane; a real OSM extract has
# OSM's highway classes.
MAJOR = ["motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "avenue", "highway"]
MEDIUM = ["secondary", "secondary_link", "tertiary", "tertiary_link", "street", "road", "unclassified"]
# The gazetteer's street words (calls.gazetteer.split_street_name): пр(оспект), ш(оссе) are major;
# пер(еулок), туп(ик), проезд minor; the rest medium.
GAZ_MAJOR = ["пр", "ш"]
GAZ_MINOR = ["пер", "туп", "проезд"]
CLASSES = {1: "major", 2: "medium", 3: "minor"}


def ranks_for_zoom(z):
    """The highest class rank drawn at zoom z: the avenues alone when the whole city is a few
    hundred pixels wide, every lane from zoom 13 (a quarter of the city on a screen)."""
    return 1 if z <= 11 else 2 if z == 12 else 3


def source_state():
    """What the basemap is drawn from now: {"source": "roads" | "gazetteer" | None,
    "version", "attribution"}. Two cheap reads; the version changes with every load."""
    with connection.cursor() as cur:
        cur.execute("SELECT source, attribution, loaded_at, edges FROM road_graph LIMIT 1")
        graph = cur.fetchone()
        if graph and graph[3]:
            stamp = f"roads:{graph[0]}:{graph[2].isoformat()}:{graph[3]}"
            source, attribution = "roads", graph[1] or ATTRIBUTION
        else:
            cur.execute("SELECT count(*), max(id) FROM calls_gazetteerentry WHERE kind = 'street' AND geom IS NOT NULL")
            count, top = cur.fetchone()
            stamp = f"gazetteer:{count}:{top}"
            source, attribution = ("gazetteer" if count else None), ATTRIBUTION
    version = hashlib.sha1(f"{FORMAT}:{stamp}".encode()).hexdigest()[:12]
    # The shipped files' attribution is longer than a map corner: keep its ODbL part.
    if "ODbL" in attribution:
        attribution = ATTRIBUTION
    return {"source": source, "version": version, "attribution": attribution}


# Both queries: the tile's box in Web Mercator (ST_TileEnvelope), the rows under it found
# through the GiST index in their own SRID, clipped and quantised by ST_AsMVTGeom after a
# simplification to half a tile unit (which ST_AsMVTGeom's snapping would do anyway, but
# cheaper on long lines). ST_UnaryUnion then drops the stretches drawn twice (the shipped
# graph and gazetteer join a street's ways end to end, often both ways along one road) and
# ST_LineMerge joins what is left into runs: a third of the bytes, and lines long enough to
# carry a name.
_GRAPH_SQL = """
WITH env AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS tile,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4326) AS area
), picked AS (
    SELECT CASE WHEN e.road_class = ANY(%(major)s) THEN 1 WHEN e.road_class = ANY(%(medium)s) THEN 2 ELSE 3 END AS rank,
           CASE WHEN %(named)s THEN e.name ELSE '' END AS name, e.geom
    FROM road_edge e, env WHERE e.geom && env.area
), merged AS (
    SELECT rank, name, ST_LineMerge(ST_Collect(geom)) AS geom FROM picked WHERE rank <= %(max_rank)s GROUP BY rank, name
)
SELECT m.rank, m.name,
       ST_AsGeoJSON(ST_LineMerge(ST_UnaryUnion(
           ST_AsMVTGeom(ST_Simplify(ST_Transform(m.geom, 3857), %(tolerance)s), env.tile, %(extent)s, %(buffer)s, true))))
FROM merged m, env
ORDER BY m.rank DESC, m.name
"""

_GAZETTEER_SQL = """
WITH env AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS tile,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4326)::geography AS area
), picked AS (
    SELECT DISTINCT ON (g.source, g.label)
           CASE WHEN g.street_type = ANY(%(major)s) THEN 1 WHEN g.street_type = ANY(%(minor)s) THEN 3 ELSE 2 END AS rank,
           CASE WHEN %(named)s THEN g.label ELSE '' END AS name, g.geom::geometry AS geom
    FROM calls_gazetteerentry g, env
    WHERE g.kind = 'street' AND g.geom IS NOT NULL AND g.geom && env.area
    ORDER BY g.source, g.label, g.id
), merged AS (
    SELECT rank, name, ST_Collect(geom) AS geom FROM picked WHERE rank <= %(max_rank)s GROUP BY rank, name
)
SELECT m.rank, m.name,
       ST_AsGeoJSON(ST_LineMerge(ST_UnaryUnion(
           ST_AsMVTGeom(ST_Simplify(ST_Transform(m.geom, 3857), %(tolerance)s), env.tile, %(extent)s, %(buffer)s, true))))
FROM merged m, env
ORDER BY m.rank DESC, m.name
"""


def _flat_lines(geojson):
    geometry = json.loads(geojson)
    coords = geometry["coordinates"]
    runs = [coords] if geometry["type"] == "LineString" else coords if geometry["type"] == "MultiLineString" else []
    # Whole tile units: the union's new junctions fall between grid points.
    return [[round(v) for point in run for v in point] for run in runs if len(run) >= 2]


def build_tile(z, x, y, source):
    """One tile's roads from `source` ("roads" or "gazetteer"), as a dict."""
    metres_per_unit = 40075016.68557849 / (2**z) / EXTENT
    params = {
        "z": z, "x": x, "y": y, "margin": BUFFER / EXTENT, "extent": EXTENT, "buffer": BUFFER,
        "tolerance": metres_per_unit / 2, "max_rank": ranks_for_zoom(z), "named": z >= LABEL_ZOOM,
    }  # fmt: skip
    if source == "roads":
        sql, params = _GRAPH_SQL, {**params, "major": MAJOR, "medium": MEDIUM}
    elif source == "gazetteer":
        sql, params = _GAZETTEER_SQL, {**params, "major": GAZ_MAJOR, "minor": GAZ_MINOR}
    else:
        return {"extent": EXTENT, "source": None, "roads": []}
    roads = []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for rank, name, geojson in cur.fetchall():
            lines = _flat_lines(geojson) if geojson else []
            if lines:
                roads.append({"class": CLASSES[rank], "name": name, "lines": lines})
    return {"extent": EXTENT, "source": source, "roads": roads}


def tile_gzip(z, x, y, state):
    """The tile as gzipped JSON bytes, from the shared cache when it has them. A cache that
    does not answer (Redis down) costs a rebuild, never the tile."""
    key = f"basemap:{state['version']}:{z}:{x}:{y}"
    try:
        body = cache.get(key)
    except Exception:  # the cache is an optimisation: fail open
        log.warning("basemap cache read failed", exc_info=True)
        body = None
    if body is None:
        doc = build_tile(z, x, y, state["source"])
        body = gzip.compress(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(), 6, mtime=0)
        try:
            cache.set(key, body, CACHE_TTL_S)
        except Exception:
            log.warning("basemap cache write failed", exc_info=True)
    return body
