"""Partner systems' API, included under /api/v1/ (docs/integrations.md)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import apis

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("alarm-sources", apis.AlarmSourceViewSet, basename="alarm-source")
router.register("subscriptions", apis.SubscriptionViewSet, basename="subscription")

urlpatterns = [
    path("alarms/", apis.AlarmView.as_view(), name="alarms"),
    path("alarm-sources/<int:pk>/token/", apis.AlarmSourceTokenView.as_view(), name="alarm-source-token"),
    path("", include(router.urls)),
]
