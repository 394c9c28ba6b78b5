"""Heartbeat rows: how /healthz and /metrics know that workers, beat and the sweep are alive.

Each process that must be watched upserts one row (`worker:<node>`, `beat:<host>:<pid>`,
`web:<host>:<pid>`, `sweep`) every few seconds; readers compare its age with a limit. The
time is the database's (`clock_timestamp()`), written and read on the same clock.

A heartbeat must never take its process down: `beat` logs and returns False when the
database is away, and the next beat reconnects.
"""

import json
import logging
import os
import socket
import threading

from django.db import DatabaseError, connection, connections, transaction
from django.db.models.expressions import RawSQL

from .models import Heartbeat

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 5.0
# A row younger than this belongs to a live process (two beats may be missed).
FRESH_S = 3 * HEARTBEAT_INTERVAL_S
# Rows of processes that died without forgetting theirs (kill -9, a lost machine).
PRUNE_AFTER_S = 24 * 3600

UPSERT_SQL = (
    f"INSERT INTO {Heartbeat._meta.db_table} (name, kind, at, detail) VALUES (%s, %s, clock_timestamp(), %s::jsonb)"
    " ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, at = EXCLUDED.at, detail = EXCLUDED.detail"
)


def beat(name, kind, detail=None):
    """Record that `name` is alive now. Never raises; returns whether the row was written."""
    try:
        # A savepoint when the caller is inside a transaction: a failure here leaves it usable.
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(UPSERT_SQL, [name, kind, json.dumps(detail or {})])
        return True
    except DatabaseError as exc:  # the database is away: one line, the next beat retries
        log.warning("heartbeat %s not written: %s", name, exc)
        _drop_broken_connection()
        return False
    except Exception:
        log.warning("heartbeat %s not written", name, exc_info=True)
        _drop_broken_connection()
        return False


def forget(name):
    """Remove `name`'s row (a clean shutdown). Never raises."""
    try:
        Heartbeat.objects.filter(name=name).delete()
    except Exception:
        log.warning("heartbeat %s not forgotten", name, exc_info=True)
        _drop_broken_connection()


def prune(older_than_s=PRUNE_AFTER_S):
    try:
        with connection.cursor() as cur:
            cur.execute(
                f"DELETE FROM {Heartbeat._meta.db_table} WHERE at < clock_timestamp() - make_interval(secs => %s)",
                [older_than_s],
            )
    except Exception:
        log.warning("old heartbeats not pruned", exc_info=True)
        _drop_broken_connection()


def heartbeat_list():
    """Every row, each with `age_s` (seconds, on the database's clock)."""
    age = RawSQL("date_part('epoch', clock_timestamp() - at)", ())
    return list(Heartbeat.objects.annotate(age_s=age).order_by("name"))


def _drop_broken_connection():
    # After a database error the connection may be dead (server restarted, backend
    # terminated): close it so that the next beat opens a new one. A caller's transaction
    # owns its connection, so it is left alone.
    if connection.in_atomic_block or not connection.errors_occurred:
        return
    try:
        connection.close()
    except Exception:  # closing a dead connection can fail too; it is gone either way
        pass


class Pulse:
    """Beats `name` every HEARTBEAT_INTERVAL_S from a daemon thread until stopped.

    The thread closes its Django connection after every beat (connections belong to the
    thread that opened them): it holds none between beats, none is inherited by a forked
    child, and after a database outage the next beat simply connects again.
    """

    def __init__(self, name, kind, detail=dict):
        self.name, self.kind, self.detail = name, kind, detail
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {name}", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        prune()
        while True:
            try:
                beat(self.name, self.kind, self.detail())
            except Exception:  # detail() failing must not end the heartbeat either
                log.warning("heartbeat %s failed", self.name, exc_info=True)
            finally:
                connections.close_all()
            if self._stopped.wait(HEARTBEAT_INTERVAL_S):
                return

    def stop(self, forget_row=True, timeout=2.0):
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if forget_row:
            forget(self.name)


# --- Celery worker liveness (signals connected in ops/apps.py) ------------------------------
_worker_pulse = None


def sweep_done(sender=None, **kwargs):
    if getattr(sender, "name", None) == "dispatch.tasks.sweep":
        beat("sweep", "sweep")


def worker_kind(app):
    """"worker" for a worker that takes dispatch tasks (the default queue), "readers" for
    the Procfile's `readers` (the journal queue only): /healthz must not count a readers
    worker as the dispatch worker."""
    consumed = set(app.amqp.queues.consume_from or app.amqp.queues)
    return "worker" if app.conf.task_default_queue in consumed else "readers"


def worker_started(sender=None, **kwargs):
    """worker_ready, in the worker's main process: beat `<kind>:<node name>` until shutdown."""
    global _worker_pulse
    node = getattr(sender, "hostname", None) or socket.gethostname()
    kind = worker_kind(sender.app) if sender is not None and hasattr(sender, "app") else "worker"
    _worker_pulse = Pulse(f"{kind}:{node}", kind, lambda: {"pid": os.getpid()}).start()


def worker_stopping(**kwargs):
    global _worker_pulse
    if _worker_pulse is not None:
        _worker_pulse.stop()
        _worker_pulse = None
        connections.close_all()
