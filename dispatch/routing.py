"""Travel time over the road graph (pgRouting), with the straight line as the fallback.

`travel_times(dest, origins)` costs many origins (the units) to one destination (the call)
with one Dijkstra run from each of the destination edge's two ends over the *reversed*
graph: one one-to-many search instead of one search per unit, in the same statement as the
snapping. Points off the network are
snapped to the nearest edge within ROUTE_SNAP_MAX_M and pay the distance to it at
ROUTE_OFFROAD_SPEED_KMH; the snapped point splits its edge, so a unit half-way along a
long street pays only the part it drives.

Routing must never block a dispatch: each query runs in a savepoint under
`SET LOCAL statement_timeout` (the budget), the savepoint is always rolled back (the
queries only read; that also undoes the SET and frees the table locks at once), and any
database error, a timeout, a missing graph or a point off the graph gives the straight
line instead (`basis: "straight_line"`).
"""

import json
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction

log = logging.getLogger(__name__)

ROAD = "road"
STRAIGHT_LINE = "straight_line"
# The fallback's nominal speed over the air distance: urban driving with its detours
# (an Astana route is ~1.3x the straight line at ~35 km/h, see bench/README.md).
STRAIGHT_LINE_SPEED_KMH = 25.0
# Edges read by the search: the box around the points, widened by MARGIN_M on each side
# (or by SPREAD_SHARE of the box's diagonal, if larger). An origin the box cuts off (its
# detour to a bridge leaves the box) is searched again in a box RETRY_MARGIN times wider
# (or by the whole diagonal: two points across the city), unless it cannot win: a route
# out of the box and back is at least 2 x MARGIN_M long, so at FASTEST_KMH it takes longer
# than the best route found inside. The search's cost grows with the edges it reads
# (bench/README.md, road variant: the box against the whole graph).
MARGIN_M = 1000.0
SPREAD_SHARE = 0.5
RETRY_MARGIN = 4
FASTEST_KMH = 130.0
EARTH_RADIUS_M = 6_371_008.8


@dataclass
class Leg:
    eta_s: float
    route_m: float
    basis: str
    geometry: list | None = None  # [[lon, lat], ...] when asked for

    def as_dict(self):
        return {"eta_s": round(self.eta_s, 1), "route_m": round(self.route_m, 1), "basis": self.basis}


def air_m(a, b):
    """Great-circle metres between two (lon, lat)."""
    p1, p2 = math.radians(a[1]), math.radians(b[1])
    dp, dl = p2 - p1, math.radians(b[0] - a[0])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def straight_leg(origin, dest, with_geometry=False):
    metres = air_m(origin, dest)
    return Leg(metres / (STRAIGHT_LINE_SPEED_KMH / 3.6), metres, STRAIGHT_LINE,
               [list(origin), list(dest)] if with_geometry else None)


def _xy(point):
    """(lon, lat) of a GEOS point or a pair."""
    return (point.x, point.y) if hasattr(point, "x") else (float(point[0]), float(point[1]))


def travel_times(dest, origins, budget_ms=None):
    """[Leg] from each origin to `dest` (GEOS points or (lon, lat)), in the same order."""
    dest = _xy(dest)
    origins = [_xy(o) for o in origins]
    if not origins:
        return []
    road = _road_costs(dest, origins, budget_ms or settings.DISPATCH_ROUTE_BUDGET_MS, with_geometry=False)
    return [road.get(i) or straight_leg(o, dest) for i, o in enumerate(origins)]


def route(origin, dest, budget_ms=None):
    """One Leg from origin to dest with its geometry ([[lon, lat], ...])."""
    origin, dest = _xy(origin), _xy(dest)
    road = _road_costs(dest, [origin], budget_ms or settings.DISPATCH_ROUTE_BUDGET_MS, with_geometry=True)
    return road.get(0) or straight_leg(origin, dest, with_geometry=True)


