// Words and numbers in the operator's language. Strings go through Django's JavaScript
// catalogue (window.gettext from /jsi18n/, loaded before the modules), so the page speaks
// ru, kk or en.

export const _ = window.gettext || ((s) => s);
export const fmt = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text);
export const lang = document.documentElement.lang || "ru";

// Statuses, their groups (ctx.js) and their names are the server's word: the page config
// carries the names in the operator's language (dispatch/console.py status_config).
const pageConfig = document.getElementById("console-config");
const STATUS = pageConfig ? JSON.parse(pageConfig.textContent).statuses.labels : {};
export const SERVICE = { police: _("Police"), medical: _("Medical"), fire: _("Fire"), utility: _("Utility") };
export const SERVICE_ORDER = ["police", "medical", "fire", "utility"];
export const ALERT = {
  no_unit_available: _("No unit available"), ack_timeout: _("Not acknowledged"),
  possible_duplicate: _("Possible duplicate"), no_location: _("No location"), hold: _("On hold"),
};
const UNMET_REASON = {
  no_location: _("no location"), on_hold: _("on hold"), no_unit_of_service: _("no such units"),
  no_unit_with_capability: _("no unit with this capability"), all_busy: _("all busy"),
  all_stale: _("positions out of date"), all_refused: _("all declined or timed out"),
};
export const DISPOSITIONS = [
  ["resolved", _("Resolved")], ["transported", _("Transported")], ["false_alarm", _("False alarm")],
  ["hoax", _("Hoax")], ["accidental", _("Accidental call")], ["caller_advised", _("Caller advised")],
  ["referred", _("Referred to another service")], ["gone_on_arrival", _("Gone on arrival")],
  ["duplicate", _("Duplicate")], ["cancelled", _("Cancelled")],
];
export const CHANNEL = { voice: _("Voice"), sms: _("SMS"), aml: "AML", app: _("App"), ecall: "eCall", alarm: _("Alarm") };
export const SOURCE = { aml: "AML", caller_app: _("caller's app"), address: _("address"), operator: _("operator"), alarm: _("alarm") };
export const HOLD = { possible_duplicate: _("possible duplicate of"), alarm_unconfirmed: _("unconfirmed alarm, confirm before dispatch") };
export const PLACE_KIND = { address: _("Address"), street: _("Street"), intersection: _("Intersection"), place: _("Place") };
export const EVENT = {
  "call.created": _("Call created"), "call.updated": _("Call updated"), "assignment.created": _("Unit assigned"),
  "assignment.updated": _("Assignment changed"), "unit.updated": _("Unit changed"), "alert.raised": _("Alert"),
};

export const statusLabel = (status) => STATUS[status] || status;
export const serviceLabel = (service) => SERVICE[service] || service;
export const dispositionLabel = (code) => (DISPOSITIONS.find(([c]) => c === code) || [code, code])[1];

export function unmetText(need) {
  const what = `${serviceLabel(need.service)}${need.capability ? ` (${need.capability.toUpperCase()})` : ""}${need.count > 1 ? ` ×${need.count}` : ""}`;
  return need.reason ? `${what}: ${UNMET_REASON[need.reason] || need.reason}` : what;
}

// --- numbers and times ------------------------------------------------------------------------

export function elapsed(iso) {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
}

export function age(iso) {
  if (!iso) return "—";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return fmt(_("%(n)s s"), { n: s });
  if (s < 3600) return fmt(_("%(n)s min"), { n: Math.floor(s / 60) });
  return fmt(_("%(n)s h"), { n: Math.floor(s / 3600) });
}

const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
export const clock = (iso) => (iso ? timeFormat.format(new Date(iso)) : "—");

// A travel time (issue 16): "≈" when it is only the straight line at a nominal speed.
export function eta(seconds, basis) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds);
  const text = s < 60 ? fmt(_("%(n)s s"), { n: s }) : fmt(_("%(n)s min"), { n: Math.round(s / 60) });
  return basis === "straight_line" ? `≈${text}` : text;
}

export function metres(m) {
  if (m === null || m === undefined) return "—";
  const km = (m / 1000).toLocaleString(lang, { maximumFractionDigits: 1 });
  return m < 1000 ? fmt(_("%(n)s m"), { n: Math.round(m) }) : fmt(_("%(n)s km"), { n: km });
}
