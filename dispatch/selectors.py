"""Reads for supervisors (issue 8): history export rows, response-time statistics, a call's
NENA EIDO document, a unit's track. Writes live in services.py; nothing here changes a row.
"""

from contextlib import contextmanager
from datetime import timedelta
from xml.etree import ElementTree as ET

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import F, FloatField, Func, OuterRef, Q
from django.utils import timezone

from calls.models import Call
from calls.statuses import CallStatus
from core.models import Event
from dispatch.statuses import AssignmentStatus
from units.models import UnitPosition

from . import metrics
from .metrics import INTERVALS
from .models import Assignment

# --- history export -------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "reference", "received_at", "status", "priority", "incident_type", "caller_phone", "address", "lat", "lon",
    "dispatched_at", "on_scene_at", "closed_at", "disposition", "time_to_dispatch_s", "time_to_arrival_s", "units",
)
# Rows per keyset page of the export: memory stays at about one page (~1 MB with long
# addresses).
EXPORT_CHUNK_ROWS = 1000


class _GeographyCoord(Func):
    """ST_X / ST_Y of a geography point (they take geometry, hence the cast)."""

    template = "%(function)s((%(expressions)s)::geometry)"
    output_field = FloatField()


def call_export_rows(queryset, chunk_size=None):
    """Yield one tuple per call of `queryset` (already filtered), newest first, in
    EXPORT_COLUMNS order, without ever holding more than `chunk_size` rows.

    Only the exported columns are selected (values_list), the units' callsigns come from a
    correlated array subquery (no join that would multiply rows), and the rows come in
    keyset pages of `chunk_size` on (received_at, id), each its own short query on the
    history index. No transaction spans the download: a supervisor's slow connection
    must not keep a snapshot open (vacuum) or trip idle_in_transaction_session_timeout.
    Calls that change while the export runs appear as they were when their page was
    read; ended calls never change.
    """
    if queryset.query.distinct:
        # The service/unit filters join and de-duplicate; keep them as a semi-join so the
        # export selects plain columns (DISTINCT over them would sort the whole result).
        queryset = Call.objects.filter(pk__in=queryset.order_by().values("pk"))
    callsigns = ArraySubquery(
        Assignment.objects.filter(call=OuterRef("pk")).order_by("assigned_at", "id").values("unit__callsign")
    )
    rows = (
        queryset.order_by("-received_at", "-id")
        .annotate(
            x_lat=_GeographyCoord("location", function="ST_Y"),
            x_lon=_GeographyCoord("location", function="ST_X"),
            x_type=F("incident_type__code"),
            x_units=callsigns,
        )
        .values_list(
            "reference", "received_at", "status", "priority", "x_type", "caller_phone", "address", "x_lat", "x_lon",
            "dispatched_at", "on_scene_at", "closed_at", "disposition", "x_units", "id",
        )
    )
    size = chunk_size or EXPORT_CHUNK_ROWS
    after = None
    while True:
        page = rows if after is None else rows.filter(
            Q(received_at__lt=after[0]) | Q(received_at=after[0], id__lt=after[1])
        )
        chunk = list(page[:size])
        for (ref, received, status, priority, type_, phone, address, lat, lon, dispatched, on_scene, closed,
             disposition, units, _pk) in chunk:
            yield (
                ref, received, status, priority, type_, phone, address, lat, lon, dispatched, on_scene, closed,
                disposition, _seconds(received, dispatched), _seconds(received, on_scene),
                list(dict.fromkeys(units or ())),  # a unit sent twice is listed once, in order
            )
        if len(chunk) < size:
            return
        after = (chunk[-1][1], chunk[-1][-1])


def _seconds(start, end):
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


# --- history page ---------------------------------------------------------------------------

