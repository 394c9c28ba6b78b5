from django.contrib import admin

from .models import Assignment, ReadAudit


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "call", "unit", "status", "distance_m", "assigned_at")
    list_filter = ("status",)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReadAudit)
class ReadAuditAdmin(admin.ModelAdmin):
    """Read-only: the audit is written by the API alone and never edited."""

    list_display = ("at", "actor_username", "action", "call", "remote_addr", "row_count")
    list_filter = ("action",)
    search_fields = ("actor_username",)
    date_hierarchy = "at"
    list_select_related = ("call",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
