"""The user's chosen language (issue 21): pages, timeline texts and API messages.

Order, first that applies:
1. the language the user chose (saved per account: the language menu of any page, or
   PUT /api/v1/account/language/), for pages and for the API with the session;
2. for an API client with a token, its `Accept-Language` header, then the saved choice;
3. Django's LocaleMiddleware: the `django_language` cookie, `Accept-Language`, Russian.

The saved choice is read once at sign-in into the session, so a page costs no query; a
token request reads it with the token (one join, accounts/authentication.py).
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import translation
from django.views.i18n import set_language as django_set_language

from .models import UserLanguage

SESSION_KEY = "language"
CODES = [code for code, _name in settings.LANGUAGES]


def saved_language(user):
    try:
        return user.language_choice.language
    except UserLanguage.DoesNotExist:
        return None


def save_language(request, user, language):
    UserLanguage.objects.update_or_create(user=user, defaults={"language": language})
    if hasattr(request, "session"):
        request.session[SESSION_KEY] = language


def activate(request, language):
    translation.activate(language)
    request.LANGUAGE_CODE = language


@receiver(user_logged_in)
def _remember_at_sign_in(sender, request, user, **kwargs):
    language = saved_language(user)
    if language and request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = language


class UserLanguageMiddleware:
    """After AuthenticationMiddleware: a signed-in user's saved choice wins over the
    browser's language (LocaleMiddleware has already chosen that one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        language = session.get(SESSION_KEY) if session is not None else None
        if language in CODES and request.user.is_authenticated:
            activate(request, language)
        return self.get_response(request)


def set_language(request):
    """Django's set_language (the pages' language menu: cookie and redirect), which also
    saves the choice for a signed-in user, so every browser and the API follow it."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if request.method == "POST" and language in CODES and request.user.is_authenticated:
        save_language(request, request.user, language)
    return response