# The columns of a call's representation (CallSerializer) read straight into dicts.
_CALL_LIST_COLUMNS = (
    "id", "reference", "status", "priority", "caller_phone", "caller_name", "channel", "description", "address",
    "location_accuracy_m", "location_source", "received_at", "dispatched_at", "on_scene_at", "closed_at",
    "hold_reason", "merged_into_id", "unmet_needs", "disposition",
)
_ASSIGNMENT_LIST_COLUMNS = (
    "id", "call_id", "unit_id", "unit__callsign", "unit__service", "status", "service", "capability", "distance_m",
    "reason", "assigned_at", "ack_deadline", "acknowledged_at", "on_scene_at", "cleared_at", "ended_at", "end_reason",
)


@contextmanager
def short_reads():
    """A transaction for a page's few short queries, without parallel workers: on two cores
    launching one costs ~20 ms for a query that takes 5 ms alone (the map-area filter at
    1,000,000 calls: 25 ms with a worker, 4.6 ms without)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def call_list_rows(queryset):
    """`queryset` (filtered Calls) as a values() queryset of the columns a history page shows,
    for the paginator to slice. See call_list_representation for why not model instances."""
    return queryset.annotate(
        x_lat=_GeographyCoord("location", function="ST_Y"),
        x_lon=_GeographyCoord("location", function="ST_X"),
        x_type=F("incident_type__code"),
    ).values(*_CALL_LIST_COLUMNS, "x_lat", "x_lon", "x_type")


def _datetime_formatter():
    """DRF's DateTimeField output (ISO 8601 in the current time zone, `Z` for UTC), without
    a field object per value."""
    tz = timezone.get_current_timezone()

    def fmt(value):
        if value is None:
            return None
        text = value.astimezone(tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return fmt


def call_list_representation(rows):
    """CallSerializer's representation of a page of `call_list_rows` dicts, in three queries
    (calls, their assignments with units, their possible duplicates).

    Model instances made a page cost ~4,000 objects in reference cycles (call ↔ prefetched
    assignments ↔ their call) and ~30 ms of serializer fields; at 1,000,000 calls that, and
    the collector passes it provoked, were most of the history page's p99. A test holds this
    function equal to CallSerializer for every kind of call.
    """
    ids = [row["id"] for row in rows]
    fmt = _datetime_formatter()
    assignments = {call_id: [] for call_id in ids}
    for a in Assignment.objects.filter(call_id__in=ids).order_by("id").values(*_ASSIGNMENT_LIST_COLUMNS):
        assignments[a["call_id"]].append(a)
    duplicates = {call_id: [] for call_id in ids}
    for from_id, to_id in Call.possible_duplicates.through.objects.filter(from_call_id__in=ids).values_list(
        "from_call_id", "to_call_id"
    ):
        duplicates[from_id].append(to_id)
    out = []
    for row in rows:
        call_id = row["id"]
        location = None
        if row["x_lat"] is not None:
            location = {"lat": row["x_lat"], "lon": row["x_lon"], "accuracy_m": row["location_accuracy_m"],
                        "source": row["location_source"]}
        out.append({
            "id": call_id,
            "reference": row["reference"],
            "status": row["status"],
            "priority": row["priority"],
            "incident_type": row["x_type"],
            "caller_phone": row["caller_phone"],
            "caller_name": row["caller_name"],
            "channel": row["channel"],
            "description": row["description"],
            "address": row["address"],
            "location": location,
            "received_at": fmt(row["received_at"]),
            "dispatched_at": fmt(row["dispatched_at"]),
            "on_scene_at": fmt(row["on_scene_at"]),
            "closed_at": fmt(row["closed_at"]),
            "hold_reason": row["hold_reason"] or None,
            "possible_duplicates": sorted(duplicates[call_id]),
            "merged_into": row["merged_into_id"],
            "unmet_needs": row["unmet_needs"],
            "assignments": [{
                "id": a["id"],
                "call": call_id,
                "call_reference": row["reference"],
                "unit": {"id": a["unit_id"], "callsign": a["unit__callsign"], "service": a["unit__service"]},
                "status": a["status"],
                "service": a["service"],
                "capability": a["capability"],
                "distance_m": a["distance_m"],
                "reason": a["reason"],
                "assigned_at": fmt(a["assigned_at"]),
                "ack_deadline": fmt(a["ack_deadline"]),
                "acknowledged_at": fmt(a["acknowledged_at"]),
                "on_scene_at": fmt(a["on_scene_at"]),
                "cleared_at": fmt(a["cleared_at"]),
                "ended_at": fmt(a["ended_at"]),
                "end_reason": a["end_reason"],
            } for a in assignments[call_id]],
            "disposition": row["disposition"] or None,
        })
    return out


# --- statistics -------------------------------------------------------------------------------

STATS_DEFAULT_DAYS = 7
STATS_MAX_DAYS = 366
PERCENTILES = (0.5, 0.9, 0.95)

# The period's facts: the metrics rows of the calls that ended (dispatch/metrics.py) and,
# measured now by the same SQL, the calls still open. `m` has one row per call, `sm` one per
# call and service concerned.
_PERIOD = (
    "WITH c AS (SELECT " + metrics.CALL_COLUMNS + " FROM {call} WHERE status = ANY(%(open)s)"
    " AND received_at >= %(start)s AND received_at < %(end)s),"
    + metrics.MEASURE + """,
