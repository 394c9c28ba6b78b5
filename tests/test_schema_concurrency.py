"""/api/schema/ asked for by several clients at once (API clients and the fuzz start
together): every one gets the schema. drf-spectacular's generation is not thread-safe,
and before core.api.SchemaView two requests at once failed each other with a 500."""

import threading

import pytest
from rest_framework.test import APIClient


@pytest.mark.django_db(transaction=True)
def test_the_schema_asked_for_four_times_at_once_is_served_four_times():
    results, start = [], threading.Barrier(4)

    def get():
        start.wait()
        try:
            results.append(APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").status_code)
        except Exception as exc:  # the test client re-raises a view's exception
            results.append(repr(exc))

    threads = [threading.Thread(target=get) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 4
