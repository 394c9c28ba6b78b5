"""GET /calls/{id}/eido/: one call as a NENA EIDO JSON document (NENA-STA-021)."""

import xml.etree.ElementTree as ET

import pytest

from calls.models import IncidentType
from calls.services import call_add_note, call_create
from dispatch import services
from tests.conftest import crew, point
from tests.factories import UnitFactory

pytestmark = pytest.mark.django_db

PIDF = "{urn:ietf:params:xml:ns:pidf}"
GS = "{http://www.opengis.net/pidflo/1.0}"
GML = "{http://www.opengis.net/gml}"


@pytest.fixture
def worked_call(operator):
    """A call taken by an operator, one unit sent by hand, acknowledged and on scene."""
    unit = UnitFactory(callsign="A-12", service="medical", capabilities=["als"])
    call = call_create(actor=operator, incident_type=IncidentType.objects.get(code="cardiac_arrest"),
                       caller_phone="+77011234567", caller_name="Айгерим",
                       location={"point": point(51.128, 71.43), "accuracy_m": 15, "source": "aml"})
    assignment = services.assign_unit(call_id=call.pk, unit_id=unit.pk, actor=operator)
    device = crew(unit)
    assert device.post(f"/api/v1/assignments/{assignment.pk}/acknowledge/").status_code == 200
    assert device.post(f"/api/v1/assignments/{assignment.pk}/arrive/").status_code == 200
    call_add_note(call_id=call.pk, actor=operator, text="3rd floor")
    call.refresh_from_db()
    return call


def components_by_id(doc):
    out = {}
    for value in doc.values():
        for component in value if isinstance(value, list) else [value] if isinstance(value, dict) else []:
            if "$id" in component:
                out[component["$id"]] = component
    return out


def test_eido_document_has_the_nena_components(supervisor_client, worked_call):
    response = supervisor_client.get(f"/api/v1/calls/{worked_call.pk}/eido/")
    assert response.status_code == 200, response.content
    doc = response.json()
    assert doc["eidoVersion"] == "1.0"
    assert doc["$id"].startswith("urn:emergency:uid:incidentid:" + worked_call.reference)
    for key in ("lastUpdateTimeStamp", "updatedByAgencyReference", "issuingElementIdentification",
                "incidentComponent", "callComponent", "locationComponent", "agencyComponent", "agentComponent",
                "dispatchComponent", "emergencyResourceComponent", "personComponent", "notesComponent"):
        assert key in doc, key
    # Every data component carries the schema's prologue.
    for component in components_by_id(doc).values():
        assert {"$id", "lastUpdateTimeStamp", "updatedByAgencyReference"} <= set(component)

    incident = doc["incidentComponent"]
    assert incident["incidentTypeInternalCode"] == "cardiac_arrest"
    assert incident["incidentStatusInternalText"] == ["on_scene"] and incident["incidentPriorityInternalText"] == "P1"

    (call,) = doc["callComponent"]
    assert call["direction"] == "incoming" and call["standardPrimaryCallType"] == "emergency"
    assert call["priorityIdentifier"] == "highest" and call["callStateRegistryText"] == "callAnswered"
    assert call["callStartTimestamp"].startswith(str(worked_call.received_at.year))
    assert doc["callbackComponent"][0]["callBackInformationUri"] == ["tel:+77011234567"]


def test_references_all_resolve_inside_the_document(supervisor_client, worked_call):
    doc = supervisor_client.get(f"/api/v1/calls/{worked_call.pk}/eido/").json()
    ids = set(components_by_id(doc))

    def refs(node):
        if isinstance(node, dict):
            if set(node) == {"$ref"}:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = set(refs({k: v for k, v in doc.items() if k != "@context"}))
    assert found and found <= ids, found - ids


def test_location_carries_its_uncertainty_as_a_pidf_lo_circle(supervisor_client, worked_call):
    doc = supervisor_client.get(f"/api/v1/calls/{worked_call.pk}/eido/").json()
    incident_location = next(c for c in doc["locationComponent"] if c["locationTypeDescriptionRegistryText"] == "Incident")
    presence = ET.fromstring(incident_location["locationByValue"])
    assert presence.tag == f"{PIDF}presence"
    circle = presence.find(f".//{GS}Circle")
    assert circle is not None and circle.get("srsName") == "urn:ogc:def:crs:EPSG::4326"
    assert circle.find(f"{GML}pos").text == "51.128000 71.430000"
    radius = circle.find(f"{GS}radius")
    assert float(radius.text) == 15.0 and radius.get("uom") == "urn:ogc:def:uom:EPSG::9001"


def test_dispatched_resources_agencies_and_journal(supervisor_client, worked_call, operator):
    doc = supervisor_client.get(f"/api/v1/calls/{worked_call.pk}/eido/").json()
    (resource,) = doc["emergencyResourceComponent"]
    assert resource["emergencyResourceName"] == "A-12"
    assert resource["primaryUnitStatusRegistryText"] == "OnScene"
    assert resource["resourceAttributeRegistryText"] == ["als"]
    (dispatch,) = doc["dispatchComponent"]
    assert dispatch["emergencyResourceReference"] == [{"$ref": resource["$id"]}]
    agencies = {a["$id"]: a for a in doc["agencyComponent"]}
    owning = [a for a in agencies.values() if a["incidentOwningAgencyIndicator"]]
    assert len(owning) == 1 and owning[0]["agencyType"] == ["psap"]
    assert agencies[dispatch["agencyReference"]["$ref"]]["agencyType"] == ["ems"]
    agents = {a["$id"]: a for a in doc["agentComponent"]}
    assert "Call Taking" in agents[f"op1@{owning[0]['$id']}"]["agentRoleRegistryText"]
    notes = [n["notesActionComments"] for n in doc["notesComponent"]]
    assert "call.created: cardiac_arrest P1" in notes and any("3rd floor" in n for n in notes)
    assert "Caller name: Айгерим" in notes


def test_a_call_without_location_phone_or_units_is_still_a_valid_document(supervisor_client, operator):
    call = call_create(actor=operator, incident_type=IncidentType.objects.get(code="other"))
    doc = supervisor_client.get(f"/api/v1/calls/{call.pk}/eido/").json()
    assert doc["locationComponent"] == [] and doc["callbackComponent"] == []
    assert doc["emergencyResourceComponent"] == [] and doc["dispatchComponent"] == []
    assert len(doc["agencyComponent"]) == 1