def _road_costs(dest, origins, budget_ms, with_geometry):
    """{origin index: Leg} for the origins reachable by road; {} on any failure."""
    # atomic(savepoint=False) only opens a transaction when the caller has none; a failure
    # is caught inside it, so the caller's transaction is never marked for rollback.
    with transaction.atomic(savepoint=False), connection.cursor() as cur:
        try:
            return _costs(_reader(cur, budget_ms), dest, origins, with_geometry)
        except DatabaseError as exc:
            # A timeout (budget spent, or the swap of a reload held the tables) or no graph.
            log.warning("routing failed, ranking by air: %s", str(exc).splitlines()[0] if str(exc) else exc)
            return {}


_UNDO = "ROLLBACK TO SAVEPOINT routing; RELEASE SAVEPOINT routing"


def _reader(cur, budget_ms):
    """read(sql, params) -> rows: one statement in a savepoint under the budget, rolled back.

    The savepoint is always rolled back (the statements only read): that ends the SET LOCAL
    and frees the locks on the graph tables at once (a reload's swap is not held up by the
    caller's transaction). Savepoint, budget, statement and rollback go as one message, one
    round trip (on a busy machine each round trip costs a context switch to the backend);
    PostgreSQL applies the timeout to each statement of a message. This needs Django's
    default client-side parameter binding (a server-side one refuses several statements:
    every leg would then go by air, which the tests would show).
    """
    head = f"SAVEPOINT routing; SET LOCAL statement_timeout = {int(budget_ms)}; "

    def read(sql, params):
        try:
            cur.execute(head + sql + "; " + _UNDO, params)
        except DatabaseError:
            cur.execute(_UNDO)  # the message stopped at the error, the transaction is aborted
            raise
        cur.nextset()  # past SAVEPOINT
        cur.nextset()  # past SET
        return cur.fetchall()

    return read


# Snapping and the search in one statement (one round trip): each point's nearest edge
# (the 3 nearest boxes, then the exact distance), then one Dijkstra per start (the
# destination edge's ends) to every origin edge's ends over the *reversed* graph: an edge
# source->target (cost, reverse_cost) becomes target->source. Rows with i >= 0 are snaps
# (i = the point's index), rows with i = -1 are (start, end, seconds, metres). The search
# is skipped (a one-time filter) when the destination or every origin is off the graph.
# Lengths by a subquery per path row: a join would hash the whole edge table (the planner
# expects 1,000 rows from the function; a path has tens).
_COSTS_SQL = """
    WITH q AS (
        SELECT t.i, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) AS g
        FROM unnest(%(i)s::int[], %(lon)s::float8[], %(lat)s::float8[]) AS t(i, lon, lat)
    ), snap AS MATERIALIZED (
        SELECT DISTINCT ON (q.i) q.i, s.id, s.source, s.target, s.cost_s, s.reverse_cost_s, s.length_m, s.f, s.off_m
        FROM q CROSS JOIN LATERAL (
            SELECT e.id, e.source, e.target, e.cost_s, e.reverse_cost_s, e.length_m,
                   ST_LineLocatePoint(e.geom, q.g) AS f,
                   ST_DistanceSphere(ST_ClosestPoint(e.geom, q.g), q.g) AS off_m
            FROM road_edge e
            ORDER BY e.geom <-> q.g
            LIMIT 3
        ) s
        ORDER BY q.i, s.off_m
    ), ok AS MATERIALIZED (
        SELECT * FROM snap WHERE off_m <= %(snap_max)s
    )
    SELECT i, id, source, target, cost_s, reverse_cost_s, length_m, f, off_m FROM ok
    UNION ALL
    SELECT -1, d.start_vid, d.end_vid, NULL, sum(d.cost), NULL,
           sum((SELECT e.length_m FROM road_edge e WHERE e.id = d.edge)), NULL, NULL
    FROM pgr_dijkstra(
        %(edges)s,
        ARRAY(SELECT source FROM ok WHERE i = 0 AND cost_s >= 0
              UNION SELECT target FROM ok WHERE i = 0 AND reverse_cost_s >= 0),
        ARRAY(SELECT target FROM ok WHERE i > 0 AND cost_s >= 0
              UNION SELECT source FROM ok WHERE i > 0 AND reverse_cost_s >= 0),
        true) d
    WHERE EXISTS (SELECT FROM ok WHERE i = 0) AND EXISTS (SELECT FROM ok WHERE i > 0)
    GROUP BY d.start_vid, d.end_vid
"""

