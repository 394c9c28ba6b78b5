"""A real headless browser for the console tests: Debian's Chromium driven by Playwright.

No browser is downloaded: `scripts/bootstrap.sh` installs the `chromium` package and the
tests launch it by path. Every request that leaves the test server is refused, so the map
runs without tiles here, as the console must be able to.
"""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1600, "height": 900}
PASSWORD = "pass-1234-word"  # tests.factories.make_user's default
# Screenshots of the main screens go to docs/screenshots/ when asked for:
#   CONSOLE_SCREENSHOTS=docs/screenshots pytest tests/browser
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh (it installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread, and Django refuses
    # ORM calls under a running loop; the tests' own ORM calls are plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def offline_page(browser, base_url, locale="ru-RU"):
    """A fresh browser context (its own cookies) whose requests may only reach base_url."""
    context = browser.new_context(viewport=VIEWPORT, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    local = re.compile(r"^(https?|wss?)://127\.0\.0\.1(:\d+)?/")
    page.route("**/*", lambda route: route.continue_() if local.match(route.request.url) else route.abort())
    page.errors = []
    page.console_messages = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    return page


@pytest.fixture
def page(request, browser, asgi_server):
    # A module may set LOCALE (the browser's language, hence the pages'): Russian by default.
    page = offline_page(browser, f"http://127.0.0.1:{asgi_server.port}", locale=getattr(request.module, "LOCALE", "ru-RU"))
    page.base_url = f"http://127.0.0.1:{asgi_server.port}"
    yield page
    errors = list(page.errors)
    page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def console_user(username, role="operator"):
    """An account the test server can log in: the suite hashes passwords with MD5 for speed,
    which the server process (default PASSWORD_HASHERS) does not accept, so the hash is a
    cheap PBKDF2 one that it does."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from tests.factories import make_user

    user = make_user(username, role, password=PASSWORD)
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt(), iterations=1000)
    user.save(update_fields=["password"])
    return user


def log_in(page, username, password=PASSWORD):
    page.goto(page.base_url + "/")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    try:
        page.wait_for_selector("#conn.conn-live")
    except Exception as exc:
        state = page.inner_text("#conn") if page.query_selector("#conn") else page.url
        raise AssertionError(
            f"the console did not go live ({state}): {page.errors} {page.console_messages[-10:]}"
        ) from exc


def shot(page, name):
    if SCREENSHOTS:
        folder = Path(SCREENSHOTS)
        folder = folder if folder.is_absolute() else ROOT / folder
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"))
