import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.tokens import issue_token
from calls.models import IncidentType
from calls.services import call_create
from units.models import Unit


def make_user(username, role=None, password="pass-1234-word"):
    user = get_user_model().objects.create_user(username=username, password=password)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    user.api_token = issue_token(user)
    return user


def token_for(user):
    """The API token of a user made by make_user, else a new one (tokens are stored hashed)."""
    token = getattr(user, "api_token", None)
    if token is None:
        token = user.api_token = issue_token(user)
    return token


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    callsign = factory.Sequence(lambda n: f"U-{n}")
    service = "medical"
    capabilities = factory.LazyFunction(list)
    status = "available"
    location = factory.LazyFunction(lambda: Point(71.43, 51.128, srid=4326))
    location_accuracy_m = 10
    location_recorded_at = factory.LazyFunction(timezone.now)
    status_changed_at = factory.LazyFunction(timezone.now)


def new_call(code="cardiac_arrest", lat=51.128, lon=71.43, accuracy=10, **kw):
    """A call made by calls.services.call_create, as the API makes it; located by the operator
    unless lat is None."""
    location = None
    if lat is not None:
        location = {"point": Point(lon, lat, srid=4326), "accuracy_m": accuracy, "source": "operator"}
    return call_create(actor=None, incident_type=IncidentType.objects.get(code=code), location=location, **kw)
