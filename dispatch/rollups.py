"""Statistics rollups (issue 19): the per-call metrics rows (dispatch/metrics.py) summed per
local day and per aligned block of 2, 4, … 256 days, so that statistics over any period
read a few blocks instead of every call.

What a block holds (models StatsBlock, StatsCount, StatsHistogram):
- counts per dimension value (type, priority, status, disposition, channel, service, hour
  of day, all), with the calls dispatched within the target and, per service, the calls
  a unit of it was sent to: sums, so blocks add up exactly;
- per interval and dimension value (all, hour, service), a histogram: for each non-empty
  bucket its count and its smallest and largest value. Buckets (BUCKET) are 0.02 s wide
  below 1 s and 2 % wide above (1.02**k … 1.02**(k+1) s).

A percentile from merged histograms: the value of a given rank is found in its bucket and
placed between that bucket's smallest and largest value (evenly spread), then
interpolated between ranks as percentile_cont does. It is exact when the ranks fall in
buckets holding at most two distinct values, and otherwise off by less than the bucket's
spread: at most 2 % of the value (0.02 s under 1 s). Counts, `n`, `within`, shares and
verdicts are exact.

Days are local days in settings.TIME_ZONE. A call belongs to the day it was received. Its
day is marked stale (StatsStaleDay) in the transaction that writes its metrics row, so a
call that ends days after it was received, or is measured again, sends its day, and
every block over it, back to being computed live until `rebuild()` (the beat task
`roll_up_stats`, the command `rollup_stats`) has rolled it up again. Open calls, the
partial days at a period's ends and any day not (validly) rolled up are computed live by
the same SQL, so a period's figures never depend on whether the rollups are up to date,
only how fast they come.
"""

import math
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from calls.statuses import CallStatus

from . import metrics
from .models import StatsBlock, StatsCount, StatsHistogram, StatsStaleDay

MAX_LEVEL = 8  # blocks of up to 256 days
SCHEME = "log1.02"  # the bucket scheme below; blocks of another scheme are rebuilt
EPOCH = date(1970, 1, 1)
# Days rebuilt per run of the beat task when whole days are missing (a fresh install, a
# time zone or target change): the rest waits for the next run, stale days come first.
MISSING_DAYS_PER_RUN = 62
_LOCK = 0x5354_4154  # pg_advisory_xact_lock key: one rebuild at a time

TABLES = {**metrics.TABLES, "block": StatsBlock._meta.db_table, "count": StatsCount._meta.db_table,
          "hist": StatsHistogram._meta.db_table, "stale": StatsStaleDay._meta.db_table}

BUCKET = "(CASE WHEN {v} < 1 THEN floor({v} * 50)::int ELSE 50 + floor(ln({v}) / %s)::int END)".replace(
    "%s", repr(math.log(1.02)))

# Which intervals each histogram dimension keeps (indexes into metrics.INTERVALS).
_ALL_IV = "(0, received_to_dispatch), (1, dispatch_to_acknowledgement), (2, acknowledgement_to_on_scene)," \
          " (3, received_to_on_scene)"
_HOUR = "EXTRACT(HOUR FROM received_at AT TIME ZONE %(tz)s)::int::text"

