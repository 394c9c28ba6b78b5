from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter

from accounts.language import set_language
from calls.aml_api import AmlView
from calls.geocode_api import GeocodeView, ReverseGeocodeView
from core.api import SchemaView
from dispatch import assignment_apis, call_apis, feed_apis, unit_apis
from dispatch.basemap_apis import BasemapTileView
from dispatch.console import console, supervisor
from dispatch.pairing_apis import UnitPairingView
from dispatch.route_apis import RouteView
from ops.health import healthz
from ops.prometheus import metrics

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("calls", call_apis.CallViewSet, basename="call")
router.register("assignments", assignment_apis.AssignmentViewSet, basename="assignment")
router.register("units", unit_apis.UnitViewSet, basename="unit")
router.register("incident-types", call_apis.IncidentTypeViewSet, basename="incident-type")


api = [
    path("", include("accounts.urls")),
    path("me/", unit_apis.MeView.as_view(), name="me"),
    path("me/location/", unit_apis.MeLocationView.as_view(), name="me-location"),
    path("me/status/", unit_apis.MeStatusView.as_view(), name="me-status"),
    path("events/", feed_apis.EventFeedView.as_view(), name="events"),
    path("geocode/", GeocodeView.as_view(), name="geocode"),
    path("geocode/reverse/", ReverseGeocodeView.as_view(), name="geocode-reverse"),
    path("aml/", AmlView.as_view(), name="aml"),
    path("route/", RouteView.as_view(), name="route"),
    path("basemap/<str:z>/<str:x>/<str:y>.json", BasemapTileView.as_view(), name="basemap-tile"),
    path("units/<int:pk>/pairing/", UnitPairingView.as_view(), name="unit-pairing"),  # the crew app's QR
    path("", include("dispatch.supervisor_urls")),
    path("", include("integrations.urls")),
    path("", include(router.urls)),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include(api)),
    path("api/schema/", SchemaView.as_view(permission_classes=[AllowAny]), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]), name="docs"),
    path("supervisor/", supervisor, name="supervisor"),
    path("supervisor/", include("dispatch.console")),  # the supervisors' other pages (issue 8)
    # The language menu: Django's set_language, which also saves a signed-in user's choice.
    path("i18n/setlang/", set_language, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("crew/", include("dispatch.crew")),  # the crew app (no sign-in: the token lives in the phone)
    path("", console, name="console"),
]

# A database outage outside a view (a middleware reading the session) is a 503 too.
handler500 = "ops.middleware.server_error"
