import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.gis.geos import Point
from django.utils import timezone
from rest_framework.authtoken.models import Token

from units.models import Unit


def make_user(username, role=None, password="pass-1234-word"):
    user = get_user_model().objects.create_user(username=username, password=password)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    Token.objects.create(user=user)
    return user


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
