from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People and machines that sign in: API tokens, sign-in throttling, revocation."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401  (connects the revocation receivers)
