// Words in the crew's language: Django's JavaScript catalogue (/jsi18n/, loaded before the
// modules) gives window.gettext, so the app speaks ru, kk or en like the console.

export const _ = window.gettext || ((s) => s);
export const fmt = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text);
export const lang = document.documentElement.lang || "ru";

export const PRIORITY = { 1: _("P1 — life threat"), 2: _("P2 — urgent"), 3: _("P3 — standard"), 4: _("P4 — low") };

export function distanceText(metres) {
  if (metres === null || metres === undefined || !Number.isFinite(metres)) return "–";
  return metres < 1000 ? fmt(_("%(m)s m"), { m: Math.round(metres) })
    : fmt(_("%(km)s km"), { km: (metres / 1000).toLocaleString(lang, { maximumFractionDigits: metres < 10000 ? 1 : 0 }) });
}

export function durationText(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const minutes = Math.max(1, Math.round(seconds / 60));
  return fmt(_("%(min)s min"), { min: minutes });
}

const clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
export const timeText = (iso) => (iso ? clock.format(new Date(iso)) : "");
