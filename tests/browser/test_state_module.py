"""static/console/state.js on its own, in the browser: how feed events are applied.

No server: the module is served to the page straight from static/ by a request handler.
"""

import json

import pytest

from dispatch.console import status_config
from tests.browser.conftest import ROOT, VIEWPORT

pytestmark = pytest.mark.browser

ORIGIN = "http://console.test"


@pytest.fixture
def js(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()

    def serve(route):
        path = route.request.url[len(ORIGIN) :].split("?")[0]
        if path == "/":
            return route.fulfill(body="<!doctype html><title>state.js</title>", content_type="text/html")
        file = ROOT / path.lstrip("/")
        if path.startswith("/static/") and file.is_file():
            return route.fulfill(body=file.read_text(), content_type="text/javascript")
        return route.fulfill(status=404)

    page.route(f"{ORIGIN}/**", serve)
    page.goto(ORIGIN + "/")

    def run(body):
        # The page hands ConsoleState the server's status lists (console_config); so does this.
        return page.evaluate(
            "async () => { const { ConsoleState: WithStatuses } = await import('/static/console/state.js');"
            f" const statuses = {json.dumps(status_config())};"
            " class ConsoleState extends WithStatuses { constructor(options) { super({ statuses, ...options }); } }"
            f" {body} }}"
        )

    yield run
    context.close()


CALL = "({id, status = 'pending', priority = 2, at = '2026-01-01T10:00:00+05:00', assignments = []}) => ({id, reference: 'C-' + id, status, priority, received_at: at, incident_type: 'other', location: {lat: 51, lon: 71}, unmet_needs: [], hold_reason: null, possible_duplicates: [], assignments})"


def test_events_are_applied_once_and_in_order_across_a_replay(js):
    result = js(f"""
        const call = {CALL};
        const s = new ConsoleState();
        const out = [];
        out.push(s.receive({{type: 'call.created', id: 5, data: call({{id: 1}})}}));  // before the edge is known: dropped
        out.push(s.receive({{type: 'pong', id: null, last_id: 7}}));                  // the live edge → read a snapshot
        s.receive({{type: 'call.created', id: 8, data: call({{id: 2, priority: 1}})}});  // waits for the snapshot
        s.finishSnapshot({{calls: [call({{id: 1}})], units: []}});
        // A reconnect with ?since=8 replays 8 again, then what was missed.
        s.receive({{type: 'call.created', id: 8, data: call({{id: 2, priority: 1, status: 'pending'}})}});
        s.receive({{type: 'assignment.created', id: 9, data: {{id: 70, call: 2, status: 'assigned', unit: {{id: 3, callsign: 'A-1', service: 'medical'}}}}}});
        s.receive({{type: 'assignment.created', id: 9, data: {{id: 70, call: 2, status: 'assigned', unit: {{id: 3, callsign: 'A-1', service: 'medical'}}}}}});
        s.receive({{type: 'call.updated', id: 10, data: call({{id: 1, status: 'closed'}})}});
        return {{out, lastId: s.lastId, queue: s.queue().map(c => c.id),
                 assignments: s.calls.get(2).assignments.length}};
    """)
    assert result["out"] == [None, "snapshot"]
    assert result["lastId"] == 10
    assert result["queue"] == [2]  # call 1 was closed; call 2 once
    assert result["assignments"] == 1


def test_queue_is_sorted_by_priority_then_age_and_alerts_lapse_with_their_cause(js):
    result = js(f"""
        const call = {CALL};
        const s = new ConsoleState();
        s.receive({{type: 'pong', last_id: 0}});
        s.finishSnapshot({{calls: [
            call({{id: 1, priority: 3, at: '2026-01-01T10:00:00+05:00'}}),
            call({{id: 2, priority: 1, at: '2026-01-01T10:05:00+05:00'}}),
            call({{id: 3, priority: 1, at: '2026-01-01T10:01:00+05:00'}}),
        ], units: []}});
        const held = {{...call({{id: 2, priority: 1, at: '2026-01-01T10:05:00+05:00'}}), hold_reason: 'possible_duplicate'}};
        s.receive({{type: 'call.updated', id: 1, data: held}});
        s.receive({{type: 'alert.raised', id: 2, data: {{kind: 'possible_duplicate', call: 2}}}});
        const before = s.activeAlerts().map(a => a.kind);
        const flags = s.callFlags(s.calls.get(2));
        s.receive({{type: 'call.updated', id: 3, data: call({{id: 2, priority: 1, at: '2026-01-01T10:05:00+05:00'}})}});
        return {{queue: s.queue().map(c => c.id), before, flags, after: s.activeAlerts().length}};
    """)
    assert result["queue"] == [3, 2, 1]
    assert result["before"] == ["possible_duplicate"] and result["flags"] == ["possible_duplicate"]
    assert result["after"] == 0  # released: the alert no longer holds


def test_resync_refetches_state_and_follows_from_the_servers_cursor(js):
    result = js(f"""
        const call = {CALL};
        const s = new ConsoleState();
        s.receive({{type: 'pong', last_id: 3}});
        s.finishSnapshot({{calls: [call({{id: 1}})], units: []}});
        const asked = s.receive({{type: 'resync', id: null, last_id: 50000}});
        s.receive({{type: 'call.created', id: 49999, data: call({{id: 9}})}});  // older than the cursor: ignored
        s.receive({{type: 'call.created', id: 50001, data: call({{id: 4}})}});  // waits for the snapshot
        s.finishSnapshot({{calls: [call({{id: 2}})], units: []}});
        return {{asked, lastId: s.lastId, queue: s.queue().map(c => c.id)}};
    """)
    assert result["asked"] == "snapshot"
    assert result["lastId"] == 50001
    assert sorted(result["queue"]) == [2, 4]


def test_which_calls_are_open_and_which_assignments_active_is_the_servers_word(js):
    # A status the server adds (here "escalated", open) needs no change in state.js.
    result = js(f"""
        const call = {CALL};
        const added = {{...statuses, call: {{...statuses.call, open: [...statuses.call.open, 'escalated']}}}};
        const s = new WithStatuses({{statuses: added}});
        s.receive({{type: 'pong', last_id: 0}});
        const unit = {{id: 3, callsign: 'A-1', service: 'medical'}};
        s.finishSnapshot({{calls: [
            call({{id: 1, status: 'escalated', assignments: [{{id: 70, call: 1, status: 'acknowledged', unit}},
                                                             {{id: 71, call: 1, status: 'declined', unit}}]}}),
            call({{id: 2}}),
        ], units: []}});
        s.receive({{type: 'call.updated', id: 1, data: call({{id: 2, status: 'cancelled'}})}});
        return {{queue: s.queue().map(c => c.id), active: s.activeAssignments(s.calls.get(1)).map(a => a.id)}};
    """)
    assert result["queue"] == [1]
    assert result["active"] == [70]
