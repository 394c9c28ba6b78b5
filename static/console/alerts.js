// The alerts strip (every alert.raised from the feed until its cause is gone or the
// operator dismisses it) and its sound: new alerts beep, three times for P1.

import { select } from "./call-detail.js";
import { state } from "./ctx.js";
import { $, fill, h } from "./dom.js";
import { typeName } from "./lookup.js";
import { ALERT, _, elapsed, fmt } from "./words.js";

export function renderAlerts() {
  const alerts = state.activeAlerts();
  const box = $("alerts");
  box.hidden = alerts.length === 0;
  if (!alerts.length) { fill(box); return; }
  const shown = alerts.slice(0, 4);
  fill(box,
    ...shown.map((a) => {
      const call = state.calls.get(a.call);
      const what = call ? `${call.reference} · ${typeName(call.incident_type)}` : (a.data.reference || "");
      const extra = a.kind === "ack_timeout" && a.data.callsign ? ` · ${a.data.callsign}` : "";
      return h("div", { class: `alert alert-${a.kind}`, dataset: { kind: a.kind, call: a.call } },
        h("strong", {}, ALERT[a.kind] || a.kind), h("span", {}, ` ${what}${extra}`),
        h("span", { class: "age", dataset: { since: a.at } }, elapsed(a.at)),
        h("button", { type: "button", class: "btn btn-small", onclick: () => select(a.call) }, _("Open")),
        h("button", { type: "button", class: "btn btn-small", title: _("Dismiss"), "aria-label": _("Dismiss"),
          onclick: () => state.dismissAlerts((x) => x.kind === a.kind && x.call === a.call) }, "×"));
    }),
    alerts.length > shown.length ? h("span", { class: "more" }, fmt(_("+%(n)s more"), { n: alerts.length - shown.length })) : null,
    h("button", { type: "button", class: "btn btn-small dismiss-all", onclick: () => state.dismissAlerts() }, _("Dismiss all"), " ", h("kbd", {}, "A")));
}

// --- sound (WebAudio; browsers allow it after the first click or key press) -------------------

let soundOn = localStorage.getItem("console.sound") !== "off";
let audio = null;
let lastBeep = 0;

function unlockAudio() {
  if (!audio && window.AudioContext) audio = new AudioContext();
  if (audio && audio.state === "suspended") audio.resume();
}

export function beep(urgent) {
  if (!soundOn || !audio || Date.now() - lastBeep < 1500) return;
  lastBeep = Date.now();
  const pulses = urgent ? 3 : 1;
  for (let i = 0; i < pulses; i += 1) {
    const start = audio.currentTime + i * 0.22;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = urgent ? 988 : 740;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.18);
  }
}

function renderSound() {
  $("sound-toggle").setAttribute("aria-pressed", String(soundOn));
  $("sound-toggle").classList.toggle("muted", !soundOn);
}

export function toggleSound() {
  soundOn = !soundOn;
  localStorage.setItem("console.sound", soundOn ? "on" : "off");
  unlockAudio();
  renderSound();
  if (soundOn) { lastBeep = 0; beep(false); }
}

export function setupSound() {
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("keydown", unlockAudio, { once: true });
  $("sound-toggle").addEventListener("click", toggleSound);
  renderSound();
}