m AS (
    SELECT {m_cols} FROM {metrics} WHERE received_at >= %(start)s AND received_at < %(end)s
    UNION ALL SELECT {m_cols} FROM call_m
),
sm AS (
    SELECT {s_cols} FROM {service_metrics} WHERE received_at >= %(start)s AND received_at < %(end)s
    UNION ALL SELECT {s_cols} FROM service_m
)
"""
).format(**metrics.TABLES, m_cols=metrics.METRICS_COLUMNS, s_cols=metrics.SERVICE_METRICS_COLUMNS)


def _percentile_columns(names):
    # percentile_cont ignores NULLs, so each interval is over the calls that reached both ends.
    cols = []
    for name in names:
        cols.append(f"percentile_cont(%(percentiles)s::float8[]) WITHIN GROUP (ORDER BY {name})")
        cols.append(f"count({name})")
    return ", ".join(cols)


def _intervals(row, names):
    """Turn (array, n, array, n, …) columns into {"name": {"n", "p50", "p90", "p95"}}."""
    out = {}
    for i, name in enumerate(names):
        values, n = row[2 * i], row[2 * i + 1]
        out[name] = {"n": n, **{_pkey(p): (round(v, 3) if v is not None else None)
                                for p, v in zip(PERCENTILES, values or [None] * len(PERCENTILES))}}
    return out


def _pkey(p):
    return f"p{round(p * 100)}"


def _target(within, n, target_s, target_share):
    share = round(within / n, 4) if n else None
    return {"interval": "received_to_dispatch", "target_s": target_s, "target_share": target_share,
            "calls": n, "within": within, "share": share, "met": None if share is None else share >= target_share}


def call_statistics(*, start, end, target_s=None, target_share=None, tz=None):
    """Counts and response-time percentiles of the calls received in [start, end).

    All aggregation runs in PostgreSQL (percentile_cont … WITHIN GROUP, GROUPING SETS) over
    the narrow per-call metrics rows (dispatch/metrics.py): a year is ~1,000,000 calls and
    none of them is loaded into Python, nor are their assignments read again.
    The target is NFPA 1225's processing time: `target_share` of dispatched calls within
    `target_s` seconds from received to first dispatch (defaults 60 s, 90 %).
    """
    target_s = float(getattr(settings, "STATS_DISPATCH_TARGET_S", 60) if target_s is None else target_s)
    target_share = float(getattr(settings, "STATS_DISPATCH_TARGET_SHARE", 0.9) if target_share is None else target_share)
    tz = tz or settings.TIME_ZONE
    params = {"start": start, "end": end, "tz": tz, "target": target_s, "percentiles": list(PERCENTILES),
              "open": list(CallStatus.OPEN)}
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cur:
        if outermost:
            # One snapshot for the four statements: a call that ends meanwhile is counted
            # once, either open (measured live) or ended (its metrics row), in every figure.
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # Row estimates through the CTEs are poor, so PostgreSQL would JIT-compile these
        # queries: 0.75 s of compiling for 0.1 s of work over a week of calls. A year of
        # calls sorts ~1,000,000 values per percentile: in memory, not in temporary files.
        cur.execute("SET LOCAL jit = off")
        cur.execute("SET LOCAL work_mem = '64MB'")
        # 1. The whole period.
        cur.execute(
            _PERIOD + f" SELECT {_percentile_columns(INTERVALS)}, count(*),"
                      " count(*) FILTER (WHERE received_to_dispatch <= %(target)s) FROM m",
            params,
        )
        row = cur.fetchone()
        calls, within = row[-2], row[-1]
        overall = _intervals(row, INTERVALS)
        dispatched = overall["received_to_dispatch"]["n"]

        # 2. Per hour of the day (local time), for the dispatch interval and the target.
        cur.execute(
            _PERIOD + " SELECT EXTRACT(HOUR FROM received_at AT TIME ZONE %(tz)s)::int AS hour,"
                      f" {_percentile_columns(('received_to_dispatch', 'received_to_on_scene'))}, count(*),"
                      " count(*) FILTER (WHERE received_to_dispatch <= %(target)s) FROM m GROUP BY 1 ORDER BY 1",
            params,
        )
        hours = {r[0]: r for r in cur.fetchall()}
        by_hour = []
        for hour in range(24):
            r = hours.get(hour)
            if r is None:
                by_hour.append({"hour": hour, "calls": 0,
                                **_intervals([None, 0, None, 0], ("received_to_dispatch", "received_to_on_scene")),
                                "target": _target(0, 0, target_s, target_share)})
                continue
            iv = _intervals(r[1:5], ("received_to_dispatch", "received_to_on_scene"))
            by_hour.append({"hour": hour, "calls": r[5], **iv,
                            "target": _target(r[6], iv["received_to_dispatch"]["n"], target_s, target_share)})

        # 3. Per service concerned (planned or sent; dispatch/metrics.py).
        cur.execute(
            _PERIOD + f" SELECT service, {_percentile_columns(INTERVALS)}, count(*), count(*) FILTER (WHERE sent),"
                      " count(*) FILTER (WHERE received_to_dispatch <= %(target)s) FROM sm GROUP BY service"
                      " ORDER BY service",
            params,
        )
        by_service = []
        for r in cur.fetchall():
            iv = _intervals(r[1:9], INTERVALS)
            by_service.append({"service": r[0], "calls": r[9], "with_unit": r[10], "intervals": iv,
                               "target": _target(r[11], iv["received_to_dispatch"]["n"], target_s, target_share)})

        # 4. Counts, every dimension in one scan of the period.
        cur.execute(
            _PERIOD + """
            SELECT t.code, m.priority, m.status, m.disposition, m.channel, count(*),
                   GROUPING(t.code), GROUPING(m.priority), GROUPING(m.status), GROUPING(m.disposition)
            FROM m JOIN {type} t ON t.id = m.incident_type_id
            GROUP BY GROUPING SETS ((t.code), (m.priority), (m.status), (m.disposition), (m.channel))
            """.format(**metrics.TABLES),
            params,
        )
        counts = {"incident_type": {}, "priority": {}, "status": {}, "disposition": {}, "channel": {}}
        for code, priority, status, disposition, channel, n, g_type, g_priority, g_status, g_disposition in cur.fetchall():
            if not g_type:
                counts["incident_type"][code] = n
            elif not g_priority:
                counts["priority"][str(priority)] = n
            elif not g_status:
                counts["status"][status] = n
            elif not g_disposition:
                counts["disposition"][disposition or "none"] = n
            else:
                counts["channel"][channel] = n
    counts["service"] = {s["service"]: s["calls"] for s in by_service}
    for key in counts:
        counts[key] = dict(sorted(counts[key].items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "period": {"received_after": start, "received_before": end, "time_zone": tz},
        "calls": calls,
        "counts": counts,
        "intervals": overall,
        "target": _target(within, dispatched, target_s, target_share),
        "by_service": by_service,
        "by_hour": by_hour,
    }


def stats_period(received_after=None, received_before=None, now=None):
    """The default period: the 7 days before `received_before` (or now)."""
    end = received_before or now or timezone.now()
    start = received_after or end - timedelta(days=STATS_DEFAULT_DAYS)
    return start, end


# --- a unit's track -----------------------------------------------------------------------------

TRACK_MAX_POINTS = 5000
TRACK_MAX_SPAN = timedelta(hours=24)


def unit_track(*, unit_id, start, end, limit=TRACK_MAX_POINTS):
    """The fixes a unit's device sent in [start, end], oldest first, at most `limit`."""
    rows = list(
        UnitPosition.objects.filter(unit_id=unit_id, recorded_at__gte=start, recorded_at__lte=end)
        .order_by("recorded_at", "id")
        .annotate(x_lat=_GeographyCoord("location", function="ST_Y"), x_lon=_GeographyCoord("location", function="ST_X"))
        .values_list("x_lat", "x_lon", "accuracy_m", "heading", "speed_mps", "recorded_at")[: limit + 1]
    )
    points = [
        {"lat": lat, "lon": lon, "accuracy_m": acc, "heading": heading, "speed_mps": speed, "recorded_at": at}
        for lat, lon, acc, heading, speed, at in rows[:limit]
    ]
    return points, len(rows) > limit


