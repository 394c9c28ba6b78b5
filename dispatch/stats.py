"""Response-time statistics for supervisors (issue 8): `call_statistics` over the rollups
of dispatch/rollups.py (issue 19: a period costs its number of days, not its calls), and
`direct_call_statistics`, the same figures aggregated in PostgreSQL over every per-call
metrics row (dispatch/metrics.py) with exact percentiles: the reference the rollups are
tested against (tests/supervisor/test_rollups.py)."""

from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from calls.statuses import CallStatus

from . import metrics, rollups
from .metrics import INTERVALS

STATS_DEFAULT_DAYS = 7
STATS_MAX_DAYS = 366
PERCENTILES = (0.5, 0.9, 0.95)

# The period's facts: the metrics rows of the calls that ended (dispatch/metrics.py) and,
# measured now by the same SQL, the calls still open. `m` has one row per call, `sm` one per
# call and service concerned.
_PERIOD = (
    "WITH c AS (SELECT " + metrics.CALL_COLUMNS + " FROM {call} WHERE status = ANY(%(open)s)"
    " AND received_at >= %(start)s AND received_at < %(end)s),"
    + metrics.MEASURE + """,
m AS (
    SELECT {m_cols} FROM {metrics} WHERE received_at >= %(start)s AND received_at < %(end)s
    UNION ALL SELECT {m_cols} FROM call_m
),
sm AS (
    SELECT {s_cols} FROM {service_metrics} WHERE received_at >= %(start)s AND received_at < %(end)s
    UNION ALL SELECT {s_cols} FROM service_m
)
"""
).format(**metrics.TABLES, m_cols=metrics.METRICS_COLUMNS, s_cols=metrics.SERVICE_METRICS_COLUMNS)


def _percentile_columns(names):
    # percentile_cont ignores NULLs, so each interval is over the calls that reached both ends.
    cols = []
    for name in names:
        cols.append(f"percentile_cont(%(percentiles)s::float8[]) WITHIN GROUP (ORDER BY {name})")
        cols.append(f"count({name})")
    return ", ".join(cols)


def _intervals(row, names):
    """Turn (array, n, array, n, …) columns into {"name": {"n", "p50", "p90", "p95"}}."""
    out = {}
    for i, name in enumerate(names):
        values, n = row[2 * i], row[2 * i + 1]
        out[name] = {"n": n, **{_pkey(p): (round(v, 3) if v is not None else None)
                                for p, v in zip(PERCENTILES, values or [None] * len(PERCENTILES))}}
    return out


def _pkey(p):
    return f"p{round(p * 100)}"


def _target(within, n, target_s, target_share):
    share = round(within / n, 4) if n else None
    return {"interval": "received_to_dispatch", "target_s": target_s, "target_share": target_share,
            "calls": n, "within": within, "share": share, "met": None if share is None else share >= target_share}


