from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Partner systems: alarms in (cameras, panic buttons), events and EIDO out (webhooks).

    Above dispatch (it uses the call's REST representation and the EIDO builder), below ops."""

    name = "integrations"
    verbose_name = "Partner systems"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import webhooks

        # Each subscription is a journal reader `webhook:<id>` whose list lives in the database.
        webhooks.install()