_EDGES_SQL = (
    "SELECT id, target AS source, source AS target, cost_s AS cost, reverse_cost_s AS reverse_cost "
    "FROM road_edge WHERE geom && ST_MakeEnvelope({:.7f}, {:.7f}, {:.7f}, {:.7f}, 4326)"
)
# The wider second search for the origins the first box cut off.
_DIJKSTRA_SQL = """
    SELECT d.start_vid, d.end_vid, sum(d.cost), sum((SELECT e.length_m FROM road_edge e WHERE e.id = d.edge))
    FROM pgr_dijkstra(%s, %s::bigint[], %s::bigint[], true) d
    GROUP BY d.start_vid, d.end_vid
"""


@dataclass
class _Snap:
    edge: int
    source: int
    target: int
    cost: float
    reverse_cost: float
    length: float
    f: float
    off_m: float


def _costs(read, dest, origins, with_geometry):
    points = [dest, *origins]
    rows = read(_COSTS_SQL, {"i": list(range(len(points))), "lon": [p[0] for p in points],
                             "lat": [p[1] for p in points], "snap_max": settings.ROUTE_SNAP_MAX_M,
                             "edges": _edges_sql(points, MARGIN_M)})
    snaps, between = {}, {}  # between: (destination-side node m, origin-side node n) -> (seconds, metres) n ~> m
    for row in rows:
        if row[0] >= 0:
            snaps[row[0]] = _Snap(*row[1:])
        else:
            between[(row[1], row[2])] = (row[4], row[6] or 0.0)
    if 0 not in snaps:
        return {}  # the destination is off the graph (or there is no graph)
    d = snaps[0]
    offroad = settings.ROUTE_OFFROAD_SPEED_KMH / 3.6
    # Arriving at the destination's point along its edge: from `source` forward (if allowed),
    # from `target` backward. {node: (seconds, metres)}
    arrive = {}
    if d.cost >= 0:
        arrive[d.source] = (d.f * d.cost, d.f * d.length)
    if d.reverse_cost >= 0:
        arrive[d.target] = _better(arrive.get(d.target), ((1 - d.f) * d.reverse_cost, (1 - d.f) * d.length))
    # Leaving each origin's point along its edge: to `target` forward, to `source` backward.
    depart = {}
    for i, o in snaps.items():
        if i == 0:
            continue
        ways = {}
        if o.cost >= 0:
            ways[o.target] = ((1 - o.f) * o.cost, (1 - o.f) * o.length)
        if o.reverse_cost >= 0:
            ways[o.source] = _better(ways.get(o.source), (o.f * o.reverse_cost, o.f * o.length))
        depart[i] = ways
    starts = sorted(arrive)
    ends = sorted({n for ways in depart.values() for n in ways})
    in_box = set(between)
    if starts and ends:
        unreached = [i for i, ways in depart.items()
                     if not any(n in arrive or (m, n) in between for n in ways for m in starts)]
        cut_off = sorted({n for i in unreached for n in depart[i]})
        best_inside = min((ways[n][0] + hop[0] + arrive[m][0] for (m, n), hop in between.items()
                           for ways in depart.values() if n in ways), default=math.inf)
        # Searched again if a cut-off origin could win by road, or would win by its
        # straight-line fallback (a unit just across the river, its bridge out of the box).
        by_air_first = any(straight_leg(points[i], points[0]).eta_s < best_inside for i in unreached)
        if cut_off and (best_inside > 2 * MARGIN_M / (FASTEST_KMH / 3.6) or by_air_first):
            wide = _edges_sql(points, MARGIN_M * RETRY_MARGIN, spread=1.0)
            for m, n, secs, metres in read(_DIJKSTRA_SQL, [wide, starts, cut_off]):
                between[(m, n)] = (secs, metres or 0.0)
    best = {}
    for i, ways in depart.items():
        o = snaps[i]
        options = []
        for n, (s1, l1) in ways.items():
            for m, (s2, l2) in arrive.items():
                hop = (0.0, 0.0) if n == m else between.get((m, n))
                if hop is not None:
                    options.append((s1 + hop[0] + s2, l1 + hop[1] + l2, n, m))
        if o.edge == d.edge:  # on the same stretch: straight along it, if its direction allows
            if o.f <= d.f and d.cost >= 0:
                options.append(((d.f - o.f) * d.cost, (d.f - o.f) * d.length, None, None))
            elif o.f > d.f and d.reverse_cost >= 0:
                options.append(((o.f - d.f) * d.reverse_cost, (o.f - d.f) * d.length, None, None))
        if not options:
            continue  # not reachable by road (another component, a one-way trap): air instead
        secs, metres, n, m = min(options, key=lambda x: x[0])
        off_m = o.off_m + d.off_m
        leg = Leg(secs + off_m / offroad, metres + off_m, ROAD)
        if with_geometry:
            leg.geometry = _geometry(read, points, i, o, d, n, m, (m, n) in in_box)
        best[i - 1] = leg
    return best