# The facts of some time ranges (`ls`/`le`, parallel arrays) from the metrics rows, plus the
# open calls received in [start, end) measured live (none when `open` is empty).
_FACTS = (
    "WITH c AS (SELECT " + metrics.CALL_COLUMNS + " FROM {call} WHERE status = ANY(%(open)s)"
    " AND received_at >= %(start)s AND received_at < %(end)s),"
    + metrics.MEASURE + """,
r AS (SELECT * FROM unnest(%(ls)s::timestamptz[], %(le)s::timestamptz[]) AS r(s, e)),
m AS (
    SELECT {m_cols} FROM {metrics} x JOIN r ON x.received_at >= r.s AND x.received_at < r.e
    UNION ALL SELECT {m_cols} FROM call_m
),
sm AS (
    SELECT {s_cols} FROM {service_metrics} x JOIN r ON x.received_at >= r.s AND x.received_at < r.e
    UNION ALL SELECT {s_cols} FROM service_m
),
hv AS (
    SELECT 'all' AS dim, '' AS key, iv, v FROM m CROSS JOIN LATERAL (VALUES {all_iv}) x(iv, v)
    UNION ALL SELECT 'hour', {hour}, iv, v FROM m
        CROSS JOIN LATERAL (VALUES (0, received_to_dispatch), (3, received_to_on_scene)) x(iv, v)
    UNION ALL SELECT 'service', service, iv, v FROM sm CROSS JOIN LATERAL (VALUES {all_iv}) x(iv, v)
),
h AS (
    SELECT dim, key, iv, {bucket} AS b, count(*)::int AS n, min(v) AS lo, max(v) AS hi
    FROM hv WHERE v IS NOT NULL GROUP BY 1, 2, 3, 4
),
k AS (
    SELECT 'all' AS dim, '' AS key, count(*)::int AS calls,
        count(*) FILTER (WHERE received_to_dispatch <= %(target)s)::int AS within, 0 AS with_unit FROM m
    UNION ALL SELECT 'hour', {hour}, count(*)::int,
        count(*) FILTER (WHERE received_to_dispatch <= %(target)s)::int, 0 FROM m GROUP BY 2
    UNION ALL SELECT 'service', service, count(*)::int,
        count(*) FILTER (WHERE received_to_dispatch <= %(target)s)::int, count(*) FILTER (WHERE sent)::int
        FROM sm GROUP BY 2
    UNION ALL SELECT 'incident_type', incident_type_id::text, count(*)::int, 0, 0 FROM m GROUP BY 2
    UNION ALL SELECT 'priority', priority::text, count(*)::int, 0, 0 FROM m GROUP BY 2
    UNION ALL SELECT 'status', status, count(*)::int, 0, 0 FROM m GROUP BY 2
    UNION ALL SELECT 'disposition', coalesce(nullif(disposition, ''), 'none'), count(*)::int, 0, 0 FROM m GROUP BY 2
    UNION ALL SELECT 'channel', channel, count(*)::int, 0, 0 FROM m GROUP BY 2
)"""
).format(**metrics.TABLES, m_cols=metrics.METRICS_COLUMNS, s_cols=metrics.SERVICE_METRICS_COLUMNS,
         all_iv=_ALL_IV, hour=_HOUR, bucket=BUCKET.format(v="v"))

_UNNEST = """SELECT dimension AS dim, key, interval AS iv, u.b, u.n, u.lo, u.hi
    FROM {hist} hh, unnest(hh.buckets, hh.counts, hh.lows, hh.highs) AS u(b, n, lo, hi)
    WHERE hh.block_id = ANY(%(blocks)s)""".format(**TABLES)

# A period: the live facts and the rolled-up blocks, merged in PostgreSQL, in one statement
# (the live part is measured once): histogram rows ('h', dim, key, interval, bucket, n,
# lo, hi) and count rows ('k', dim, key, calls, within, with_unit).
PERIOD_SQL = _FACTS + """,
hs AS (
    SELECT dim, key, iv, b, sum(n)::int AS n, min(lo) AS lo, max(hi) AS hi FROM (
        SELECT * FROM h UNION ALL """ + _UNNEST + """
    ) x GROUP BY 1, 2, 3, 4
),
ks AS (
    SELECT dim, key, sum(calls)::int AS calls, sum(within)::int AS within, sum(with_unit)::int AS with_unit FROM (
        SELECT * FROM k UNION ALL SELECT dimension, key, calls, within, with_unit FROM {count}
        WHERE block_id = ANY(%(blocks)s)
    ) x GROUP BY 1, 2
)
SELECT 'h', dim, key, iv, b, n, lo, hi FROM hs
UNION ALL SELECT 'k', dim, key, calls, within, with_unit, NULL, NULL FROM ks""".format(**TABLES)

# Building a day from its metrics rows.
_DAY_HIST = _FACTS + """
INSERT INTO {hist} (block_id, dimension, key, interval, buckets, counts, lows, highs)
SELECT %(block)s, dim, key, iv, array_agg(b ORDER BY b), array_agg(n ORDER BY b), array_agg(lo ORDER BY b),
    array_agg(hi ORDER BY b)
FROM h GROUP BY dim, key, iv""".format(**TABLES)
_DAY_COUNT = _FACTS + """
INSERT INTO {count} (block_id, dimension, key, calls, within, with_unit)
SELECT %(block)s, dim, key, calls, within, with_unit FROM k""".format(**TABLES)
# Building a block from its two halves.
_MERGE_HIST = """
INSERT INTO {hist} (block_id, dimension, key, interval, buckets, counts, lows, highs)
SELECT %(block)s, dim, key, iv, array_agg(b ORDER BY b), array_agg(n ORDER BY b), array_agg(lo ORDER BY b),
    array_agg(hi ORDER BY b)
FROM (SELECT dim, key, iv, b, sum(n)::int AS n, min(lo) AS lo, max(hi) AS hi FROM (""".format(**TABLES) \
    + _UNNEST + """) u GROUP BY 1, 2, 3, 4) x
GROUP BY dim, key, iv"""
_MERGE_COUNT = """
INSERT INTO {count} (block_id, dimension, key, calls, within, with_unit)
SELECT %(block)s, dimension, key, sum(calls), sum(within), sum(with_unit) FROM {count}
WHERE block_id = ANY(%(blocks)s) GROUP BY dimension, key""".format(**TABLES)