# --- NENA EIDO -----------------------------------------------------------------------------------

EIDO_CONTEXT = "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"
# Agency types: values of the IANA urn:emergency:service:responder registry that the schema
# refers to, without the prefix. It has no utility crews; theirs is our local word.
EIDO_AGENCY_TYPE = {"police": "police", "medical": "ems", "fire": "fire", "utility": "utility"}
EIDO_CALL_PRIORITY = {1: "highest", 2: "high", 3: "normal", 4: "low"}
# PIDF-LO <method> per location source (RFC 4119 method tokens).
EIDO_LOCATION_METHOD = {"aml": "A-GPS", "caller_app": "GPS", "address": "Derived", "operator": "Manual"}
EIDO_UNIT_STATUS = {
    AssignmentStatus.ASSIGNED: "Dispatched", AssignmentStatus.ACKNOWLEDGED: "Enroute",
    AssignmentStatus.ON_SCENE: "OnScene", AssignmentStatus.CLEARED: "Cleared",
    AssignmentStatus.DECLINED: "Declined", AssignmentStatus.TIMED_OUT: "NoResponse",
    AssignmentStatus.CANCELLED: "Cancelled",
}
_NS = {
    "": "urn:ietf:params:xml:ns:pidf",
    "gp": "urn:ietf:params:xml:ns:pidf:geopriv10",
    "gml": "http://www.opengis.net/gml",
    "gs": "http://www.opengis.net/pidflo/1.0",
}


def _iso(dt):
    return timezone.localtime(dt).isoformat() if dt else None


def pidf_lo_circle(*, entity, lat, lon, radius_m, method, at):
    """A PIDF-LO document (RFC 4119 / RFC 5491) with the point and its uncertainty as a
    gs:Circle of `radius_m` metres (or a bare gml:Point when the accuracy is unknown)."""
    for prefix, uri in _NS.items():
        ET.register_namespace(prefix, uri)
    q = lambda ns, tag: f"{{{_NS[ns]}}}{tag}"  # noqa: E731
    presence = ET.Element(q("", "presence"), {"entity": entity})
    tuple_ = ET.SubElement(presence, q("", "tuple"), {"id": "location"})
    geopriv = ET.SubElement(ET.SubElement(tuple_, q("", "status")), q("gp", "geopriv"))
    info = ET.SubElement(geopriv, q("gp", "location-info"))
    srs = {"srsName": "urn:ogc:def:crs:EPSG::4326"}
    if radius_m is not None:
        shape = ET.SubElement(info, q("gs", "Circle"), srs)
        ET.SubElement(shape, q("gml", "pos")).text = f"{lat:.6f} {lon:.6f}"
        ET.SubElement(shape, q("gs", "radius"), {"uom": "urn:ogc:def:uom:EPSG::9001"}).text = f"{radius_m:g}"
    else:
        shape = ET.SubElement(info, q("gml", "Point"), srs)
        ET.SubElement(shape, q("gml", "pos")).text = f"{lat:.6f} {lon:.6f}"
    ET.SubElement(geopriv, q("gp", "usage-rules"))
    if method:
        ET.SubElement(geopriv, q("gp", "method")).text = method
    ET.SubElement(tuple_, q("", "timestamp")).text = _iso(at)
    return ET.tostring(presence, encoding="unicode")


def call_eido(*, call_id):
    """One call as a NENA Emergency Incident Data Object (EIDO, NENA-STA-021), a dict.

    Followed: the JSON schema NENA publishes for STA-021.1 (github.com/NENA911/EIDO-JSON,
    Schema/openapi.yaml, info.version 1.0.0: EmergencyIncidentDataObjectType and its
    components) and its sample "Samples/Sample call transfer EIDO.json". Every data
    component starts with the schema's prologue ($id, lastUpdateTimeStamp,
    updatedByAgencyReference), and components point at each other with {"$ref": $id}.

    What maps where:
      incidentComponent        the call for service: type, priority, status, disposition
      callComponent            the 112 call: start time, channel, callback, call taker
      callbackComponent        the caller's number as a tel: URI
      personComponent          the caller (role "Caller")
      locationComponent        the incident location as PIDF-LO (gs:Circle whose radius is
                               the accuracy: the uncertainty), the address as description;
                               the units' last known positions likewise
      agencyComponent          this centre (owning agency) and one agency per service sent
      agentComponent           the operators who took and dispatched the call, the crews
      dispatchComponent        one per assignment: agency, dispatcher, resource
      emergencyResourceComponent  one per unit sent: callsign, service, capabilities, status
      notesComponent           the journal (timeline) of the call, one note per event
      mergeComponent           the call this one was merged into / calls merged into it
    Where a value must come from a NENA registry we did not have (incident type, unit
    status, agent role), the field carries our own code and the schema's *Internal* twin
    carries it too, so a receiver can map it.
    """
    call = (
        Call.objects.select_related("incident_type", "created_by", "merged_into")
        .get(pk=call_id)
    )
    assignments = list(
        Assignment.objects.filter(call=call).select_related("unit", "assigned_by").order_by("assigned_at", "id")
    )
    events = list(Event.objects.filter(call=call).select_related("actor").order_by("id"))
    merged_from = list(Call.objects.filter(merged_into=call).values_list("reference", flat=True))

    agency = getattr(settings, "EIDO_AGENCY_ID", "112-dispatch.invalid")
    incident_id = f"urn:emergency:uid:incidentid:{call.reference}:{agency}"
    updated = _iso(call.updated_at)

    def prologue(id_, at=None):
        return {"$id": id_, "lastUpdateTimeStamp": _iso(at) or updated, "updatedByAgencyReference": {"$ref": agency}}

    def ref(id_):
        return {"$ref": id_}

    def agent_id(user):
        return f"{user.get_username()}@{agency}"

    # Agencies: this centre, then one per service that had a unit on the call.
    agencies = [{**prologue(agency), "agencyRoleDescriptionRegistryText": ["CallReceiving", "Dispatch"],
                 "agencyType": ["psap"], "incidentOwningAgencyIndicator": True}]
    service_agency = {}
    for a in assignments:
        service = a.unit.service
        if service not in service_agency:
            service_agency[service] = f"{service}.{agency}"
            agencies.append({**prologue(service_agency[service]), "agencyRoleDescriptionRegistryText": ["Responding"],
                             "agencyType": [EIDO_AGENCY_TYPE.get(service, service)],
                             "incidentOwningAgencyIndicator": False})

    agents = {}

    def add_agent(user, role, agency_id=agency):
        if user is None:
            return None
        id_ = agent_id(user)
        entry = agents.setdefault(id_, {**prologue(id_), "agentRoleRegistryText": [],
                                        "agencyReference": ref(agency_id)})
        if role not in entry["agentRoleRegistryText"]:
            entry["agentRoleRegistryText"].append(role)
        return id_

    taker = add_agent(call.created_by, "Call Taking")

    locations, persons, callbacks, notes = [], [], [], []
    incident_location = None
    if call.location is not None or call.address:
        incident_location = f"{incident_id}:location:incident"
        loc = {**prologue(incident_location), "locationTypeDescriptionRegistryText": "Incident"}
        if call.location is not None:
            loc["locationByValue"] = pidf_lo_circle(
                entity=f"pres:{call.reference}@{agency}", lat=call.location.y, lon=call.location.x,
                radius_m=call.location_accuracy_m, method=EIDO_LOCATION_METHOD.get(call.location_source), at=call.updated_at,
            )
        if call.address:
            loc["locationDescriptionText"] = call.address
        locations.append(loc)

    call_id_uri = f"urn:emergency:uid:callid:{call.reference}:{agency}"
    callback_id = None
    caller_id = f"{incident_id}:person:caller"
    if call.caller_phone:
        callback_id = f"{incident_id}:callback:caller"
        callbacks.append({**prologue(callback_id, call.received_at), "callBackInformationUri": [f"tel:{call.caller_phone}"]})
    caller = {**prologue(caller_id, call.received_at), "personIncidentRoleRegistryText": ["Caller"],
              "callIdentifier": [call_id_uri]}
    if callback_id:
        caller["callBackReference"] = ref(callback_id)
    if incident_location:
        caller["locationReference"] = [ref(incident_location)]
    if call.caller_name:
        note_id = f"{incident_id}:note:caller"
        notes.append({**prologue(note_id, call.received_at), "notesActionComments": f"Caller name: {call.caller_name}"})
        caller["notesReference"] = [ref(note_id)]
    persons.append(caller)

    call_component = {
        **prologue(call_id_uri, call.received_at),
        "standardPrimaryCallType": "emergency",
        "localCallType": call.channel,
        "direction": "incoming",
        "priorityIdentifier": EIDO_CALL_PRIORITY.get(call.priority, "normal"),
        "callStartTimestamp": _iso(call.received_at),
        "callStateRegistryText": "callEnd" if call.status in CallStatus.TERMINAL else "callAnswered",
        "personReference": [ref(caller_id)],
    }
    if taker:
        call_component["agentReference"] = [ref(taker)]
    if callback_id:
        call_component["callBackReference"] = ref(callback_id)
    if incident_location:
        call_component["locationReference"] = [ref(incident_location)]

    resources, dispatches, crew_by_user = {}, [], {}
    for a in assignments:
        unit = a.unit
        unit_agency = service_agency[unit.service]
        resource_id = f"{unit.callsign}.{unit_agency}"
        crew_id = f"{unit.callsign}@{unit_agency}"
        agents.setdefault(crew_id, {**prologue(crew_id), "agentRoleRegistryText": ["Responder"],
                                    "agencyReference": ref(unit_agency)})
        if unit.user_id is not None:
            crew_by_user[unit.user_id] = crew_id
        resource = resources.get(resource_id)
        if resource is None:
            resource = {
                **prologue(resource_id, a.ended_at or a.on_scene_at or a.acknowledged_at or a.assigned_at),
                "emergencyResourceTypeCommonRegistryText": unit.service,
                "emergencyResourceTypeInternalText": unit.service,
                "resourceAttributeRegistryText": list(unit.capabilities),
                "resourceAttributeInternalText": list(unit.capabilities),
                "emergencyResourceName": unit.callsign,
                "primaryUnitStatusRegistryText": EIDO_UNIT_STATUS.get(a.status, a.status),
                "secondaryUnitStatusRegistryText": [],
                "unitStatusInternal": [a.status, unit.status],
                "agentReference": [ref(crew_id)],
            }
            if unit.location is not None:
                unit_loc = f"{resource_id}:location"
                locations.append({
                    **prologue(unit_loc, unit.location_recorded_at), "locationTypeDescriptionRegistryText": "Unit",
                    "locationByValue": pidf_lo_circle(
                        entity=f"pres:{unit.callsign}@{unit_agency}", lat=unit.location.y, lon=unit.location.x,
                        radius_m=unit.location_accuracy_m, method="GPS", at=unit.location_recorded_at),
                })
                resource["unitLocationReference"] = ref(unit_loc)
            resources[resource_id] = resource
        else:
            # The same unit sent again later: its latest assignment gives the status.
            resource["primaryUnitStatusRegistryText"] = EIDO_UNIT_STATUS.get(a.status, a.status)
            resource["unitStatusInternal"] = [a.status, unit.status]
        dispatch = {**prologue(f"{incident_id}:dispatch:{a.pk}", a.assigned_at), "agencyReference": ref(unit_agency),
                    "emergencyResourceReference": [ref(resource_id)]}
        dispatcher = add_agent(a.assigned_by, "Dispatching")
        if dispatcher:
            dispatch["agentReference"] = ref(dispatcher)
        dispatches.append(dispatch)

    note_refs = []
    for e in events:
        note_id = f"{incident_id}:note:event:{e.pk}"
        note = {**prologue(note_id, e.at), "notesActionComments": f"{e.type}: {e.summary}" if e.summary else e.type}
        if e.actor_id in crew_by_user:  # a crew's device acted (acknowledge, arrive, clear)
            note["agentReference"] = ref(crew_by_user[e.actor_id])
        elif e.actor is not None:
            note["agentReference"] = ref(agent_id(e.actor) if agent_id(e.actor) in agents
                                         else add_agent(e.actor, "Dispatching"))
        notes.append(note)
        note_refs.append(ref(note_id))

    incident = {
        **prologue(f"{incident_id}:incident"),
        "incidentTypeCommonRegistryText": call.incident_type.code,
        "incidentTypeInternalCode": call.incident_type.code,
        "incidentTypeInternalText": call.incident_type.name_en,
        "incidentStatusInternalText": [call.status],
        "internalIncidentId": call.reference,
        "incidentPriorityInternalText": f"P{call.priority}",
        "personReference": [ref(caller_id)],
    }
    if incident_location:
        incident["locationReference"] = [ref(incident_location)]
    if taker:
        incident["agentReference"] = [ref(taker)]
    if call.disposition:
        incident["dispositionComponent"] = [{
            **prologue(f"{incident_id}:disposition", call.closed_at),
            "dispositionCommonRegistryCode": call.disposition, "dispositionPrimaryIndicator": True,
        }]
    if note_refs:
        incident["notesReference"] = note_refs

    merges = []
    if call.merged_into is not None:
        merges.append({**prologue(f"{incident_id}:merge:into"), "incidentMergeDirectionCode": "REPLACED",
                       "incidentTrackingIdentifier": f"urn:emergency:uid:incidentid:{call.merged_into.reference}:{agency}"})
    for reference in merged_from:
        merges.append({**prologue(f"{incident_id}:merge:{reference}"), "incidentMergeDirectionCode": "REPLACING",
                       "incidentTrackingIdentifier": f"urn:emergency:uid:incidentid:{reference}:{agency}"})

    document = {
        **prologue(incident_id),
        "eidoVersion": "1.0",
        "issuingElementIdentification": f"cad.{agency}",
        "incidentComponent": incident,
        "callComponent": [call_component],
        "callbackComponent": callbacks,
        "personComponent": persons,
        "locationComponent": locations,
        "agencyComponent": agencies,
        "agentComponent": list(agents.values()),
        "dispatchComponent": dispatches,
        "emergencyResourceComponent": list(resources.values()),
        "notesComponent": notes,
        "@context": {"@vocab": EIDO_CONTEXT},
    }
    if merges:
        document["mergeComponent"] = merges
    if taker:
        document["updatedByAgentReference"] = ref(taker)
    return document
