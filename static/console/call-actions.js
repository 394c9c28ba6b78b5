// What the operator can do to an open call, below its detail: add a note; change type,
// priority or location; merge into another call; close with a disposition; cancel.

import { act, api, state } from "./ctx.js";
import { combo, confirmButton, failed, h, toast } from "./dom.js";
import { KIND_ACCURACY, geocodeSearch, renderPlace, renderType, typeName, typeSearch } from "./lookup.js";
import { setPick } from "./map.js";
import { DISPOSITIONS, _, fmt } from "./words.js";

export function section(title, ...children) {
  return h("section", { class: "d-section" }, h("h3", {}, title), ...children);
}

// A call's reference when the page knows the call, its id otherwise.
export const refOf = (id) => { const c = state.calls.get(id); return c ? c.reference : `#${id}`; };

// {note, more}: the note form, and the rest (shown only while the call is open).
export function buildActions(call) {
  const id = call.id;
  // Change type, priority, description.
  const typeInput = h("input", { type: "text", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", id: "d-type", value: typeName(call.incident_type), "aria-label": _("Incident type") });
  const typeList = h("ul", { class: "dropdown", role: "listbox", hidden: true });
  let newType = null;
  const prio = h("select", { id: "d-priority", "aria-label": _("Priority") }, [1, 2, 3, 4].map((p) => h("option", { value: p, selected: p === call.priority }, `P${p}`)));
  let prioTouched = false;
  prio.addEventListener("change", () => { prioTouched = true; });
  const edit = h("form", { class: "d-form", id: "d-edit" },
    h("div", { class: "row" },
      h("div", { class: "field grow combo" }, h("label", { for: "d-type" }, _("Incident type")), typeInput, typeList),
      h("label", { class: "field field-prio" }, _("Priority"), prio)),
    h("button", { type: "submit", class: "btn" }, _("Save changes")));
  combo({ input: typeInput, list: typeList, search: typeSearch, render: renderType,
    pick: (t) => { newType = t; typeInput.value = typeName(t.code); if (!prioTouched) prio.value = String(t.priority); } });
  edit.addEventListener("submit", async (e) => {
    e.preventDefault();
    const current = state.calls.get(id);
    const body = {};
    if (newType && newType.code !== current.incident_type) body.incident_type = newType.code;
    if (Number(prio.value) !== current.priority && (prioTouched || !body.incident_type)) body.priority = Number(prio.value);
    if (!Object.keys(body).length) return;
    await act(api.updateCall(id, body), _("Call updated"));
  });

  // Move the call: address search or a point on the map.
  const addr = h("input", { type: "text", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", id: "d-address", placeholder: _("Search address…"), "aria-label": _("New location") });
  const addrList = h("ul", { class: "dropdown", role: "listbox", hidden: true });
  combo({ input: addr, list: addrList, search: geocodeSearch, render: renderPlace, autoActive: false, delay: 180,
    pick: async (r) => {
      addr.value = "";
      await act(api.updateCall(id, { location: { lat: r.lat, lon: r.lon, accuracy_m: KIND_ACCURACY[r.kind] || 100, source: "address" } }), _("Location changed"));
    } });
  addr.addEventListener("keydown", async (e) => {
    // Enter on free text: let the server geocode it (and keep the text as the address).
    if (e.key === "Enter" && addr.value.trim() && addrList.hidden) {
      e.preventDefault();
      const text = addr.value.trim();
      addr.value = "";
      await act(api.updateCall(id, { address: text }), _("Location changed"));
    }
  });
  const move = h("div", { class: "d-form" },
    h("div", { class: "field combo" }, h("label", { for: "d-address" }, _("Change location")), addr, addrList),
    h("button", { type: "button", class: "btn", id: "d-pick", onclick: () => { setPick({ callId: id }); } }, _("Pick on the map")));

  // Note.
  const note = h("textarea", { rows: 2, id: "d-note", maxlength: 2000, "aria-label": _("Note") });
  const noteForm = h("form", { class: "d-form" },
    h("label", { class: "field" }, _("Note"), note),
    h("button", { type: "submit", class: "btn" }, _("Add note"), " ", h("kbd", {}, "Ctrl+Enter")));
  const sendNote = async () => {
    const text = note.value.trim();
    if (!text) return;
    if (await act(api.addNote(id, text), _("Note added"))) note.value = "";
  };
  noteForm.addEventListener("submit", (e) => { e.preventDefault(); sendNote(); });
  note.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); sendNote(); } });

  // Merge into another call.
  const into = h("input", { type: "text", id: "d-merge", placeholder: "C-2026-000041", "aria-label": _("Merge into (reference)") });
  const mergeForm = h("form", { class: "d-form" },
    h("label", { class: "field" }, _("Merge into another call"), into),
    h("div", { class: "row" }, (call.possible_duplicates || []).map((d) => h("button", { type: "button", class: "btn btn-small", onclick: () => { into.value = refOf(d); } }, refOf(d))),
      h("button", { type: "submit", class: "btn" }, _("Merge"))));
  mergeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = into.value.trim();
    if (!text) return;
    let target = [...state.calls.values()].find((c) => c.reference === text || String(c.id) === text);
    if (!target) {
      try { target = (await api.findCalls(text)).results.find((c) => c.reference.toLowerCase() === text.toLowerCase()); } catch (error) { failed(error); return; }
    }
    if (!target) { toast(fmt(_("No call %(ref)s."), { ref: text }), "error"); return; }
    if (await act(api.merge(id, target.id), fmt(_("Merged into %(ref)s"), { ref: target.reference }))) into.value = "";
  });

  // Close with a disposition; cancel.
  const disposition = h("select", { id: "d-disposition", "aria-label": _("Disposition") },
    h("option", { value: "" }, _("Disposition…")), DISPOSITIONS.map(([code, label]) => h("option", { value: code }, label)));
  const closeNotes = h("input", { type: "text", id: "d-close-notes", placeholder: _("Notes (optional)"), "aria-label": _("Notes (optional)") });
  const closeForm = h("form", { class: "d-form" },
    h("label", { class: "field" }, _("Close the call"), h("div", { class: "row" }, disposition, closeNotes)),
    h("button", { type: "submit", class: "btn btn-primary", id: "d-close" }, _("Close call")));
  closeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!disposition.value) { disposition.focus(); toast(_("Choose a disposition."), "error"); return; }
    await act(api.close(id, disposition.value, closeNotes.value.trim()), _("Call closed"));
  });
  const reason = h("input", { type: "text", id: "d-cancel-reason", placeholder: _("Reason"), "aria-label": _("Reason") });
  const cancelForm = h("div", { class: "d-form" },
    h("label", { class: "field" }, _("Cancel the call"), reason),
    confirmButton(`call:${id}`, _("Cancel call"), _("Cancel the call? Press again"), () => act(api.cancel(id, reason.value.trim()), _("Call cancelled")), { id: "d-cancel" }));

  return {
    note: h("div", { class: "d-actions" }, section(_("Note"), noteForm)),
    more: h("div", { class: "d-actions" },
      section(_("Change"), edit, move),
      section(_("Merge"), mergeForm),
      section(_("Close"), closeForm, cancelForm)),
  };
}