def day_number(day):
    return (day - EPOCH).days


def day_of(number):
    return EPOCH + timedelta(days=number)


def midnight(day, tz):
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))


def block_of(number, level):
    return number - number % (1 << level)


def _target():
    return float(settings.STATS_DISPATCH_TARGET_S)


# --- reading ---------------------------------------------------------------------------------------


def plan(cur, start, end, tz, target):
    """Split [start, end) into valid rolled-up blocks and live time ranges.

    Returns (block ids, [(range start, range end)]). Only whole local days can come from
    blocks; a block is valid when built for this time zone, target and scheme and none of
    its days is stale."""
    first = timezone.localtime(start, ZoneInfo(tz)).date()
    if midnight(first, tz) < start:
        first += timedelta(days=1)
    last = timezone.localtime(end, ZoneInfo(tz)).date()  # days before `last` end by `end`
    a, b = day_number(first), day_number(last)
    if a >= b or tz != settings.TIME_ZONE:
        return [], [(start, end)]
    cur.execute(
        f"SELECT level, start, id FROM {TABLES['block']} WHERE start >= %s AND start < %s AND time_zone = %s"
        f" AND target_s = %s AND scheme = %s",
        [first, last, tz, target, SCHEME],
    )
    built = {(level, day_number(day)): pk for level, day, pk in cur.fetchall()}
    cur.execute(f"SELECT DISTINCT day FROM {TABLES['stale']} WHERE day >= %s AND day < %s", [first, last])
    stale = sorted(day_number(d) for (d,) in cur.fetchall())

    def valid(level, n):
        size = 1 << level
        return (level, n) in built and n + size <= b and not any(n <= s < n + size for s in stale)

    blocks, live_days = [], []
    n = a
    while n < b:
        level = MAX_LEVEL
        while level and (n % (1 << level) or n + (1 << level) > b or not valid(level, n)):
            level -= 1
        if valid(level, n):
            blocks.append(built[(level, n)])
            n += 1 << level
        else:
            live_days.append(n)
            n += 1
    ranges = [(start, midnight(first, tz))] if start < midnight(first, tz) else []
    for n in live_days:
        s, e = midnight(day_of(n), tz), midnight(day_of(n + 1), tz)
        if ranges and ranges[-1][1] == s:
            ranges[-1] = (ranges[-1][0], e)
        else:
            ranges.append((s, e))
    if midnight(last, tz) < end:
        s = midnight(last, tz)
        if ranges and ranges[-1][1] == s:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((s, end))
    return blocks, ranges


def period_facts(cur, *, start, end, tz, target):
    """The merged histograms and counts of [start, end): live facts plus rolled-up blocks.

    Returns ({(dim, key, interval index): [(n, lo, hi), …] in bucket order},
    {(dim, key): (calls, within, with_unit)}). Run inside one snapshot."""
    blocks, ranges = plan(cur, start, end, tz, target)
    params = {"start": start, "end": end, "tz": tz, "target": target, "open": list(CallStatus.OPEN),
              "ls": [r[0] for r in ranges], "le": [r[1] for r in ranges], "blocks": blocks}
    cur.execute(PERIOD_SQL, params)
    hist, counts = {}, {}
    for kind, dim, key, x1, x2, x3, lo, hi in cur.fetchall():
        if kind == "h":
            hist.setdefault((dim, key, x1), []).append((x2, x3, lo, hi))
        else:
            counts[(dim, key)] = (x1, x2, x3)
    for key, buckets in hist.items():
        buckets.sort()
        hist[key] = [(n, lo, hi) for _b, n, lo, hi in buckets]
    return hist, counts


def _value_at(buckets, rank):
    before = 0
    for n, lo, hi in buckets:
        if rank < before + n:
            i = rank - before
            if i == 0 or lo == hi:
                return lo
            if i == n - 1:
                return hi
            return lo + (hi - lo) * i / (n - 1)
        before += n
    raise IndexError(rank)


def percentiles(buckets, ps):
    """percentile_cont's answer for each p over the values of merged buckets (see above)."""
    total = sum(n for n, _lo, _hi in buckets)
    if not total:
        return total, [None] * len(ps)
    out = []
    for p in ps:
        pos = p * (total - 1)
        lo_rank, hi_rank = math.floor(pos), math.ceil(pos)
        first = _value_at(buckets, lo_rank)
        second = first if hi_rank == lo_rank else _value_at(buckets, hi_rank)
        out.append(first + (second - first) * (pos - lo_rank))
    return total, out


# --- building --------------------------------------------------------------------------------------


