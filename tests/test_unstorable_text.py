"""Text PostgreSQL cannot store (NUL, a lone surrogate: both valid JSON) is a 400 naming
the field on every JSON endpoint, never a 500 from the field that forgot to check."""

import json

import pytest

from core.parsers import UNSTORABLE_TEXT

pytestmark = pytest.mark.django_db


def post_raw(client, path, body):
    return client.generic("POST", path, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(("body", "field"), [
    ({"incident_type": "cardiac\u0000arrest"}, "incident_type"),  # a slug looked up as is
    ({"incident_type": "cardiac_arrest", "description": "pain\ud800"}, "description"),
    ({"incident_type": "cardiac_arrest", "location": {"lat": 51.1, "lon": 71.4, "x\u0000": 1}}, "location.x\u0000"),
    ({"incident_type": "cardiac_arrest", "tags": ["ok", "\udfff"]}, "tags.1"),
])
def test_calls_refuse_unstorable_text_naming_the_field(operator_client, body, field):
    from calls.models import Call

    response = post_raw(operator_client, "/api/v1/calls/", body)
    assert response.status_code == 400
    assert response.json() == {field: [UNSTORABLE_TEXT]}
    assert not Call.objects.exists()


def test_the_same_text_without_the_bad_characters_is_taken(operator_client):
    response = post_raw(operator_client, "/api/v1/calls/", {"incident_type": "cardiac_arrest", "description": "pain"})
    assert response.status_code == 201, response.content


def test_sign_in_and_aml_refuse_it_too(anon_client, gateway_client):
    response = post_raw(anon_client, "/api/v1/auth/token/", {"username": "op\u0000", "password": "x"})
    assert response.status_code == 400 and response.json() == {"username": [UNSTORABLE_TEXT]}
    response = post_raw(gateway_client, "/api/v1/aml/", {"msisdn": "+77011234567", "message": "A\"ML=1;\ud800"})
    assert response.status_code == 400 and response.json() == {"message": [UNSTORABLE_TEXT]}
