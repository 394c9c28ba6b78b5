"""GET /metrics: the centre's state in Prometheus text format, read from PostgreSQL per scrape.

Nothing is counted in process memory (there are many web and worker processes): every
figure is a query at scrape time, in one short read-only transaction. The dispatch-time
histogram over every dispatched call is counted once per process (a scan: 0.65-0.85 s at
1,000,000 calls on 2 busy cores, at the first scrape) and then only for the calls
dispatched since (`_dispatch_histogram`); the other queries take ~5 ms.

Who may read it: a request from a loopback address with no proxy header (Prometheus or
an agent on the same machine), or a supervisor (session or API token) from anywhere.
A reverse proxy on the same host connects from loopback too, which is why a request that
carries X-Forwarded-For, Forwarded or X-Real-IP is not trusted as local.
"""

import ipaddress
import math
import threading

from django.db import connection, transaction
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.utils import floatToGoString
from rest_framework.exceptions import AuthenticationFailed

from accounts.access import is_supervisor
from accounts.authentication import TokenAuthentication
from calls.models import Call
from calls.statuses import CallStatus
from core.choices import Service
from core.readers import reader_status
from units.models import Unit
from units.statuses import UnitStatus

from .heartbeats import FRESH_S, heartbeat_list

PREFIX = "dispatch112_"
PRIORITIES = (1, 2, 3, 4)
# Received → first unit assigned. 60 s is the NFPA 1225 processing target (STATS_DISPATCH_TARGET_S).
DISPATCH_BUCKETS_S = (1, 2, 5, 10, 15, 30, 45, 60, 90, 120, 300, 600, 1800)
# A dispatched_at older than this belongs to a committed transaction (they last milliseconds;
# the statement and task time limits end any straggler well before).
SETTLE_S = 300.0
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")

_histogram_lock = threading.Lock()
_settled = {"upto": None, "counts": [0] * len(DISPATCH_BUCKETS_S), "count": 0, "sum": 0.0}


def _open_calls(cur):
    """{priority: (open, waiting)}. Waiting: pending, or with plan lines still unmet."""
    cur.execute(
        f"SELECT priority, count(*), count(*) FILTER (WHERE status = %s OR unmet_needs <> '[]'::jsonb)"
        f" FROM {Call._meta.db_table} WHERE status = ANY(%s) GROUP BY priority",
        [CallStatus.PENDING, list(CallStatus.OPEN)],
    )
    return {priority: (total, waiting) for priority, total, waiting in cur.fetchall()}


def _units(cur):
    cur.execute(f"SELECT service, status, count(*) FROM {Unit._meta.db_table} GROUP BY service, status")
    return {(service, status): n for service, status, n in cur.fetchall()}


def _histogram_part(cur, where, params):
    buckets = ", ".join("count(*) FILTER (WHERE d <= %s)" for _ in DISPATCH_BUCKETS_S)
    cur.execute(
        f"SELECT {buckets}, count(*), coalesce(sum(d), 0) FROM ("
        f" SELECT greatest(date_part('epoch', dispatched_at - received_at), 0) AS d"
        f" FROM {Call._meta.db_table} WHERE dispatched_at IS NOT NULL AND {where}) AS dispatched",
        [*DISPATCH_BUCKETS_S, *params],
    )
    *counts, count, total = cur.fetchone()
    return counts, count, float(total)


def _dispatch_histogram(cur):
    """(cumulative bucket counts, count, sum) of dispatched_at − received_at over all calls.

    A call's dispatched_at is set once, by a transaction that commits within moments, so
    calls dispatched more than SETTLE_S ago never change the figures again: each process
    counts them once (the whole table at its first scrape, then only the slice that
    settled since, through call_dispatched_idx) and adds the last SETTLE_S live.
    """
    with _histogram_lock:
        cur.execute("SELECT now() - make_interval(secs => %s)", [SETTLE_S])
        (upto,) = cur.fetchone()
        since = _settled["upto"]
        if since is None:
            part = _histogram_part(cur, "dispatched_at < %s", [upto])
        else:
            part = _histogram_part(cur, "dispatched_at >= %s AND dispatched_at < %s", [since, max(since, upto)])
        _settled.update(
            upto=max(since, upto) if since is not None else upto,
            counts=[a + b for a, b in zip(_settled["counts"], part[0])],
            count=_settled["count"] + part[1],
            sum=_settled["sum"] + part[2],
        )
        live = _histogram_part(cur, "dispatched_at >= %s", [_settled["upto"]])
        return (
            [a + b for a, b in zip(_settled["counts"], live[0])],
            _settled["count"] + live[1],
            _settled["sum"] + live[2],
        )


