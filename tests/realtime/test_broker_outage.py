"""Redis dies under a busy worker (SIGKILL, tasks in flight and unacknowledged) and comes back.

Issue 12, part 2. Celery 5.7 + kombu 5.7 used to end the worker here ("Restoring 1
unacknowledged message(s)" then "Unrecoverable error: AttributeError("'NoneType' object
has no attribute 'hostname'")"); config/celery.py works around it. The crash needs both an
unacknowledged task and a consumer waiting in BRPOP (a free pool slot) at the moment Redis
dies, so the test sets up exactly that; without the workaround it fails waiting for the
reconnection. Everything runs on a private redis-server: the shared one is never touched.
"""

import json
import time
import urllib.request

import psycopg
import pytest
import redis

from dispatch.models import Assignment
from tests.conftest import free_port, point, start_asgi, start_beat, start_worker, wait_for
from tests.factories import UnitFactory, token_for
from tests.realtime.test_faults import _dsn
from units.models import Unit

pytestmark = pytest.mark.worker


def _post_call(port, token, lat):
    body = json.dumps({"incident_type": "cardiac_arrest", "location": {"lat": lat, "lon": 71.43}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/calls/", data=body, method="POST", headers={
        "Authorization": f"Token {token}", "Content-Type": "application/json"})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=15) as response:
        finished = time.monotonic()
        return response.status, json.loads(response.read())["id"], finished - started, finished


def _lock_waiters(conn):
    # On its own autocommit connection: pg_stat_activity is a snapshot per transaction.
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()").fetchone()[0]


def _polling_for_work(server):
    """The worker's consumer is parked in BRPOP (a free pool slot): kombu's close then reads it."""
    try:
        with redis.Redis(port=server.port) as client:
            return any(c.get("cmd") == "brpop" for c in client.client_list())
    except redis.ConnectionError:
        return False


def test_worker_survives_redis_killed_with_a_task_in_flight(transactional_db, operator, private_redis):
    env = {"REDIS_URL": private_redis.url, "CELERY_BROKER_URL": private_redis.url}
    units = [UnitFactory(service="medical", capabilities=["als"], location=point(51.128 + i * 0.01, 71.43))
             for i in range(4)]
    token = token_for(operator)
    port = free_port()
    web = start_asgi(port, **env)
    worker = start_worker("broker-outage", **env)
    beat = start_beat(name="broker-outage-beat", DISPATCH_SWEEP_INTERVAL_S="1", **env)
    wait_for(lambda: "Sending due task dispatch-sweep" in beat.output(), timeout=15, message="beat to send")
    locker = psycopg.connect(_dsn())
    watcher = psycopg.connect(_dsn(), autocommit=True)
    try:
        # Call A's dispatch blocks on its unit's row, held here: a task in flight, unacked,
        # while the other pool slot is free and the consumer waits in BRPOP for more work.
        locker.execute("SELECT id FROM units_unit WHERE id = %s FOR UPDATE", [units[0].pk])
        status, call_a, _, _ = _post_call(port, token, 51.128)
        assert status == 201
        wait_for(lambda: _lock_waiters(watcher) == 1, timeout=10, message="the dispatch task to block")
        wait_for(lambda: _polling_for_work(private_redis), timeout=5, message="the consumer to poll")

        private_redis.kill()
        killed_at = time.monotonic()
        wait_for(lambda: "Connection to broker lost" in worker.output(), timeout=10, message="the worker to notice")
        # Calls taken during the outage: the web side answers at once, the broker is best-effort.
        during = [_post_call(port, token, lat) for lat in (51.138, 51.148)]
        assert [status for status, *_ in during] == [201, 201]
        assert max(elapsed for _, _, elapsed, _ in during) < 3.0, during
        time.sleep(max(0.0, killed_at + 4 - time.monotonic()))  # a few of the worker's reconnect attempts
        assert worker.popen.poll() is None, worker.output()[-3000:]

        private_redis.start()  # the same port, empty: every queued and unacked message is gone
        wait_for(lambda: worker.output().count("Connected to redis://") >= 2, timeout=20,
                 message="the same worker to reconnect")
        locker.rollback()  # the task in flight goes on and finishes after the outage

        calls = [call_a, during[0][1], during[1][1]]
        wait_for(lambda: Assignment.objects.filter(call_id__in=calls).values("call_id").distinct().count() == 3,
                 timeout=30, interval=0.2, message="every call to be dispatched")
        # The web side sends again once Redis is back (after its few seconds of backing off).
        sent_before = worker.output().count("Task dispatch.tasks.dispatch_call[")
        time.sleep(max(0.0, during[-1][3] + 5.5 - time.monotonic()))
        status, call_e, elapsed, _ = _post_call(port, token, 51.158)
        assert status == 201 and elapsed < 3.0
        wait_for(lambda: worker.output().count("Task dispatch.tasks.dispatch_call[") > sent_before, timeout=5,
                 message="the web side's task to reach the worker")
        calls.append(call_e)
        wait_for(lambda: Assignment.objects.filter(call_id=call_e).exists(), timeout=5, message="call E's unit")
        time.sleep(2)  # a few more sweeps: nothing more may happen
        # The very process started above never exited: no supervisor brought it back.
        assert worker.popen.poll() is None, worker.output()[-3000:]
        assert beat.popen.poll() is None, beat.output()[-3000:]
    finally:
        locker.close()
        watcher.close()
        beat.stop()
        worker.stop()
        web.stop()
    worker_log, beat_log = worker.output(), beat.output()
    # The bug's path was taken (an unacknowledged message restored at the loss) and survived.
    assert "Restoring 1 unacknowledged message(s)" in worker_log
    assert "Unrecoverable error" not in worker_log and "AttributeError" not in worker_log, worker_log[-3000:]
    # Beat kept ticking through the outage and sent again once Redis was back.
    assert "Couldn't apply scheduled task dispatch-sweep" in beat_log
    assert "Sending due task dispatch-sweep" in beat_log.rsplit("Couldn't apply scheduled task", 1)[1]
    # Exactly once: one assignment per call, the nearest unit each time, no unit twice.
    rows = list(Assignment.objects.filter(call_id__in=calls).values_list("call_id", "unit_id"))
    assert sorted(rows) == sorted(zip(calls, [u.pk for u in units], strict=True))
    assert not Assignment.objects.exclude(call_id__in=calls).exists()
    assert Unit.objects.filter(status="dispatched").count() == len(units)