def _header(cur, level, n, tz, target, now):
    cur.execute(
        f"INSERT INTO {TABLES['block']} (level, start, time_zone, target_s, scheme, built_at)"
        f" VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (level, start) DO UPDATE SET time_zone = EXCLUDED.time_zone,"
        f" target_s = EXCLUDED.target_s, scheme = EXCLUDED.scheme, built_at = EXCLUDED.built_at RETURNING id",
        [level, day_of(n), tz, target, SCHEME, now],
    )
    (pk,) = cur.fetchone()
    cur.execute(f"DELETE FROM {TABLES['hist']} WHERE block_id = %s", [pk])
    cur.execute(f"DELETE FROM {TABLES['count']} WHERE block_id = %s", [pk])
    return pk


def _delete_blocks(cur, where, params):
    cur.execute(f"SELECT id FROM {TABLES['block']} WHERE {where}", params)
    ids = [pk for (pk,) in cur.fetchall()]
    if ids:
        cur.execute(f"DELETE FROM {TABLES['hist']} WHERE block_id = ANY(%s)", [ids])
        cur.execute(f"DELETE FROM {TABLES['count']} WHERE block_id = ANY(%s)", [ids])
        cur.execute(f"DELETE FROM {TABLES['block']} WHERE id = ANY(%s)", [ids])


def rebuild(days=(), *, missing=MISSING_DAYS_PER_RUN, using=DEFAULT_DB_ALIAS):
    """Roll up `days` (dates), the stale days, and up to `missing` days that have no valid
    block yet (from the first measured call to today, latest first), then every block
    above them. Idempotent: a block is always rebuilt from scratch.

    Returns (days rolled up, of which missing ones)."""
    tz, target, now = settings.TIME_ZONE, _target(), timezone.now()
    with transaction.atomic(using=using), connections[using].cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        cur.execute("SET LOCAL jit = off")
        # Blocks of another time zone, target or scheme describe nothing now.
        _delete_blocks(cur, "time_zone <> %s OR target_s <> %s OR scheme <> %s", [tz, target, SCHEME])
        cur.execute(f"SELECT id, day FROM {TABLES['stale']}")
        stale = cur.fetchall()
        todo = {day_number(d) for d in days} | {day_number(d) for _pk, d in stale}
        absent = []
        if missing:
            cur.execute(
                f"SELECT d::date FROM generate_series((SELECT (min(received_at) AT TIME ZONE %(tz)s)::date"
                f" FROM {TABLES['metrics']}), (now() AT TIME ZONE %(tz)s)::date, interval '1 day') d"
                f" WHERE NOT EXISTS (SELECT 1 FROM {TABLES['block']} b WHERE b.level = 0 AND b.start = d::date)"
                f" ORDER BY 1 DESC LIMIT %(n)s",
                {"tz": tz, "n": missing},
            )
            absent = [day_number(d) for (d,) in cur.fetchall()]
            todo |= set(absent)
        for n in sorted(todo):
            pk = _header(cur, 0, n, tz, target, now)
            params = {"block": pk, "start": now, "end": now, "tz": tz, "target": target, "open": [],
                      "ls": [midnight(day_of(n), tz)], "le": [midnight(day_of(n + 1), tz)]}
            cur.execute(_DAY_HIST, params)
            cur.execute(_DAY_COUNT, params)
        parents = todo
        for level in range(1, MAX_LEVEL + 1):
            parents = {block_of(n, level) for n in parents}
            half = 1 << (level - 1)
            for n in sorted(parents):
                cur.execute(f"SELECT id FROM {TABLES['block']} WHERE level = %s AND start = ANY(%s)",
                            [level - 1, [day_of(n), day_of(n + half)]])
                children = [pk for (pk,) in cur.fetchall()]
                if len(children) < 2:  # a half not built (yet): the block cannot be either
                    _delete_blocks(cur, "level = %s AND start = %s", [level, day_of(n)])
                    continue
                pk = _header(cur, level, n, tz, target, now)
                cur.execute(_MERGE_HIST, {"block": pk, "blocks": children})
                cur.execute(_MERGE_COUNT, {"block": pk, "blocks": children})
        # Exactly the marks read above: a call that ended meanwhile keeps its day stale.
        cur.execute(f"DELETE FROM {TABLES['stale']} WHERE id = ANY(%s)", [[pk for pk, _d in stale]])
    return len(todo), len(absent)


def rebuild_all(using=DEFAULT_DB_ALIAS, batch_days=31, progress=None):
    """Roll up every day from the first measured call to today that has no valid block,
    a month per transaction. Returns the number of days."""
    total = 0
    while True:
        n, absent = rebuild(missing=batch_days, using=using)
        total += n
        if progress:
            progress(total)
        if absent < batch_days:
            return total