def snapshot():
    """Everything /metrics shows, read in one snapshot."""
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cur:
        if outermost:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute("SET LOCAL statement_timeout = 5000")
        # Few rows are estimated wrongly as many; compiling would cost more than the scan.
        cur.execute("SET LOCAL jit = off")
        calls = _open_calls(cur)
        units = _units(cur)
        heartbeats = heartbeat_list()
        histogram = _dispatch_histogram(cur)
        journal_readers = reader_status()
    return {"calls": calls, "units": units, "heartbeats": heartbeats, "histogram": histogram,
            "readers": journal_readers}


def _gauge(name, documentation, labels=()):
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


class DispatchCollector:
    def describe(self):
        return []  # nothing is read when the collector is registered

    def collect(self):
        data = snapshot()

        open_calls = _gauge("open_calls", "Calls not yet ended (pending, dispatched, on scene).", ["priority"])
        waiting = _gauge(
            "waiting_calls", "Open calls that need units: pending, or with unmet plan lines.", ["priority"]
        )
        for priority in PRIORITIES:
            total, need = data["calls"].get(priority, (0, 0))
            open_calls.add_metric([str(priority)], total)
            waiting.add_metric([str(priority)], need)
        yield open_calls
        yield waiting

        available = _gauge("available_units", "Units whose status is available.", ["service"])
        units = _gauge("units", "Units by service and status.", ["service", "status"])
        for service in Service.values:
            available.add_metric([service], data["units"].get((service, UnitStatus.AVAILABLE), 0))
            for status, _label in UnitStatus.CHOICES:
                units.add_metric([service, status], data["units"].get((service, status), 0))
        yield available
        yield units

        rows = data["heartbeats"]
        sweep = [row.age_s for row in rows if row.kind == "sweep" and row.name == "sweep"]
        workers = [row.age_s for row in rows if row.kind == "worker"]
        web = [row for row in rows if row.kind == "web" and row.age_s < FRESH_S]
        leaders = [row for row in rows if row.kind == "beat" and row.detail.get("leader") and row.age_s < FRESH_S]
        gauges = [
            ("sweep_age_seconds", "Seconds since the last sweep finished (+Inf: never).", min(sweep, default=math.inf)),
            (
                "worker_heartbeat_age_seconds",
                "Age of the freshest Celery worker heartbeat (+Inf: none).",
                min(workers, default=math.inf),
            ),
            (
                "workers_alive",
                f"Celery workers whose heartbeat is younger than {FRESH_S:g} s.",
                sum(age < FRESH_S for age in workers),
            ),
            ("beat_leaders", "Beat schedulers that report holding the leader lock.", len(leaders)),
            (
                "websocket_clients",
                "Open websocket connections, summed over the web processes' heartbeats.",
                sum(int(row.detail.get("websockets", 0)) for row in web),
            ),
        ]
        for name, documentation, value in gauges:
            gauge = _gauge(name, documentation)
            gauge.add_metric([], value)
            yield gauge

        lag = _gauge("journal_reader_lag_events", "Journal rows a reader has not handled yet.", ["reader"])
        failures = _gauge("journal_reader_failures", "Failed runs of a reader in a row (0: healthy).", ["reader"])
        for reader in data["readers"]:
            lag.add_metric([reader["name"]], reader["lag"] if reader["lag"] is not None else math.nan)
            failures.add_metric([reader["name"]], reader["failures"])
        yield lag
        yield failures

        counts, count, total = data["histogram"]
        buckets = [(floatToGoString(bound), n) for bound, n in zip(DISPATCH_BUCKETS_S, counts)]
        yield HistogramMetricFamily(
            PREFIX + "call_dispatch_seconds",
            "Seconds from a call's receipt to its first dispatch, over every dispatched call.",
            buckets=[*buckets, ("+Inf", count)],
            sum_value=total,
        )


REGISTRY = CollectorRegistry()
REGISTRY.register(DispatchCollector())


def _is_loopback(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def may_read_metrics(request):
    if _is_loopback(request.META.get("REMOTE_ADDR", "")) and not any(h in request.META for h in PROXY_HEADERS):
        return True
    user = request.user  # the session
    if not user.is_authenticated:
        try:
            pair = TokenAuthentication().authenticate(request)
        except AuthenticationFailed:
            return False
        user = pair[0] if pair else None
    return is_supervisor(user)


@never_cache
@require_GET
def metrics(request):
    if not may_read_metrics(request):
        return HttpResponse(
            "Metrics are served to the loopback address or to supervisors.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_PLAIN_0_0_4)
