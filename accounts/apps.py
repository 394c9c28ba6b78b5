from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People and machines that sign in: API tokens, sign-in throttling, revocation."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import language, signals  # noqa: F401  (connect the revocation and sign-in receivers)
