"""/api/v1/ routes of the accounts app."""

from django.urls import path

from . import apis, lockouts

urlpatterns = [
    path("auth/token/", apis.TokenView.as_view(), name="auth-token"),
    path("lockouts/", lockouts.LockoutsView.as_view(), name="lockouts"),
    path("account/language/", apis.AccountLanguageView.as_view(), name="account-language"),
]
