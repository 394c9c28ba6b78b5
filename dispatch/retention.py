"""Retention: erase callers' personal data once a call has been over for the period.

PERSONAL_DATA_RETENTION_DAYS after a call ended (closed, cancelled or merged: its
`closed_at`), the caller's phone and name, the description, the address, the notes and
the AML messages' number, text and exact position are erased, in the call, its AML
messages and its journal rows; the searched texts of older audit rows too. The facts
stay: type, priority, status, every timestamp, the metrics, assignments and units, the
disposition, and the location rounded to a 0.001° grid (about 110 m north-south and 70 m
east-west at Astana's 51°N), so statistics and heat maps keep working. docs/privacy.md
says what and why.

Safe while the centre works:
- Open calls are never touched, whatever their age; a call is erased only once ended.
- Batches of `batch_size` calls, each its own short transaction, so 1,000,000 calls are
  never one long transaction (vacuum, replication lag, idle_in_transaction timeouts).
- A batch locks its calls with SKIP LOCKED: a call a service holds (an operator adding
  a note) is left for the next pass, and the service never waits behind the erasure.
- Old journal rows are rewritten in place without the journal's advisory lock: that lock
  orders *inserts* (core/journal.py) and an UPDATE of a committed row does not change
  what id a reader has seen. Nobody else locks journal rows, so these updates wait on
  nothing and block nothing.
- Idempotent: an erased call carries `personal_data_erased_at` and leaves the partial
  index of due calls, so a second pass finds nothing to do.
"""

import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from calls.models import AmlMessage, Call
from calls.statuses import CallStatus
from core.models import Event

from .models import ReadAudit

log = logging.getLogger(__name__)

# Degrees of the grid locations are snapped to. 0.001° is ~111 m of latitude and
# ~70 m of longitude at 51°N: a block of flats, not a flat.
GRID_DEG = 0.001
BATCH_SIZE = 500
# The daily task's budget: it shares the workers with dispatch, so a first pass over a
# large backlog is spread over several nights instead of holding a worker for long.
TASK_MAX_SECONDS = 600

CALL = Call._meta.db_table
AML = AmlMessage._meta.db_table
EVENT = Event._meta.db_table
AUDIT = ReadAudit._meta.db_table

# The call's representation in a journal row (CallSerializer): its personal keys.
PERSONAL_KEYS = ("caller_phone", "caller_name", "description", "address")

# Journal summaries that carry an operator's free text (calls/services.py call_add_note,
# dispatch/services.py call_close and call_cancel): the text goes, the fact stays.
_SUMMARY_HAS_TEXT = (
    "(e.type = 'call.updated' AND (e.summary LIKE 'note: %%' OR e.summary LIKE 'closed: %% %%'"
    " OR e.summary LIKE 'cancelled %%'))"
)
_SCRUBBED_SUMMARY = f"""CASE
    WHEN {_SUMMARY_HAS_TEXT} AND e.summary LIKE 'note: %%' THEN 'note: (erased)'
    WHEN {_SUMMARY_HAS_TEXT} AND e.summary LIKE 'closed: %%' THEN regexp_replace(e.summary, '^(closed: \\S+) .*$', '\\1')
    WHEN {_SUMMARY_HAS_TEXT} THEN 'cancelled'
    ELSE e.summary END"""
# The same texts as codes (core/texts.py): their free text is the `text` parameter; a note
# becomes `note_erased`, a closing or cancelling without its words the plain code.
_SCRUBBED_CODE = f"""CASE WHEN {_SUMMARY_HAS_TEXT} THEN CASE e.summary_code
    WHEN 'note' THEN 'note_erased' WHEN 'closed_notes' THEN 'closed' WHEN 'cancelled_because' THEN 'cancelled'
    ELSE e.summary_code END ELSE e.summary_code END"""
_SCRUBBED_PARAMS = f"""CASE WHEN {_SUMMARY_HAS_TEXT} AND jsonb_typeof(e.summary_params) = 'object'
    THEN e.summary_params - 'text' ELSE e.summary_params END"""

