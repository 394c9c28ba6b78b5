"""Response-time facts per call: the rows statistics are computed from.

A call's four intervals need its first assignment, and its per-service figures need each
service's first unit: measuring that from the history means reading every call of the
period and all their assignments, which took 3 s for 30 days and 30 s for a year at
1,000,000 calls. So a call is measured once, when it ends, in the transaction that ends it
(dispatch.services), into two narrow tables (CallMetrics, CallServiceMetrics). An ended
call never changes again (calls.services refuses edits, the call transitions have no way
out of closed/cancelled/merged), so its row is final. Open calls are few and are measured
live by the same SQL whenever statistics are asked for.

Measuring at the end also fixes what the figures mean: the plan's services and the units'
services as they were when the call ended, so editing a response plan or a unit later does
not rewrite past statistics.

One SQL definition (MEASURE) serves all three uses: recording an ended call, backfilling
rows written around the services (imports, the benchmark's fill), and the live part of a
statistics query. It reads a CTE `c` of calls that the caller defines.
"""

from django.conf import settings
from django.db import connection, transaction

from calls.models import Call, IncidentType, ResponsePlanLine
from calls.statuses import CallStatus
from units.models import Unit

from .models import Assignment, CallMetrics, CallServiceMetrics, StatsStaleDay

INTERVALS = ("received_to_dispatch", "dispatch_to_acknowledgement", "acknowledgement_to_on_scene",
             "received_to_on_scene")

TABLES = {"call": Call._meta.db_table, "assignment": Assignment._meta.db_table, "unit": Unit._meta.db_table,
          "metrics": CallMetrics._meta.db_table, "service_metrics": CallServiceMetrics._meta.db_table,
          "plan": ResponsePlanLine._meta.db_table, "type": IncidentType._meta.db_table}

# The columns `c` must have.
CALL_COLUMNS = "id, received_at, dispatched_at, on_scene_at, incident_type_id, priority, status, disposition, channel"

# The intervals, per call (SPEC "time-to-dispatch" is received_to_dispatch and
# "time-to-arrival" is received_to_on_scene):
#   received_to_dispatch           call.dispatched_at − call.received_at (first active assignment)
#   dispatch_to_acknowledgement    first assignment: acknowledged_at − assigned_at
#   acknowledgement_to_on_scene    first assignment: on_scene_at − acknowledged_at
#   received_to_on_scene           call.on_scene_at − call.received_at (first unit on scene)
# The first assignment is the earliest one, whatever became of it: a declined or timed-out
# first offer counts as "no acknowledgement" rather than being replaced by a later unit,
# which would hide exactly the delay a supervisor looks for.
#
# Per service: a call concerns a service when its plan asks for it or a unit of it was sent
# (the same rule as the history's `service` filter); the intervals are those of that
# service's first unit on the call, and its first arrival.
MEASURE = """
ca AS (  -- `= ANY(ARRAY(…))`: an index lookup by call id, not a hash join over every assignment
    SELECT a.id, a.call_id, u.service, a.assigned_at, a.acknowledged_at, a.on_scene_at
    FROM {assignment} a JOIN {unit} u ON u.id = a.unit_id
    WHERE a.call_id = ANY (ARRAY(SELECT id FROM c))
),
fa AS (
    SELECT DISTINCT ON (call_id) call_id, assigned_at, acknowledged_at, on_scene_at
    FROM ca ORDER BY call_id, assigned_at, id
),
call_m AS (
    SELECT c.id AS call_id, c.received_at, c.incident_type_id, c.priority, c.status, c.disposition, c.channel,
        EXTRACT(EPOCH FROM c.dispatched_at - c.received_at)::float8 AS received_to_dispatch,
        EXTRACT(EPOCH FROM fa.acknowledged_at - fa.assigned_at)::float8 AS dispatch_to_acknowledgement,
        EXTRACT(EPOCH FROM fa.on_scene_at - fa.acknowledged_at)::float8 AS acknowledgement_to_on_scene,
        EXTRACT(EPOCH FROM c.on_scene_at - c.received_at)::float8 AS received_to_on_scene
    FROM c LEFT JOIN fa ON fa.call_id = c.id
),
sa AS (  -- per call and service: its first unit's milestones, and the first arrival
    SELECT call_id, service, min(assigned_at) AS assigned_at,
        (array_agg(acknowledged_at ORDER BY assigned_at, id))[1] AS acknowledged_at,
        (array_agg(on_scene_at ORDER BY assigned_at, id))[1] AS unit_on_scene_at,
        min(on_scene_at) AS first_on_scene
    FROM ca GROUP BY call_id, service
),
planned AS (
    SELECT c.id AS call_id, ps.service
    FROM c JOIN (SELECT DISTINCT incident_type_id, service FROM {plan}) ps ON ps.incident_type_id = c.incident_type_id
),
service_m AS (  -- a hash full join: no sort of the (call, service) pairs
    SELECT c.id AS call_id, coalesce(p.service, sa.service) AS service, c.received_at, sa.call_id IS NOT NULL AS sent,
        EXTRACT(EPOCH FROM sa.assigned_at - c.received_at)::float8 AS received_to_dispatch,
        EXTRACT(EPOCH FROM sa.acknowledged_at - sa.assigned_at)::float8 AS dispatch_to_acknowledgement,
        EXTRACT(EPOCH FROM sa.unit_on_scene_at - sa.acknowledged_at)::float8 AS acknowledgement_to_on_scene,
        EXTRACT(EPOCH FROM sa.first_on_scene - c.received_at)::float8 AS received_to_on_scene
    FROM planned p FULL JOIN sa ON sa.call_id = p.call_id AND sa.service = p.service
    JOIN c ON c.id = coalesce(p.call_id, sa.call_id)
)""".format(**TABLES)

