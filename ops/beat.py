"""Celery beat's scheduler: nothing on disk, and one active beat among any number.

Beat only rings the periodic tasks (the sweep every DISPATCH_SWEEP_INTERVAL_S, the hourly
metrics repair). Two things made it fragile:

- Celery's default scheduler keeps its state in a shelve file (`celerybeat-schedule`);
  on a host that runs the Procfile without the bootstrap the directory was missing and
  beat died at start. The entries are short intervals or times of day (the nightly
  retention is a crontab for this reason: a 24-hour interval would restart with every
  deploy), so the state is worth nothing across restarts: the schedule lives in memory
  (Celery's base `Scheduler`).
- Two beats (one per machine for availability, or one started by mistake) would both
  send every task. Each beat holds a dedicated PostgreSQL connection and is active only
  while it holds a session-level advisory lock on it. When the active beat dies its
  backend ends and the lock is free; a standby tries every `check_every` seconds (a third
  of the sweep interval, at most 1 s), so it takes over within one sweep period. A dead
  machine is noticed by TCP keepalives and `tcp_user_timeout` on that connection (about
  5 s) instead of the kernel's two hours.

The leader re-checks its connection before it sends anything: a beat whose connection
broke stops at once, since PostgreSQL may already have given the lock to another.
"""

import json
import logging
import os
import socket
import time

import psycopg
from celery.beat import Scheduler
from django.conf import settings

from config.db import libpq_params

from . import heartbeats
from .models import Heartbeat

log = logging.getLogger(__name__)

BEAT_LOCK_KEY = 112_000_002
HEARTBEAT_EVERY_S = 5.0
# Bounds on how long a lost server or network can keep a beat deciding nothing.
_KEEPALIVE = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 2,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "tcp_user_timeout": 5000,
    # the server side notices a vanished beat (machine off, cable out) just as fast
    "options": "-c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=2 "
    "-c statement_timeout=3000",
}


def lock_connection_params():
    """Django's own connection parameters (libpq options included) plus keepalives."""
    params = libpq_params()
    options = " ".join(filter(None, [params.pop("options", ""), _KEEPALIVE["options"]]))
    return {**params, **_KEEPALIVE, "options": options, "autocommit": True}


class LeaderScheduler(Scheduler):
    """In-memory schedule, sent only by the beat that holds the PostgreSQL lock."""

    def __init__(self, *args, **kwargs):
        self.lock_conn = None
        self.is_leader = False
        self.name = f"beat:{socket.gethostname()}:{os.getpid()}"
        self._last_heartbeat = 0.0
        super().__init__(*args, **kwargs)
        self.check_every = min(1.0, settings.DISPATCH_SWEEP_INTERVAL_S / 3)

    def tick(self, *args, **kwargs):
        # The heartbeat first: nothing that can wait may sit between the lock check below
        # and sending (a beat stuck there could send after its lock had passed to another).
        self._heartbeat()
        was_leader = self.is_leader
        self.is_leader = self._hold_lock()
        if self.is_leader != was_leader:
            if self.is_leader:
                log.warning("beat %s is now the active beat", self.name)
                self._heap = None  # every entry due now: the sweep runs at once after a takeover
            else:
                log.warning("beat %s lost the lock; standing by", self.name)
        if not self.is_leader:
            return self.check_every
        return min(super().tick(*args, **kwargs), self.check_every)

    def _hold_lock(self):
        try:
            if self.lock_conn is None or self.lock_conn.closed:
                self.lock_conn = psycopg.connect(**lock_connection_params())
                self.is_leader = False
            if self.is_leader:
                # The session (and with it the lock) is alive as long as this answers.
                self.lock_conn.execute("SELECT 1")
                return True
            (got,) = self.lock_conn.execute("SELECT pg_try_advisory_lock(%s)", [BEAT_LOCK_KEY]).fetchone()
            return bool(got)
        except psycopg.Error as exc:
            log.warning("beat lock connection failed (%s); not sending until it is back", exc)
            self._drop_connection()
            return False

    def _drop_connection(self):
        if self.lock_conn is not None:
            try:
                self.lock_conn.close()
            except Exception:  # closing a broken connection may fail too; it is gone either way
                pass
        self.lock_conn = None

    def _heartbeat(self):
        """`beat:<host>:<pid>` with whether it leads, over the lock connection: it has the
        keepalives and timeouts that bound a hang; Django's connection has none."""
        now = time.monotonic()
        if now - self._last_heartbeat < HEARTBEAT_EVERY_S or self.lock_conn is None:
            return
        self._last_heartbeat = now
        try:
            detail = json.dumps({"leader": self.is_leader, "pid": os.getpid()})
            self.lock_conn.execute(heartbeats.UPSERT_SQL, [self.name, "beat", detail])
        except psycopg.Error as exc:
            log.warning("beat heartbeat not written: %s", exc)
            self._drop_connection()

    def close(self):
        if self.lock_conn is not None:
            try:
                self.lock_conn.execute(f"DELETE FROM {Heartbeat._meta.db_table} WHERE name = %s", [self.name])
            except psycopg.Error:
                pass  # the row ages out; health reads ages, not presence
        self._drop_connection()
        super().close()
