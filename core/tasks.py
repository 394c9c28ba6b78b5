"""Periodic work of the core: running the journal readers (core/readers.py)."""

from celery import shared_task

from . import readers

# A reader's run is short (READER_BUDGET_S); a start not taken within this is dropped,
# beat asks again next interval.
START_EXPIRES_S = 30


@shared_task(name="core.tasks.run_journal_readers", ignore_result=True)
def run_journal_readers():
    """Start one task per due reader, so a slow or failing reader holds up no other."""
    for name in readers.due_readers():
        run_journal_reader.apply_async(args=[name], expires=START_EXPIRES_S)


@shared_task(name="core.tasks.run_journal_reader", ignore_result=True, acks_late=True)
def run_journal_reader(name):
    return readers.run(name)
