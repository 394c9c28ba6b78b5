"""Reads that may come from a streaming replica (issue 19): supervisors' history, exports
and statistics.

`DATABASE_REPLICA_URL` (settings) adds the database alias `replica`, a PostgreSQL hot
standby of the primary. Only code that asks for it reads there: `replica_reads()` picks
the alias for a block of reads and `ReplicaRouter` sends the ORM's reads inside that
block to it. Writes always go to the primary (`db_for_write`); a standby would refuse them
anyway.

The bound on staleness. Before the replica is used, and again at most every
`DATABASE_REPLICA_CHECK_S`, each process compares the primary's current WAL position with
the position the replica has replayed:
- replayed >= the primary's position: the replica had everything the primary had
  committed when it was asked, so it is 0 s behind;
- otherwise it is at most `now() - pg_last_xact_replay_timestamp()` behind (everything
  committed up to its last replayed commit is there).
If that is more than `DATABASE_REPLICA_MAX_LAG_S`, or the replica cannot be reached, or it
is not in recovery (a promoted standby is a different database now), reads go to the
primary until the next check (at least FAILED_CHECK_BACKOFF_S after a failed one). So a
read from the replica misses at most what was committed in the last
DATABASE_REPLICA_MAX_LAG_S + DATABASE_REPLICA_CHECK_S seconds, plus the duration of a
check in progress (other threads keep the last verdict meanwhile; the two servers' clocks
assumed in step, as NTP keeps them).
"""

import contextvars
import logging
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

PRIMARY = "default"
REPLICA = "replica"

# The alias chosen for the current block of reads (None outside one: the primary).
_reads_from = contextvars.ContextVar("replica_reads_from", default=None)

# The last check's verdict, per process: when it was made (monotonic), for how long it
# holds, the alias to read from; `probing` while one thread checks (the others keep
# using the last verdict rather than queue behind a slow or unreachable standby).
_verdict = {"at": None, "ttl": 0.0, "alias": PRIMARY, "lag_s": None, "probing": False}
_verdict_lock = threading.Lock()
# After a failed check (standby down or not a standby), the next one waits this long at
# least: a standby that is down must not cost a connect timeout every second.
FAILED_CHECK_BACKOFF_S = 5.0


def configured():
    return REPLICA in settings.DATABASES


def measure_lag_s():
    """How far the replica is behind the primary at most, in seconds; None when it cannot be
    used (unreachable, or not a standby). One query on each server."""
    try:
        with connections[PRIMARY].cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()")
            (primary_lsn,) = cur.fetchone()
        with connections[REPLICA].cursor() as cur:
            cur.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn,"
                " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8",
                [primary_lsn],
            )
            in_recovery, caught_up, since_replay = cur.fetchone()
    except DatabaseError as exc:
        logger.warning("replica check failed, reading from the primary: %s", exc)
        # A refused or broken connection must not be reused by the next check.
        connections[REPLICA].close()
        return None
    if not in_recovery:
        logger.error("DATABASE_REPLICA_URL is not a standby (pg_is_in_recovery() is false); reading from the primary")
        return None
    if caught_up:
        return 0.0
    return since_replay  # None when nothing has been replayed since it started: unknown, so unusable


def read_alias():
    """The alias to read supervisors' data from now: the replica when it is configured,
    reachable and at most DATABASE_REPLICA_MAX_LAG_S behind (checked at most every
    DATABASE_REPLICA_CHECK_S per process), else the primary."""
    if not configured():
        return PRIMARY
    with _verdict_lock:
        fresh = _verdict["at"] is not None and time.monotonic() - _verdict["at"] < _verdict["ttl"]
        if fresh or _verdict["probing"]:
            return _verdict["alias"]
        _verdict["probing"] = True
    lag = None
    try:
        lag = measure_lag_s()
    finally:
        alias = REPLICA if lag is not None and lag <= settings.DATABASE_REPLICA_MAX_LAG_S else PRIMARY
        ttl = settings.DATABASE_REPLICA_CHECK_S if lag is not None else max(settings.DATABASE_REPLICA_CHECK_S,
                                                                           FAILED_CHECK_BACKOFF_S)
        with _verdict_lock:
            if alias != _verdict["alias"]:
                logger.warning("supervisors' reads now from %s (replica lag %s s)", alias, lag)
            _verdict.update(at=time.monotonic(), ttl=ttl, alias=alias, lag_s=lag, probing=False)
    return alias


def forget_verdict():
    """Check again on the next read (tests; a deploy that changed the replica)."""
    with _verdict_lock:
        _verdict.update(at=None, ttl=0.0, alias=PRIMARY, lag_s=None, probing=False)


@contextmanager
def replica_reads(enabled=True):
    """A block of reads that may be served by the replica; yields the alias chosen. Raw SQL
    inside uses `connections[alias]`; the ORM follows through ReplicaRouter. Only for
    read-only work that tolerates the documented lag: never read-then-write."""
    alias = read_alias() if enabled else PRIMARY
    token = _reads_from.set(alias)
    try:
        yield alias
    finally:
        _reads_from.reset(token)


class ReplicaRouter:
    """settings.DATABASE_ROUTERS: reads inside replica_reads() go to the alias it chose;
    everything else, and every write, goes to the primary."""

    def db_for_read(self, model, **hints):
        return _reads_from.get()

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the primary's own rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY
