"""One call as a NENA Emergency Incident Data Object (EIDO, NENA-STA-021), with its locations
as PIDF-LO documents."""

import mimetypes
from xml.etree import ElementTree as ET

from django.conf import settings
from django.utils import timezone

from calls.models import Call
from calls.statuses import CallStatus
from core.models import Event
from dispatch.statuses import AssignmentStatus

from .models import Assignment

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
    if call.alarm:
        _add_alarm(document, call.alarm)
    return document


# A call raised by a partner's alarm (integrations/) carries the alarm and its media link as
# NENA-STA-021's alarmsSensorsComponent and mediaComponent.
def _add_alarm(document, alarm):
    prologue = {
        "lastUpdateTimeStamp": document["lastUpdateTimeStamp"],
        "updatedByAgencyReference": document["updatedByAgencyReference"],
    }
    incident_id = document["$id"]
    text = f"{alarm.get('source_name') or alarm['source']} ({alarm['source']}): {alarm['kind']}, " \
           f"alarm {alarm['external_id']}"
    if alarm.get("occurred_at"):
        text += f", occurred {alarm['occurred_at']}"
    sensor = {"$id": f"{incident_id}:alarm", **prologue, "csaaAlarmInformation": text}
    media_url = alarm.get("media_url")
    if media_url:
        sensor["alarmUrl"] = media_url
        content_type = mimetypes.guess_type(media_url.split("?", 1)[0])[0] or "application/octet-stream"
        document["mediaComponent"] = [{"$id": f"{incident_id}:media:alarm", **prologue, "uri": media_url,
                                       "contentType": content_type, "label": f"{alarm['source']} {alarm['kind']}"}]
    document["alarmsSensorsComponent"] = [sensor]
    return document

