"""Supervisors' API: history export, statistics (issue 8). Included under /api/v1/.

Included before the router, so `calls/export.csv` is matched here and never taken for
`calls/{id}/`."""

from django.urls import path

from . import audit_apis, supervisor_apis

urlpatterns = [
    path("calls/export.csv", supervisor_apis.CallExportView.as_view(), name="call-export"),
    path("calls/<int:pk>/eido/", supervisor_apis.CallEidoView.as_view(), name="call-eido"),
    path("stats/", supervisor_apis.StatsView.as_view(), name="stats"),
    path("audit/", audit_apis.ReadAuditView.as_view(), name="read-audit"),
    path("units/<int:pk>/track/", supervisor_apis.UnitTrackView.as_view(), name="unit-track"),
    path("units/<int:pk>/out-of-service/", supervisor_apis.UnitOutOfServiceView.as_view(), name="unit-out-of-service"),
]
