"""The settings module refuses a bad environment with a message naming the variable."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT, process_env


def _start(**env):
    return subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup()"],
        cwd=ROOT, env=process_env(**env), capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "name,value",
    [
        ("DISPATCH_ACK_TIMEOUT_S", "soon"),
        ("DISPATCH_STALE_LOCATION_S", "-5"),
        ("DUPLICATE_RADIUS_M", "wide"),
        ("DEBUG", "maybe"),
        ("TIME_ZONE", "Mars/Olympus"),
        ("DATABASE_URL", "mysql://x@localhost/db"),
        ("REDIS_URL", "http://localhost"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(name, value):
    result = _start(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_missing_secret_key_outside_debug_is_refused():
    result = _start(DEBUG="false", SECRET_KEY="", SECRET_KEY_FILE="/nonexistent/secret_key")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_good_environment_starts():
    result = _start(DISPATCH_ACK_TIMEOUT_S="45")
    assert result.returncode == 0, result.stderr
