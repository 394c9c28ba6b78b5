// Small helpers for building the page: elements, toasts, two-press buttons, and the
// combobox (a text input with a listbox) that the type and address fields use.

import { ApiError } from "./api.js";
import { _ } from "./words.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);
// replaceChildren() would print null as "null": drop the empty slots that conditional children leave.
export const fill = (el, ...children) => el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// Metres between two {lat, lon} points (the server measures geodesically; this is close enough to rank).
export function haversine(a, b) {
  const rad = Math.PI / 180, r = 6371008.8;
  const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(x));
}

export function toast(text, kind = "info") {
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  $("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

export function failed(error) {
  toast(error instanceof ApiError ? error.message : `${_("Request failed")}: ${error.message || error}`, "error");
}

// A button that asks for a second press before doing something that cannot be undone.
// The armed state lives by key, outside the button, so a live redraw between the two
// presses does not disarm it.
const armed = new Map();  // key → timer

export function confirmButton(key, label, confirmLabel, action, attrs = {}) {
  const button = h("button", { type: "button", class: "btn btn-danger", ...attrs }, armed.has(key) ? confirmLabel : label);
  button.classList.toggle("armed", armed.has(key));
  const disarm = () => { clearTimeout(armed.get(key)); armed.delete(key); button.textContent = label; button.classList.remove("armed"); };
  button.addEventListener("click", async () => {
    if (!armed.has(key)) {
      armed.set(key, setTimeout(disarm, 4000));
      button.textContent = confirmLabel;
      button.classList.add("armed");
      return;
    }
    disarm();
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  });
  return button;
}

// --- combobox: a text input with a listbox (incident types, geocoder answers) ------------------

let comboSeq = 0;

export function combo({ input, list, search, render, pick, autoActive = true, delay = 0 }) {
  let items = [];
  let active = -1;
  let ticket = 0;
  const id = `combo${++comboSeq}`;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const mark = () => {
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    if (active >= 0 && list.children[active]) {
      input.setAttribute("aria-activedescendant", list.children[active].id);
      list.children[active].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const show = (found) => {
    items = found;
    fill(list, ...items.map((item, i) => {
      const li = h("li", { role: "option", id: `${id}-${i}` }, render(item));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(i); });
      return li;
    }));
    active = autoActive && items.length ? 0 : -1;
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", String(items.length > 0));
    mark();
  };
  const choose = (i) => {
    const item = items[i];
    typed = false;
    close();
    if (item !== undefined) pick(item);
  };
  const run = async () => {
    const mine = ++ticket;
    const q = input.value.trim();
    let found = [];
    try { found = await search(q); } catch (error) { if (error instanceof ApiError && error.status >= 500) failed(error); }
    if (mine === ticket && document.activeElement === input) show(found || []);
  };
  const later = delay ? debounce(run, delay) : run;

  let typed = false;
  input.addEventListener("input", () => { typed = true; later(); });
  input.addEventListener("focus", () => { if (input.value.trim() || !delay) later(); });
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (e) => {
    if (list.hidden) {
      if (e.key === "ArrowDown" && !e.altKey) { e.preventDefault(); run(); }
      return;
    }
    if (e.key === "ArrowDown") { e.preventDefault(); active = Math.min(items.length - 1, active + 1); mark(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); active = Math.max(-1, active - 1); mark(); }
    else if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && active >= 0) { e.preventDefault(); e.stopPropagation(); choose(active); }
    else if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close(); }
    // Tab after typing takes the highlighted entry, as Enter does; Tab through an untouched field does not.
    else if (e.key === "Tab" && active >= 0 && autoActive && typed) choose(active);
  });
  return { close, refresh: run };
}
