from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: domain errors, transition checking, the journal and its readers.

    It imports no other app of this project; every app may import it (docs/architecture.md)."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from importlib import import_module

        from django.conf import settings

        # Readers of the journal that live outside the apps (settings.JOURNAL_READER_MODULES).
        for module in settings.JOURNAL_READER_MODULES:
            import_module(module)
