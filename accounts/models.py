from django.conf import settings
from django.db import models


class UserLanguage(models.Model):
    """The language a person chose for the pages and the API's texts (issue 21). Without a
    row the browser's language (cookie, then Accept-Language) decides: accounts/language.py."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="language_choice")
    language = models.CharField(max_length=8, choices=settings.LANGUAGES)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user_id}: {self.language}"
