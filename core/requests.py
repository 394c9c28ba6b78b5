"""Asking the engine to look at calls: a message to the workers, sent after commit.

Any app may ask (a new call, a call that gained a location, a unit that became free);
the request names the task, so asking needs no import of the engine above.
"""

import logging
import time

from django.db import transaction

from config.celery import app

log = logging.getLogger(__name__)

_broker_down_until = 0.0


def request_dispatch(call_id=None):
    """Ask a worker, after commit, to fill a call's needs (or all waiting calls).

    The database is the record: the caller has already set `dispatch_requested_at` (or
    the call has unmet needs), so the beat sweep finds the call even if this message is
    lost. The broker is therefore asked best-effort, with a short timeout, and not at all
    for a few seconds after it failed, so that requests never queue up behind a dead Redis.
    """
    transaction.on_commit(lambda: _send_dispatch(call_id))


def _send_dispatch(call_id):
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return
    try:
        if call_id is None:
            app.send_task("dispatch.tasks.dispatch_waiting", retry=False)
        else:
            app.send_task("dispatch.tasks.dispatch_call", args=[call_id], retry=False)
    except Exception as exc:
        _broker_down_until = time.monotonic() + 5.0
        log.warning("broker unreachable (%s: %s); call %s will be dispatched by the sweep", type(exc).__name__, exc,
                    call_id)