def _answer(start, end, tz, calls, counts, overall, target, by_service, by_hour):
    """The /stats/ answer, the same shape from the direct and the rolled-up computation."""
    counts["service"] = {s["service"]: s["calls"] for s in by_service}
    for key in counts:
        counts[key] = dict(sorted(counts[key].items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "period": {"received_after": start, "received_before": end, "time_zone": tz},
        "calls": calls,
        "counts": counts,
        "intervals": overall,
        "target": target,
        "by_service": by_service,
        "by_hour": by_hour,
    }


def _defaults(target_s, target_share, tz):
    target_s = float(getattr(settings, "STATS_DISPATCH_TARGET_S", 60) if target_s is None else target_s)
    target_share = float(getattr(settings, "STATS_DISPATCH_TARGET_SHARE", 0.9) if target_share is None else target_share)
    return target_s, target_share, tz or settings.TIME_ZONE


@contextmanager
def _snapshot(using):
    """A cursor whose statements share one snapshot (when this is the outermost
    transaction): a call that ends meanwhile is counted once, open (measured live) or
    ended (its metrics row, its day's rollup), in every figure."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using), connection.cursor() as cur:
        if outermost:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # Row estimates through the CTEs are poor, so PostgreSQL would JIT-compile these
        # queries: 0.75 s of compiling for 0.1 s of work over a week of calls. A year of
        # calls sorts ~1,000,000 values per percentile: in memory, not in temporary files.
        cur.execute("SET LOCAL jit = off")
        cur.execute("SET LOCAL work_mem = '64MB'")
        yield cur


def direct_call_statistics(*, start, end, target_s=None, target_share=None, tz=None, using=DEFAULT_DB_ALIAS):
    """Counts and response-time percentiles of the calls received in [start, end), from
    every metrics row of the period (exact percentiles; what call_statistics approximates).

    All aggregation runs in PostgreSQL (percentile_cont … WITHIN GROUP, GROUPING SETS) over
    the narrow per-call metrics rows (dispatch/metrics.py): a year is ~1,000,000 calls and
    none of them is loaded into Python, nor are their assignments read again.
    The target is NFPA 1225's processing time: `target_share` of dispatched calls within
    `target_s` seconds from received to first dispatch (defaults 60 s, 90 %).
    """
    target_s, target_share, tz = _defaults(target_s, target_share, tz)
    params = {"start": start, "end": end, "tz": tz, "target": target_s, "percentiles": list(PERCENTILES),
              "open": list(CallStatus.OPEN)}
    with _snapshot(using) as cur:
        # 1. The whole period.
        cur.execute(
            _PERIOD + f" SELECT {_percentile_columns(INTERVALS)}, count(*),"
                      " count(*) FILTER (WHERE received_to_dispatch <= %(target)s) FROM m",
            params,
        )
        row = cur.fetchone()
        calls, within = row[-2], row[-1]
        overall = _intervals(row, INTERVALS)
        dispatched = overall["received_to_dispatch"]["n"]

        # 2. Per hour of the day (local time), for the dispatch interval and the target.
        cur.execute(
            _PERIOD + " SELECT EXTRACT(HOUR FROM received_at AT TIME ZONE %(tz)s)::int AS hour,"
                      f" {_percentile_columns(('received_to_dispatch', 'received_to_on_scene'))}, count(*),"
                      " count(*) FILTER (WHERE received_to_dispatch <= %(target)s) FROM m GROUP BY 1 ORDER BY 1",
            params,
        )
        hours = {r[0]: r for r in cur.fetchall()}
        by_hour = []
        for hour in range(24):
            r = hours.get(hour)
            if r is None:
                by_hour.append({"hour": hour, "calls": 0,
                                **_intervals([None, 0, None, 0], ("received_to_dispatch", "received_to_on_scene")),
                                "target": _target(0, 0, target_s, target_share)})
                continue
            iv = _intervals(r[1:5], ("received_to_dispatch", "received_to_on_scene"))
            by_hour.append({"hour": hour, "calls": r[5], **iv,
                            "target": _target(r[6], iv["received_to_dispatch"]["n"], target_s, target_share)})

        # 3. Per service concerned (planned or sent; dispatch/metrics.py).
        cur.execute(
            _PERIOD + f" SELECT service, {_percentile_columns(INTERVALS)}, count(*), count(*) FILTER (WHERE sent),"
                      " count(*) FILTER (WHERE received_to_dispatch <= %(target)s) FROM sm GROUP BY service"
                      " ORDER BY service",
            params,
        )
        by_service = []
        for r in cur.fetchall():
            iv = _intervals(r[1:9], INTERVALS)
            by_service.append({"service": r[0], "calls": r[9], "with_unit": r[10], "intervals": iv,
                               "target": _target(r[11], iv["received_to_dispatch"]["n"], target_s, target_share)})

        # 4. Counts, every dimension in one scan of the period.
        cur.execute(
            _PERIOD + """
            SELECT t.code, m.priority, m.status, m.disposition, m.channel, count(*),
                   GROUPING(t.code), GROUPING(m.priority), GROUPING(m.status), GROUPING(m.disposition)
            FROM m JOIN {type} t ON t.id = m.incident_type_id
            GROUP BY GROUPING SETS ((t.code), (m.priority), (m.status), (m.disposition), (m.channel))
            """.format(**metrics.TABLES),
            params,
        )
        counts = {"incident_type": {}, "priority": {}, "status": {}, "disposition": {}, "channel": {}}
        for code, priority, status, disposition, channel, n, g_type, g_priority, g_status, g_disposition in cur.fetchall():
            if not g_type:
                counts["incident_type"][code] = n
            elif not g_priority:
                counts["priority"][str(priority)] = n
            elif not g_status:
                counts["status"][status] = n
            elif not g_disposition:
                counts["disposition"][disposition or "none"] = n
            else:
                counts["channel"][channel] = n
    return _answer(start, end, tz, calls, counts, overall, _target(within, dispatched, target_s, target_share),
                   by_service, by_hour)


def call_statistics(*, start, end, target_s=None, target_share=None, tz=None, using=DEFAULT_DB_ALIAS):
    """Counts and response-time percentiles of the calls received in [start, end): the
    figures of direct_call_statistics, from the rolled-up blocks of the whole local days
    in the period plus, live, its partial days, any day not rolled up (yet) and the open
    calls (dispatch/rollups.py). Counts are exact; a percentile is exact or within its
    bucket (2 % of the value, 0.02 s under 1 s), as docs/architecture.md explains.
    """
    target_s, target_share, tz = _defaults(target_s, target_share, tz)
    with _snapshot(using) as cur:
        hist, facts = rollups.period_facts(cur, start=start, end=end, tz=tz, target=target_s)
        cur.execute(f"SELECT id, code FROM {metrics.TABLES['type']}")
        type_codes = dict(cur.fetchall())

    def intervals(dim, key, names):
        out = {}
        for name in names:
            n, values = rollups.percentiles(hist.get((dim, key, INTERVALS.index(name)), ()), PERCENTILES)
            out[name] = {"n": n, **{_pkey(p): (round(v, 3) if v is not None else None)
                                    for p, v in zip(PERCENTILES, values)}}
        return out

    calls, within, _ = facts.get(("all", ""), (0, 0, 0))
    overall = intervals("all", "", INTERVALS)
    by_hour = []
    for hour in range(24):
        row = facts.get(("hour", str(hour)))
        iv = intervals("hour", str(hour), ("received_to_dispatch", "received_to_on_scene"))
        by_hour.append({"hour": hour, "calls": row[0] if row else 0, **iv,
                        "target": _target(row[1] if row else 0, iv["received_to_dispatch"]["n"], target_s,
                                          target_share)})
    by_service = []
    for service in sorted(key for dim, key in facts if dim == "service"):
        n, service_within, with_unit = facts[("service", service)]
        iv = intervals("service", service, INTERVALS)
        by_service.append({"service": service, "calls": n, "with_unit": with_unit, "intervals": iv,
                           "target": _target(service_within, iv["received_to_dispatch"]["n"], target_s,
                                             target_share)})
    counts = {"incident_type": {}, "priority": {}, "status": {}, "disposition": {}, "channel": {}}
    for (dim, key), (n, _w, _u) in facts.items():
        if dim == "incident_type":
            counts[dim][type_codes[int(key)]] = n
        elif dim in counts:
            counts[dim][key] = n
    return _answer(start, end, tz, calls, counts, overall,
                   _target(within, overall["received_to_dispatch"]["n"], target_s, target_share), by_service, by_hour)


def stats_period(received_after=None, received_before=None, now=None):
    """The default period: the 7 days before `received_before` (or now)."""
    end = received_before or now or timezone.now()
    start = received_after or end - timedelta(days=STATS_DEFAULT_DAYS)
    return start, end