def _better(current, candidate):
    return candidate if current is None or candidate[0] < current[0] else current


def _edges_sql(points, margin, spread=SPREAD_SHARE):
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    lat0 = math.radians(sum(lats) / len(lats))
    # The margin, or half the points' spread if larger: far-apart points (a route across
    # the city) need room for the detour to a bridge. The whole spread (as before) read
    # most of the city for scattered candidates and made the tail of the dispatch cost.
    margin = max(margin, spread * air_m((min(lons), min(lats)), (max(lons), max(lats))))
    dy = margin / 111_320.0
    dx = margin / (111_320.0 * max(0.1, math.cos(lat0)))
    return _EDGES_SQL.format(min(lons) - dx, min(lats) - dy, max(lons) + dx, max(lats) + dy)


def _geometry(read, points, i, o, d, n, m, in_box):
    """[[lon, lat], ...] of the chosen route from origin i to the destination."""
    coords = [list(points[i])]

    def part(edge, a, b):
        ((geojson,),) = read("SELECT ST_AsGeoJSON(ST_LineSubstring(geom, %s, %s)) FROM road_edge WHERE id = %s",
                             [min(a, b), max(a, b), edge])
        shape = json.loads(geojson)
        if shape["type"] == "Point":  # an empty stretch: the point is the edge's end
            return [shape["coordinates"]]
        line = shape["coordinates"]
        return line if a <= b else line[::-1]

    if n is None:  # along the shared edge
        coords += part(d.edge, o.f, d.f)
    else:
        coords += part(o.edge, o.f, 1.0 if n == o.target else 0.0)
        if n != m:
            rows = read(
                "SELECT d.node, e.source, ST_AsGeoJSON(e.geom) FROM pgr_dijkstra(%s, %s::bigint, %s::bigint, true) d "
                "JOIN road_edge e ON e.id = d.edge ORDER BY d.path_seq DESC",
                [_edges_sql(points, MARGIN_M) if in_box else _edges_sql(points, MARGIN_M * RETRY_MARGIN, spread=1.0), m, n],
            )
            # Rows run m -> n on the reversed graph; read backwards they run n -> m on the
            # road: each row's edge arrives at the row's node, leaving the previous row's
            # node (n for the first).
            for k, (_node, source, geojson) in enumerate(rows):
                line = json.loads(geojson)["coordinates"]
                leaving = rows[k - 1][0] if k else n
                coords += line if source == leaving else line[::-1]
        coords += part(d.edge, 0.0 if m == d.source else 1.0, d.f)
    coords.append(list(points[0]))
    out = []
    for c in coords:
        if not out or out[-1] != c:
            out.append(c)
    return out
