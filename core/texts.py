"""Texts that people read later, stored as a code with parameters (issue 21).

A journal row's `summary` and an assignment's `reason` are facts written once, in
English, when the change happens; the reader may speak Russian or Kazakh. So the code
that writes such a text also names it: `said(code, english, **params)` is the English
string itself (a `str`, so everything that stored the text keeps storing it) that also
carries `code` and `params`. Rows with a code are rendered in the reader's language
(`render`, and in the pages' scripts from `page_table`); rows written before codes
existed keep their stored text.

The English text is built by the caller, as before, and never from the templates below:
a stored row stays byte for byte what it was. The templates are the msgids that
locale/*/django.po translate; their parameters are named, and a parameter is shown by
its name's kind (a status's name, a duration, metres): see `_FORMATS`.
"""

from django.utils.formats import get_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# code → template (English msgid). A new text is a line here, its translations, and the
# `said()` call that writes it.
MESSAGES = {
    # calls
    "call_created": _("%(incident_type)s, P%(priority)s"),
    "no_location": _("call has no location"),
    "possible_duplicate": _("possible duplicate"),
    "possible_duplicate_dispatched": _("possible duplicate, dispatched (P1/P2 are never held)"),
    "changed": _("changed: %(fields)s"),
    "note": _("note: %(text)s"),
    "note_erased": _("note: (erased after the retention period)"),
    "aml_fix": _("AML fix ±%(accuracy_m)s (%(positioning)s)"),
    "call_status": _("status: %(status)s"),
    "first_on_scene": _("first unit on scene"),
    "released": _("released for dispatch"),
    "closed": _("closed: %(disposition)s"),
    "closed_notes": _("closed: %(disposition)s, %(text)s"),
    "cancelled": _("cancelled"),
    "cancelled_because": _("cancelled: %(text)s"),
    "merged_into": _("merged into %(reference)s"),
    "unmet_needs": _("unmet needs"),
    "plan_covered": _("plan covered"),
    "no_unit_available": _("no unit available"),
    # units
    "unit_created": _("unit created"),
    "device_token_issued": _("device token issued"),
    "position": _("position"),
    "crew_set_status": _("crew set status: %(status)s"),
    "supervisor_set_status": _("supervisor set status: %(status)s"),
    "unit_status_after": _("%(status)s (%(assignment_status)s on %(reference)s)"),
    "dispatched_to": _("dispatched to %(reference)s"),
    "ack_timeout": _("%(callsign)s did not acknowledge"),
    # assignments
    "acknowledged": _("acknowledged"),
    "en_route": _("en route"),
    "on_scene": _("on scene"),
    "assignment_ended": _("%(status)s"),
    "assignment_ended_because": _("%(status)s: %(reason)s"),
    "declined": _("declined"),
    "transporting": _("transporting"),
    "cancelled_by_operator": _("cancelled by operator"),
    "ack_missed": _("no acknowledgement in time"),
    "call_ended": _("the call is %(status)s"),
    "nearest_by_road": _("nearest available unit (%(service)s) by road: ETA %(eta_s)s, %(route_m)s (position fresh)"),
    "nearest_by_road_with": _(
        "nearest available unit (%(service)s) with %(capability)s by road: ETA %(eta_s)s, %(route_m)s (position fresh)"
    ),
    "nearest_by_air": _(
        "nearest available unit (%(service)s) in a straight line: %(distance_m)s, ETA ≈%(eta_s)s (no road route)"
    ),
    "nearest_by_air_with": _(
        "nearest available unit (%(service)s) with %(capability)s in a straight line: %(distance_m)s, "
        "ETA ≈%(eta_s)s (no road route)"
    ),
    "assigned_by": _("assigned by %(user)s"),
    "assigned_by_eta": _("assigned by %(user)s, ETA %(eta_s)s (%(basis)s)"),
}

# How a parameter is shown, by its name: a measure (metres, a duration: below), or a code
# looked up in a table of names that the app owning the codes registers (statuses,
# services, incident types: dispatch/apps.py). A list parameter shows each item, joined.
_FORMATS = {}
_LABELS = {}


def register_format(name, show):
    """show(value) → the value in the active language."""
    _FORMATS[name] = show


def register_labels(name, table):
    """table() → {code: name in the active language} for the parameter `name`."""
    _LABELS[name] = table


class Said(str):
    """An English text that also knows its code and parameters."""

    code = ""
    params = None

    def __new__(cls, code, english, params):
        if code not in MESSAGES:
            raise ValueError(f"unknown text code {code!r}")
        text = super().__new__(cls, english)
        text.code = code
        text.params = params
        return text

    def as_dict(self):
        return {"code": self.code, "params": self.params}


def said(code, english, **params):
    """`english` (stored as the fact) named by `code` with `params` (JSON values; a
    parameter may itself be a Said or a {"code", "params"} dict, rendered in turn)."""
    return Said(code, english, {k: (v.as_dict() if isinstance(v, Said) else v) for k, v in params.items()})


def label(name, code):
    """The name of `code` among the `name` codes (a status, a service) in the active language."""
    table = _LABELS.get(name)
    return table().get(code, code) if table else code


def code_of(text):
    return getattr(text, "code", "") or ""


def params_of(text):
    return getattr(text, "params", None)


def render(code, params, fallback=""):
    """The text in the active language; `fallback` (the stored English) for a row without
    a code, an unknown code (written by a newer version) or parameters that do not fit."""
    template = MESSAGES.get(code or "")
    if template is None:
        return fallback
    try:
        return gettext(str(template)) % {name: _show(name, value) for name, value in (params or {}).items()}
    except (KeyError, TypeError, ValueError):
        return fallback


def _show(name, value):
    if isinstance(value, dict) and "code" in value:
        return render(value["code"], value.get("params"), fallback="")
    if value is None:
        return "–"
    if isinstance(value, list):
        return ", ".join(str(_show(name, item)) for item in value)
    if name in _LABELS:
        return _LABELS[name]().get(value, value)
    show = _FORMATS.get(name)
    return show(value) if show else value


def metres(value):
    value = float(value)
    if value < 1000:
        return gettext("%(n)s m") % {"n": round(value)}
    # One decimal with the language's separator (1,5 км; 1.5 km), as static/texts.js does.
    return gettext("%(n)s km") % {"n": f"{value / 1000:.1f}".replace(".", get_format("DECIMAL_SEPARATOR"))}


def duration(value):
    seconds = round(float(value))
    if seconds < 60:
        return gettext("%(n)s s") % {"n": seconds}
    return gettext("%(m)s min %(s)s s") % {"m": seconds // 60, "s": f"{seconds % 60:02d}"}


for _name in ("distance_m", "route_m", "accuracy_m"):
    register_format(_name, metres)
register_format("eta_s", duration)


def page_table():
    """The templates and measure words in the active language, for a page's scripts
    (static/texts.js renders a code with them the way `render` does)."""
    return {
        "messages": {code: gettext(str(template)) for code, template in MESSAGES.items()},
        "labels": {name: table() for name, table in _LABELS.items()},
        "units": {
            "m": gettext("%(n)s m"),
            "km": gettext("%(n)s km"),
            "s": gettext("%(n)s s"),
            "min_s": gettext("%(m)s min %(s)s s"),
            "decimal": get_format("DECIMAL_SEPARATOR"),
        },
    }
