"""Every endpoint × every persona: the status code each one gets."""

import pytest

from calls.models import IncidentType
from calls.services import call_create
from dispatch import services
from tests.calls.test_aml_parser import v1
from tests.conftest import client_for, crew, point
from tests.factories import token_for

pytestmark = pytest.mark.django_db

PERSONAS = ("anon", "operator", "supervisor", "gateway", "crew_own", "crew_other")

# (method, path, body, expected codes in PERSONAS order)
MATRIX = [
    ("get", "/api/v1/calls/", None, (401, 200, 200, 403, 403, 403)),
    ("post", "/api/v1/calls/", {"incident_type": "other"}, (401, 201, 201, 403, 403, 403)),
    ("get", "/api/v1/calls/{call}/", None, (401, 200, 200, 403, 403, 403)),
    ("get", "/api/v1/calls/{call}/timeline/", None, (401, 200, 200, 403, 403, 403)),
    ("post", "/api/v1/calls/{call}/notes/", {"text": "hi"}, (401, 200, 200, 403, 403, 403)),
    ("get", "/api/v1/units/", None, (401, 200, 200, 403, 403, 403)),
    ("get", "/api/v1/units/{own}/", None, (401, 200, 200, 403, 403, 403)),
    ("post", "/api/v1/units/", {"callsign": "P-9", "service": "police"}, (401, 403, 201, 403, 403, 403)),
    ("patch", "/api/v1/units/{own}/", {"home_station": "North"}, (401, 403, 200, 403, 403, 403)),
    ("post", "/api/v1/units/{own}/token/", None, (401, 403, 200, 403, 403, 403)),
    ("get", "/api/v1/me/", None, (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/me/status/", {"status": "out_of_service"}, (401, 403, 403, 403, 409, 200)),
    ("post", "/api/v1/me/location/", {"lat": 51.1, "lon": 71.4, "recorded_at": "{now}"},
     (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/assignments/{assignment}/acknowledge/", None, (401, 403, 403, 403, 200, 404)),
    ("post", "/api/v1/assignments/{assignment}/decline/", {"reason": "x"}, (401, 403, 403, 403, 200, 404)),
    ("post", "/api/v1/assignments/{assignment}/arrive/", None, (401, 403, 403, 403, 200, 404)),
    ("post", "/api/v1/assignments/{assignment}/clear/", None, (401, 403, 403, 403, 409, 404)),
    ("post", "/api/v1/assignments/{assignment}/cancel/", {}, (401, 200, 200, 403, 403, 403)),
    ("post", "/api/v1/aml/", {"msisdn": "+77011234567", "message": "{aml}"}, (401, 403, 403, 201, 403, 403)),
    ("get", "/api/v1/events/", None, (401, 200, 200, 403, 403, 403)),
    ("get", "/api/v1/incident-types/", None, (401, 200, 200, 403, 403, 403)),
    ("get", "/api/v1/geocode/?q=abay", None, (401, 200, 200, 403, 403, 403)),
    ("get", "/api/v1/geocode/reverse/?lat=51.128&lon=71.43", None, (401, 200, 200, 403, 403, 403)),
]


@pytest.fixture
def world(operator, supervisor, gateway, unit_a, unit_b):
    from django.utils import timezone

    call = call_create(actor=None, incident_type=IncidentType.objects.get(code="cardiac_arrest"),
                       location={"point": point(), "accuracy_m": 10})
    assignment = services.assign_unit(call_id=call.pk, unit_id=unit_a.pk)
    clients = {
        "anon": client_for(),
        "operator": client_for(token=token_for(operator)),
        "supervisor": client_for(token=token_for(supervisor)),
        "gateway": client_for(token=token_for(gateway)),
        "crew_own": crew(unit_a),
        "crew_other": crew(unit_b),
    }
    values = {"call": call.pk, "own": unit_a.pk, "assignment": assignment.pk, "now": timezone.now().isoformat(),
              "aml": v1()}
    return clients, values


def _fill(obj, values):
    if isinstance(obj, str):
        return obj.format(**values) if "{" in obj else obj
    if isinstance(obj, dict):
        return {k: _fill(v, values) for k, v in obj.items()}
    return obj


@pytest.mark.parametrize("persona_index,persona", list(enumerate(PERSONAS)))
@pytest.mark.parametrize("method,path,body,expected", MATRIX, ids=[f"{m} {p}" for m, p, _b, _e in MATRIX])
def test_permission_matrix(world, persona_index, persona, method, path, body, expected):
    clients, values = world
    client = clients[persona]
    response = getattr(client, method)(_fill(path, values), _fill(body, values), format="json")
    assert response.status_code == expected[persona_index], response.content[:300]
