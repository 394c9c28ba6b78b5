from django.contrib import admin, messages

from . import services
from .models import Alarm, AlarmSource, Subscription


@admin.register(AlarmSource)
class AlarmSourceAdmin(admin.ModelAdmin):
    """Adding a source here makes its machine account and shows its token once."""

    list_display = ("code", "name", "created_at")
    search_fields = ("code", "name")
    readonly_fields = ("account", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("code",) if obj is not None else ())

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        source, token = services.alarm_source_create(code=obj.code, name=obj.name, kinds=obj.kinds)
        obj.pk, obj.account = source.pk, source.account
        messages.warning(request, f"API token of {source.code} (shown once, keep it now): {token}")

    def delete_model(self, request, obj):
        services.alarm_source_delete(source_id=obj.pk)

    def has_delete_permission(self, request, obj=None):
        return obj is not None and super().has_delete_permission(request, obj)


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    list_display = ("received_at", "source_code", "external_id", "kind", "call")
    list_filter = ("source_code",)
    search_fields = ("external_id",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("id", "url", "format", "created_at")
    exclude = ("secret",)

    def has_add_permission(self, request):
        return False  # through the API, which checks WEBHOOK_ALLOWED_HOSTS and starts the cursor

    def delete_model(self, request, obj):
        services.subscription_delete(subscription_id=obj.pk)

    def has_delete_permission(self, request, obj=None):
        return obj is not None and super().has_delete_permission(request, obj)