METRICS_COLUMNS = "call_id, received_at, incident_type_id, priority, status, disposition, channel, " + ", ".join(INTERVALS)
SERVICE_METRICS_COLUMNS = "call_id, service, received_at, sent, " + ", ".join(INTERVALS)

# Upserts, so recording is idempotent: running it twice for a call, or over a call the
# backfill already measured, leaves the same rows.
_RECORD = (
    "WITH c AS (SELECT " + CALL_COLUMNS + " FROM {call} WHERE id = ANY(%(ids)s) AND status = ANY(%(terminal)s)),"
    + MEASURE + """,
    calls_written AS (
        INSERT INTO {metrics} ({m_cols}) SELECT {m_cols} FROM call_m
        ON CONFLICT (call_id) DO UPDATE SET {m_update}
        RETURNING 1
    )
    INSERT INTO {service_metrics} ({s_cols}) SELECT {s_cols} FROM service_m
    ON CONFLICT (call_id, service) DO UPDATE SET {s_update}
    """
).format(
    **TABLES,
    m_cols=METRICS_COLUMNS, s_cols=SERVICE_METRICS_COLUMNS,
    m_update=", ".join(f"{c} = EXCLUDED.{c}" for c in METRICS_COLUMNS.split(", ")[1:]),
    s_update=", ".join(f"{c} = EXCLUDED.{c}" for c in SERVICE_METRICS_COLUMNS.split(", ")[2:]),
)


# The calls' days (local, by when they were received) no longer match their rollups
# (dispatch/rollups.py): computed live until rebuilt. One row per day and write.
_MARK_STALE = (
    "INSERT INTO {stale} (day) SELECT DISTINCT (received_at AT TIME ZONE %(tz)s)::date FROM {call}"
    " WHERE id = ANY(%(ids)s) AND status = ANY(%(terminal)s)"
).format(stale=StatsStaleDay._meta.db_table, **TABLES)


def record_call_metrics(call_ids):
    """Measure these calls (those of them that have ended) into the metrics tables.

    Called by dispatch.services in the transaction that ends a call, after the call row and
    its assignments are written, so the facts commit with the ending or not at all."""
    ids = list(call_ids)
    with transaction.atomic(), connection.cursor() as cur:
        # A service no longer concerned (a plan edited since a previous measurement) must
        # not keep its old row: the per-service rows are replaced, not merged.
        cur.execute(f"DELETE FROM {TABLES['service_metrics']} WHERE call_id = ANY(%s)", [ids])
        cur.execute(_RECORD, {"ids": ids, "terminal": list(CallStatus.TERMINAL)})
        cur.execute(_MARK_STALE, {"ids": ids, "terminal": list(CallStatus.TERMINAL), "tz": settings.TIME_ZONE})


def backfill_call_metrics(batch_size=20_000):
    """Measure every ended call that has no metrics row (calls written around the services:
    imports, the benchmark's fill, rows from before this table). Returns how many."""
    total = 0
    last_id = 0
    while True:
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT c.id FROM {TABLES['call']} c WHERE c.id > %s AND c.status = ANY(%s) AND NOT EXISTS "
                f"(SELECT 1 FROM {TABLES['metrics']} m WHERE m.call_id = c.id) ORDER BY c.id LIMIT %s",
                [last_id, list(CallStatus.TERMINAL), batch_size],
            )
            ids = [row[0] for row in cur.fetchall()]
        if not ids:
            return total
        record_call_metrics(ids)
        total += len(ids)
        last_id = ids[-1]
