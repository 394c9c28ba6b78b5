"""The browser tests of the supervisors' pages reuse the console's headless Chromium fixtures."""

from tests.browser.conftest import browser, page  # noqa: F401
