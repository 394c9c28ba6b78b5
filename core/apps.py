from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: domain errors, transition checking, the journal and its readers.

    It imports no other app of this project; every app may import it (docs/architecture.md)."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
