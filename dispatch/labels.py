"""Names of the codes people read, in the active language (issue 21): statuses, services,
dispositions, incident types, the fields of a change. The journal, the API and the CSV
keep the codes; these are what a page, a timeline line or an export column shows."""

import time

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from calls.models import IncidentType
from calls.statuses import CallStatus
from core import texts
from dispatch.statuses import AssignmentStatus
from units.statuses import UnitStatus

SERVICES = {"police": _("Police"), "medical": _("Medical"), "fire": _("Fire"), "utility": _("Utility")}
DISPOSITIONS = {
    "resolved": _("Resolved"), "transported": _("Transported"), "false_alarm": _("False alarm"), "hoax": _("Hoax"),
    "accidental": _("Accidental call"), "caller_advised": _("Caller advised"),
    "referred": _("Referred to another service"), "gone_on_arrival": _("Gone on arrival"),
    "duplicate": _("Duplicate"), "cancelled": _("Cancelled"),
}  # fmt: skip
FIELDS = {
    "incident_type": _("incident type"), "priority": _("priority"), "description": _("description"),
    "caller_name": _("caller name"), "caller_phone": _("caller phone"), "location": _("location"),
    "callsign": _("callsign"), "service": _("service"), "capabilities": _("capabilities"),
    "home_station": _("home station"),
}  # fmt: skip
CHANNELS = {"voice": _("Voice"), "sms": "SMS", "aml": "AML", "app": _("App"), "ecall": "eCall", "alarm": _("Alarm")}
LOCATION_SOURCES = {"aml": "AML", "caller_app": _("caller's app"), "address": _("address"), "operator": _("operator"),
                    "alarm": _("alarm")}
EVENTS = {
    "call.created": _("Call created"), "call.updated": _("Call updated"), "assignment.created": _("Unit assigned"),
    "assignment.updated": _("Assignment changed"), "unit.updated": _("Unit changed"), "alert.raised": _("Alert"),
}  # fmt: skip
BASES = {"road": _("by road"), "straight_line": _("straight line")}
POSITIONING = {"gnss": _("satellite"), "wifi": "Wi-Fi", "cell": _("cell network"), "none": "–", "unknown": "?"}


def status_labels():
    # A status shared by kinds (on_scene) reads the same in each table.
    return {status: str(label) for table in (CallStatus, UnitStatus, AssignmentStatus)
            for status, label in table.LABELS.items()}


def _table(labels):
    return lambda: {code: str(label) for code, label in labels.items()}


# Incident types are data (the admin edits them): their names are read from the table and
# kept a minute per process, so a timeline of 50 lines costs no query per line.
_type_names = {"at": 0.0, "rows": []}


def incident_type_names(language=None):
    if time.monotonic() - _type_names["at"] > 60:
        _type_names["rows"] = list(IncidentType.objects.values_list("code", "name_ru", "name_kk", "name_en"))
        _type_names["at"] = time.monotonic()
    column = {"ru": 1, "kk": 2}.get((language or get_language() or "ru")[:2], 3)
    return {row[0]: row[column] or row[3] for row in _type_names["rows"]}


def incident_type_name(code, language=None):
    return incident_type_names(language).get(code, code)


def register():
    """Tell core.texts how each named parameter reads (dispatch/apps.py ready())."""
    texts.register_labels("status", status_labels)
    texts.register_labels("assignment_status", status_labels)
    texts.register_labels("service", _table(SERVICES))
    texts.register_labels("disposition", _table(DISPOSITIONS))
    texts.register_labels("fields", _table(FIELDS))
    texts.register_labels("basis", _table(BASES))
    texts.register_labels("positioning", _table(POSITIONING))
    texts.register_labels("incident_type", incident_type_names)
    texts.register_format("capability", lambda code: str(code).upper())  # als → ALS, as the console shows it
    texts.register_labels("channel", _table(CHANNELS))
    texts.register_labels("location_source", _table(LOCATION_SOURCES))
    texts.register_labels("event", _table(EVENTS))
