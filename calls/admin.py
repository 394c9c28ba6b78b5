from django.contrib.gis import admin

from .gazetteer_load import index_street_synonyms
from .models import AmlMessage, Call, GazetteerEntry, IncidentType, ResponsePlanLine, StreetSynonym


class PlanLineInline(admin.TabularInline):
    model = ResponsePlanLine
    extra = 1


@admin.register(IncidentType)
class IncidentTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "priority", "name_ru", "name_kk", "name_en", "active")
    list_filter = ("priority", "active")
    search_fields = ("code", "name_ru", "name_kk", "name_en")
    inlines = [PlanLineInline]


@admin.register(Call)
class CallAdmin(admin.GISModelAdmin):
    # Calls change only through the services (journal rows); the admin reads.
    list_display = ("reference", "status", "priority", "incident_type", "received_at")
    list_filter = ("status", "priority", "incident_type")
    search_fields = ("reference", "caller_phone", "address")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(AmlMessage)
class AmlMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "msisdn", "accepted", "reason", "call")
    list_filter = ("accepted",)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(GazetteerEntry)
class GazetteerEntryAdmin(admin.GISModelAdmin):
    list_display = ("label", "kind")
    list_filter = ("kind",)
    search_fields = ("label", "normalized")


@admin.register(StreetSynonym)
class StreetSynonymAdmin(admin.ModelAdmin):
    """Other names of streets (Russian, old, other spellings); every change re-indexes them,
    so the geocoder finds a new synonym at once."""

    list_display = ("name", "street", "kind", "source", "active")
    list_filter = ("kind", "source", "active")
    search_fields = ("name", "street")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        index_street_synonyms()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        index_street_synonyms()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        index_street_synonyms()
