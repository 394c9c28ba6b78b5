"""Measure the calls that ended before the metrics tables existed.

The SQL is a frozen copy of dispatch.metrics at this migration (a migration must not follow
later code); re-running it is harmless (upserts).
"""

from django.db import migrations

BACKFILL = """
    WITH c AS (SELECT id, received_at, dispatched_at, on_scene_at, incident_type_id, priority, status, disposition, channel FROM calls_call WHERE status IN ('closed', 'cancelled', 'merged')),
    ca AS (  -- `= ANY(ARRAY(…))`: an index lookup by call id, not a hash join over every assignment
        SELECT a.id, a.call_id, u.service, a.assigned_at, a.acknowledged_at, a.on_scene_at
        FROM dispatch_assignment a JOIN units_unit u ON u.id = a.unit_id
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
        FROM c JOIN (SELECT DISTINCT incident_type_id, service FROM calls_responseplanline) ps ON ps.incident_type_id = c.incident_type_id
    ),
    service_m AS (  -- a hash full join: no sort of the (call, service) pairs
        SELECT c.id AS call_id, coalesce(p.service, sa.service) AS service, c.received_at, sa.call_id IS NOT NULL AS sent,
            EXTRACT(EPOCH FROM sa.assigned_at - c.received_at)::float8 AS received_to_dispatch,
            EXTRACT(EPOCH FROM sa.acknowledged_at - sa.assigned_at)::float8 AS dispatch_to_acknowledgement,
            EXTRACT(EPOCH FROM sa.unit_on_scene_at - sa.acknowledged_at)::float8 AS acknowledgement_to_on_scene,
            EXTRACT(EPOCH FROM sa.first_on_scene - c.received_at)::float8 AS received_to_on_scene
        FROM planned p FULL JOIN sa ON sa.call_id = p.call_id AND sa.service = p.service
        JOIN c ON c.id = coalesce(p.call_id, sa.call_id)
    ),
        calls_written AS (
            INSERT INTO dispatch_callmetrics (call_id, received_at, incident_type_id, priority, status, disposition, channel, received_to_dispatch, dispatch_to_acknowledgement, acknowledgement_to_on_scene, received_to_on_scene) SELECT call_id, received_at, incident_type_id, priority, status, disposition, channel, received_to_dispatch, dispatch_to_acknowledgement, acknowledgement_to_on_scene, received_to_on_scene FROM call_m
            ON CONFLICT (call_id) DO UPDATE SET received_at = EXCLUDED.received_at, incident_type_id = EXCLUDED.incident_type_id, priority = EXCLUDED.priority, status = EXCLUDED.status, disposition = EXCLUDED.disposition, channel = EXCLUDED.channel, received_to_dispatch = EXCLUDED.received_to_dispatch, dispatch_to_acknowledgement = EXCLUDED.dispatch_to_acknowledgement, acknowledgement_to_on_scene = EXCLUDED.acknowledgement_to_on_scene, received_to_on_scene = EXCLUDED.received_to_on_scene
            RETURNING 1
        )
        INSERT INTO dispatch_callservicemetrics (call_id, service, received_at, sent, received_to_dispatch, dispatch_to_acknowledgement, acknowledgement_to_on_scene, received_to_on_scene) SELECT call_id, service, received_at, sent, received_to_dispatch, dispatch_to_acknowledgement, acknowledgement_to_on_scene, received_to_on_scene FROM service_m
        ON CONFLICT (call_id, service) DO UPDATE SET received_at = EXCLUDED.received_at, sent = EXCLUDED.sent, received_to_dispatch = EXCLUDED.received_to_dispatch, dispatch_to_acknowledgement = EXCLUDED.dispatch_to_acknowledgement, acknowledgement_to_on_scene = EXCLUDED.acknowledgement_to_on_scene, received_to_on_scene = EXCLUDED.received_to_on_scene
"""


class Migration(migrations.Migration):

    dependencies = [
        ("dispatch", "0004_call_metrics"),
    ]

    operations = [
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
