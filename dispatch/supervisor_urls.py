"""Supervisors' API: history export, statistics (issue 8). Included under /api/v1/."""

urlpatterns = []
