"""Two beats started at once (one per machine, or by mistake): exactly one sends the sweep,
and the other takes over within two sweep periods when the first dies."""

import re
import signal
import time

import pytest
from django.db import connection

from tests.conftest import start_beat, wait_for

pytestmark = pytest.mark.worker

SENT = re.compile(r"Sending due task dispatch-sweep")


def _sent(proc):
    return len(SENT.findall(proc.output()))


def test_only_one_of_two_beats_sends_and_the_other_takes_over_when_it_dies(transactional_db):
    first = start_beat("beat-a", DISPATCH_SWEEP_INTERVAL_S=1)
    wait_for(lambda: _sent(first) >= 1, timeout=30, message="the first beat to send\n")
    second = start_beat("beat-b", DISPATCH_SWEEP_INTERVAL_S=1)
    try:
        wait_for(lambda: "beat: Starting" in second.output(), timeout=30, message="the second beat to start")
        before = _sent(first)
        time.sleep(4)
        assert _sent(first) - before >= 3  # the leader keeps sending about once a second
        assert _sent(second) == 0, second.output()[-2000:]

        first.stop(sig=signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: _sent(second) >= 1, timeout=10, interval=0.02, message="the standby to take over")
        took = time.monotonic() - killed
        assert took <= 2.0, f"takeover took {took:.2f} s, more than two sweep periods"
        assert "is now the active beat" in second.output()
    finally:
        first.stop()
        second.stop()


def test_beat_stops_sending_while_its_database_connection_is_gone_and_resumes(transactional_db):
    beat = start_beat("beat-c", DISPATCH_SWEEP_INTERVAL_S=1)
    try:
        wait_for(lambda: _sent(beat) >= 1, timeout=30, message="beat to send")
        with connection.cursor() as cur:
            # Only the app role's own backends: the role is not a superuser (issue 14), and an
            # autovacuum worker on this database would make pg_terminate_backend raise.
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND usename = current_user AND pid <> pg_backend_pid()")
        # It notices, reconnects, takes the lock again (nobody else holds it) and goes on.
        wait_for(lambda: "lost the lock" in beat.output() or "lock connection failed" in beat.output(),
                 timeout=10, message="beat to notice the lost connection")
        count = _sent(beat)
        wait_for(lambda: _sent(beat) > count + 1, timeout=10, message="beat to resume")
        assert beat.popen.poll() is None
    finally:
        beat.stop()