_SNAP = f"ST_SnapToGrid(%(col)s::geometry, {GRID_DEG})::geography"
_ROUND = "to_jsonb(round((e.data->'location'->>'{axis}')::numeric, 3))"
_BLANKS = ", ".join(f"'{key}', ''" for key in PERSONAL_KEYS)
_SCRUBBED_DATA = f"""CASE WHEN e.data ? 'caller_phone' THEN
    e.data || jsonb_build_object({_BLANKS})
    || CASE WHEN jsonb_typeof(e.data->'location') = 'object' THEN jsonb_build_object('location',
        (e.data->'location') || jsonb_build_object('lat', {_ROUND.format(axis="lat")},
                                                   'lon', {_ROUND.format(axis="lon")}))
       ELSE '{{}}'::jsonb END
    || CASE WHEN jsonb_typeof(e.data->'alarm') = 'object' THEN jsonb_build_object('alarm',
        (e.data->'alarm') - 'media_url') ELSE '{{}}'::jsonb END
    ELSE e.data END"""
_EVENT_DUE = f"(e.data ? 'caller_phone' OR {_SUMMARY_HAS_TEXT})"

# An AML rejection reason quotes up to 20 characters of the offending field: drop them.
_AML_ERASE = f"""msisdn = '', raw = '', parsed = parsed - 'fields',
    reason = regexp_replace(reason, '''[^'']*''', '''…''', 'g'),
    location = {_SNAP % {"col": "location"}}"""
_AML_NOT_ERASED = "(a.raw <> '' OR a.msisdn <> '')"

_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)  # the keyset's start: before any closed_at

_AUDIT_DUE = "(r.at < %(cutoff)s AND (NOT (r.query = '') OR r.filters ? 'near'))"


@dataclass
class ErasureCounts:
    calls: int = 0
    aml_messages: int = 0
    journal_rows: int = 0
    audit_rows: int = 0
    finished: bool = True  # False when a time budget stopped the pass early

    def as_dict(self):
        return asdict(self)


def retention_cutoff(days, now=None):
    return (now or timezone.now()) - timedelta(days=days)


def _due_calls_sql(select, *, lock, keyset, limit):
    """Ended calls not erased yet that ended before the cutoff. `keyset`: "closed" walks
    calls_erasure_due_idx in (closed_at, id) order; "unclosed" is the rare ended call
    without a closed_at (rows imported around the services), aged by received_at."""
    if keyset == "closed":
        where = "c.closed_at < %(cutoff)s AND (c.closed_at, c.id) > (%(after_at)s, %(after_id)s)"
        order = "c.closed_at, c.id"
    else:
        where = "c.closed_at IS NULL AND c.received_at < %(cutoff)s AND c.id > %(after_id)s"
        order = "c.id"
    sql = (f"SELECT {select} FROM {CALL} c WHERE c.personal_data_erased_at IS NULL"
           f" AND c.status = ANY(%(ended)s) AND {where}")
    if limit:
        sql += f" ORDER BY {order} LIMIT %(limit)s"
    if lock:
        sql += " FOR NO KEY UPDATE SKIP LOCKED"
    return sql


def _erase_calls(cur, ids, now):
    """Erase one batch of locked calls with their AML messages and journal rows."""
    cur.execute(
        f"UPDATE {CALL} SET caller_phone = '', caller_name = '', description = '', address = '',"
        # a partner's camera picture shows people: its link goes, the alarm's facts stay
        f" alarm = CASE WHEN jsonb_typeof(alarm) = 'object' THEN alarm - 'media_url' ELSE alarm END,"
        f" location = {_SNAP % {'col': 'location'}}, personal_data_erased_at = %s WHERE id = ANY(%s)",
        [now, ids],
    )
    cur.execute(f"UPDATE {AML} SET {_AML_ERASE} WHERE call_id = ANY(%s)", [ids])
    aml = cur.rowcount
    cur.execute(
        f"UPDATE {EVENT} e SET data = {_SCRUBBED_DATA}, summary = {_SCRUBBED_SUMMARY},"
        f" summary_code = {_SCRUBBED_CODE}, summary_params = {_SCRUBBED_PARAMS}"
        f" WHERE e.call_id = ANY(%(ids)s) AND {_EVENT_DUE}",
        {"ids": ids},
    )
    return aml, cur.rowcount


