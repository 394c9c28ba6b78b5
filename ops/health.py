"""GET /healthz: is every part of the system working right now, as seen from this process?

`database`, `redis` and `broker` are reached from here. `worker` and `beat` are read from
heartbeat rows (ops/heartbeats.py): a worker writes its row every HEARTBEAT_INTERVAL_S,
and every sweep (sent by beat, run by a worker) writes `sweep`. 503 names what is down.

The three reachability checks run in parallel threads and the answer never waits longer
than DEADLINE_S: a monitor must get a reply, also from a process whose database hangs.
"""

import threading
import time

import redis
from django.conf import settings
from django.db import connection, connections, transaction
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app

from .heartbeats import FRESH_S, heartbeat_list

TIMEOUT_S = 1.5
DEADLINE_S = 3.0
WORKER_MAX_AGE_S = FRESH_S


def sweep_max_age_s():
    return max(3 * settings.DISPATCH_SWEEP_INTERVAL_S, 10.0)


def _database():
    """SELECT 1 and the heartbeat rows, on a connection of this (short-lived) thread."""
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"SET LOCAL statement_timeout = {int(TIMEOUT_S * 1000)}")
            cur.execute("SELECT 1")
            return heartbeat_list()
    finally:
        connections.close_all()


def _redis(url):
    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        client.ping()
    finally:
        client.close()


def _broker():
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_S)


def _run_bounded(checks):
    """{name: (ok, result or exception)}, each check in its own daemon thread."""
    results = {}

    def run(name, check):
        try:
            results[name] = (True, check())
        except Exception as exc:  # any failure means "down", with the reason shown
            results[name] = (False, exc)

    threads = [
        threading.Thread(target=run, args=item, daemon=True, name=f"healthz {item[0]}") for item in checks.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    timeout = TimeoutError(f"no answer within {DEADLINE_S:g} s")
    return {name: results.get(name, (False, timeout)) for name in checks}


def _error(exc):
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}


def _row(row):
    return {**row.detail, "name": row.name, "age_s": round(row.age_s, 3)}


def _workers(rows, kind):
    """The Celery workers of one kind: "worker" (dispatch) or "readers" (journal readers)."""
    workers = [row for row in rows if row.kind == kind]
    return {
        "ok": any(row.age_s < WORKER_MAX_AGE_S for row in workers),
        "max_age_s": WORKER_MAX_AGE_S,
        "workers": [_row(row) for row in workers],
    }


def _beat(rows):
    sweep = next((row for row in rows if row.kind == "sweep" and row.name == "sweep"), None)
    age = round(sweep.age_s, 3) if sweep else None
    return {
        "ok": age is not None and age < sweep_max_age_s(),
        "max_age_s": sweep_max_age_s(),
        "last_sweep_age_s": age,
        "beats": [_row(row) for row in rows if row.kind == "beat"],
    }


def health_report():
    results = _run_bounded(
        {
            "database": _database,
            "redis": lambda: _redis(settings.REDIS_URL),
            "broker": _broker,
        }
    )
    report = {name: "ok" if ok else _error(value) for name, (ok, value) in results.items()}
    db_ok, rows = results["database"]
    if db_ok:
        report["worker"] = _workers(rows, "worker")
        report["beat"] = _beat(rows)
        readers = _workers(rows, "readers")
    else:
        unknown = "unknown: the database, where heartbeats are kept, is down"
        report["worker"] = {"ok": False, "error": unknown}
        report["beat"] = {"ok": False, "error": unknown}
        readers = {"ok": False, "error": unknown}
    down = [name for name, value in report.items() if value != "ok" and not (isinstance(value, dict) and value["ok"])]
    # The journal readers' worker (partner deliveries) is reported, but its absence delays
    # only deliveries, which resume from their cursors: it does not make the centre "down".
    return {"status": "down" if down else "ok", "down": down, **report, "readers": readers}


@never_cache
@require_GET
def healthz(request):
    body = health_report()
    return JsonResponse(body, status=503 if body["down"] else 200)
