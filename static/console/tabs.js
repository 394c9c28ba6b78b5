// The panel beside the queue: the open call's detail or the units board.

import { view } from "./ctx.js";
import { $ } from "./dom.js";
import { paint } from "./render.js";

export function showTab(name) {
  view.tab = name;
  $("tab-call").setAttribute("aria-selected", String(name === "call"));
  $("tab-units").setAttribute("aria-selected", String(name === "units"));
  $("call-detail").hidden = name !== "call";
  $("units-board").hidden = name !== "units";
  if (name === "units") paint("units");
}
