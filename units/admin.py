from django.contrib.gis import admin

from .models import Unit


@admin.register(Unit)
class UnitAdmin(admin.GISModelAdmin):
    list_display = ("callsign", "service", "status", "capabilities", "location_recorded_at", "home_station")
    list_filter = ("service", "status")
    search_fields = ("callsign",)
    # Status moves through the state machine (API), not by hand.
    readonly_fields = ("status", "status_changed_at", "location_recorded_at", "position_published_at")
