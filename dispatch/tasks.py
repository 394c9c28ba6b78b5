"""Celery tasks: an interface that takes ids and calls one service.

Every task is idempotent on the database state (the engine re-reads under lock), so a
redelivery after a killed worker, or the sweep doing the same work, never double-assigns.
"""

from celery import shared_task

from core import journal

from . import engine, metrics, retention, rollups, services, waiting


@shared_task(name="dispatch.tasks.dispatch_call", acks_late=True)
def dispatch_call(call_id):
    engine.dispatch_call(call_id)


@shared_task(name="dispatch.tasks.dispatch_waiting", acks_late=True)
def dispatch_waiting():
    waiting.dispatch_waiting()


@shared_task(name="dispatch.tasks.sweep", acks_late=True)
def sweep():
    """Converge: time out silent units, serve what a lost task skipped, ring the feed."""
    services.expire_acknowledgements()
    waiting.dispatch_waiting()
    journal.ring_latest()  # ops/heartbeats.py marks a finished sweep for /healthz


@shared_task(name="dispatch.tasks.measure_ended_calls", acks_late=True)
def measure_ended_calls():
    """Measure ended calls that have no metrics row (dispatch/metrics.py)."""
    return metrics.backfill_call_metrics()


@shared_task(name="dispatch.tasks.roll_up_stats", acks_late=True)
def roll_up_stats():
    """Roll up the stale days and some missing ones (dispatch/rollups.py); returns how many."""
    return rollups.rebuild()[0]


@shared_task(name="dispatch.tasks.erase_personal_data")
def erase_personal_data():
    """The daily retention pass (dispatch/retention.py); returns its counts.

    Not acks_late: a pass lost with its worker is only a day late, and redelivering a
    long pass while it still runs would only make two of them share the work."""
    return retention.personal_data_erase(max_seconds=retention.TASK_MAX_SECONDS).as_dict()
