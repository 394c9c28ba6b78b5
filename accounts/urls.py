"""/api/v1/ routes of the accounts app."""

from django.urls import path

from . import apis

urlpatterns = [
    path("auth/token/", apis.TokenView.as_view(), name="auth-token"),
]
