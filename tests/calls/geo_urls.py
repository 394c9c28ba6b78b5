"""A urlconf with only the geocoding views, so their tests do not depend on the rest of the API."""

from django.urls import path

from calls.geocode_api import GeocodeView, ReverseGeocodeView

urlpatterns = [
    path("api/v1/geocode/", GeocodeView.as_view(), name="geocode"),
    path("api/v1/geocode/reverse/", ReverseGeocodeView.as_view(), name="geocode-reverse"),
]
