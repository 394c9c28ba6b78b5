"""The console's units board in a real browser: its groups and filters come from the
server's status lists (dispatch/console.py, status_config), not from the script."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import console_user, log_in
from tests.browser.test_console import in_thread
from tests.factories import UnitFactory

pytestmark = pytest.mark.browser


def board_counts(page):
    return page.eval_on_selector_all(
        "#units-summary [data-status]",
        "els => Object.fromEntries(els.map(e => [e.dataset.status, Number(e.dataset.count)]))",
    )


def board_callsigns(page):
    return page.eval_on_selector_all("#units-body .unit-chip", "els => els.map(e => e.textContent)")


def test_units_board_counts_and_filters_by_the_servers_status_groups(page, transactional_db):
    operator = console_user("op-zhanna")
    free = UnitFactory(callsign="A-1", service="medical")
    UnitFactory(callsign="A-2", service="medical", status="dispatched")
    UnitFactory(callsign="F-1", service="fire", status="en_route")
    UnitFactory(callsign="P-1", service="police", status="transporting")
    UnitFactory(callsign="P-2", service="police", status="out_of_service", location_recorded_at=None)
    UnitFactory(callsign="U-1", service="utility", status="unreachable",
                location_recorded_at=timezone.now() - timedelta(hours=1))  # fmt: skip
    log_in(page, operator.username)

    page.keyboard.press("u")
    page.wait_for_function("document.querySelectorAll('#units-body tr').length === 6")
    # Free, then busy (working an assignment), then every other status on its own; a
    # transporting unit is neither free nor on an assignment.
    assert page.eval_on_selector_all("#units-status option", "els => els.map(e => e.value)") == [
        "", "available", "busy", "out_of_service", "transporting", "unreachable",
    ]  # fmt: skip
    assert board_counts(page) == {
        "available": 1, "busy": 2, "out_of_service": 1, "transporting": 1, "unreachable": 1, "stale": 1,
    }  # fmt: skip

    page.select_option("#units-status", "busy")
    page.wait_for_function("document.querySelectorAll('#units-body tr').length === 2")
    assert board_callsigns(page) == ["A-2", "F-1"]
    page.select_option("#units-status", "transporting")
    page.wait_for_function("document.querySelectorAll('#units-body tr').length === 1")
    assert board_callsigns(page) == ["P-1"]
    page.select_option("#units-status", "")
    page.wait_for_function("document.querySelectorAll('#units-body tr').length === 6")

    # The feed moves the counts.
    from dispatch.services import unit_set_status

    in_thread(unit_set_status, unit_id=free.pk, status="transporting")
    page.wait_for_function("document.querySelector('#units-summary [data-status=transporting]').dataset.count === '2'")
    assert board_counts(page)["available"] == 0