def personal_data_erase(*, days=None, now=None, dry_run=False, batch_size=BATCH_SIZE, max_seconds=None):
    """Erase the personal data that the retention period no longer covers. Returns the
    counts (with `dry_run`, what would be erased, and nothing is changed).

    `days` defaults to settings.PERSONAL_DATA_RETENTION_DAYS; 0 keeps everything.
    `max_seconds` bounds one pass (the daily task): it stops between batches and the next
    pass continues where this one stopped, since what is done is marked."""
    days = settings.PERSONAL_DATA_RETENTION_DAYS if days is None else days
    counts = ErasureCounts()
    if days <= 0:
        return counts
    now = now or timezone.now()
    params = {"cutoff": retention_cutoff(days, now), "ended": list(CallStatus.TERMINAL)}
    if dry_run:
        return _count_due(params)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds

    def out_of_time():
        if deadline is not None and time.monotonic() >= deadline:
            counts.finished = False
            return True
        return False

    for keyset in ("closed", "unclosed"):
        after = {"after_at": _BEFORE_ALL, "after_id": 0}
        while not out_of_time():
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(_due_calls_sql("c.id, c.closed_at", lock=True, keyset=keyset, limit=True),
                            {**params, **after, "limit": batch_size})
                rows = cur.fetchall()
                if not rows:
                    break
                aml, events = _erase_calls(cur, [r[0] for r in rows], now)
            counts.calls += len(rows)
            counts.aml_messages += aml
            counts.journal_rows += events
            after = {"after_at": rows[-1][1] or after["after_at"], "after_id": rows[-1][0]}
            if len(rows) < batch_size:
                break

    # AML messages that never found a call (rejected, or no call followed): the number
    # and the position are the caller's as much as a call's are.
    while not out_of_time():
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE {AML} SET {_AML_ERASE} WHERE id IN (SELECT a.id FROM {AML} a WHERE a.call_id IS NULL"
                f" AND a.received_at < %(cutoff)s AND {_AML_NOT_ERASED} ORDER BY a.received_at LIMIT %(limit)s"
                f" FOR NO KEY UPDATE SKIP LOCKED)",
                {**params, "limit": batch_size},
            )
            counts.aml_messages += cur.rowcount
            if cur.rowcount < batch_size:
                break

    # The audit keeps who read what for good; what they searched for is personal data.
    while not out_of_time():
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE {AUDIT} SET query = '', filters = filters - 'near' WHERE id IN"
                f" (SELECT r.id FROM {AUDIT} r WHERE {_AUDIT_DUE} ORDER BY r.at LIMIT %(limit)s)",
                {**params, "limit": batch_size * 10},
            )
            counts.audit_rows += cur.rowcount
            if cur.rowcount < batch_size * 10:
                break

    if counts.calls or counts.aml_messages or counts.audit_rows:
        log.info("personal data erased (older than %d days): %s", days, counts.as_dict())
    return counts


def _count_due(params):
    """What a pass would erase now, read without locking or writing anything."""
    counts = ErasureCounts()
    due_ids = " UNION ALL ".join(
        _due_calls_sql("c.id", lock=False, keyset=k, limit=False) for k in ("closed", "unclosed")
    )
    args = {**params, "after_at": _BEFORE_ALL, "after_id": 0}
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM ({due_ids}) d", args)
        (counts.calls,) = cur.fetchone()
        cur.execute(
            f"SELECT (SELECT count(*) FROM {AML} a WHERE a.call_id IN ({due_ids}))"
            f" + (SELECT count(*) FROM {AML} a WHERE a.call_id IS NULL AND a.received_at < %(cutoff)s"
            f" AND {_AML_NOT_ERASED})",
            args,
        )
        (counts.aml_messages,) = cur.fetchone()
        cur.execute(f"SELECT count(*) FROM {EVENT} e WHERE e.call_id IN ({due_ids}) AND {_EVENT_DUE}", args)
        (counts.journal_rows,) = cur.fetchone()
        cur.execute(f"SELECT count(*) FROM {AUDIT} r WHERE {_AUDIT_DUE}", args)
        (counts.audit_rows,) = cur.fetchone()
    return counts
