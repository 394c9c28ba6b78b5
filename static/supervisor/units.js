/* Units management: list, create, edit, take out of service, issue a device token. */
"use strict";

(() => {
  const { _, fmt, label } = SV;
  const form = document.getElementById("unit-form");
  const tbody = document.querySelector("#units tbody");

  function button(text, onClick, disabled = false) {
    const b = SV.el("button", { type: "button" }, text);
    b.disabled = disabled;
    b.addEventListener("click", onClick);
    return b;
  }

  async function act(message, fn) {
    try {
      await fn();
      SV.status(message);
      await load();
    } catch (error) {
      SV.status(error.message, true);
    }
  }

  function edit(unit) {
    form.id.value = unit.id;
    form.callsign.value = unit.callsign;
    form.service.value = unit.service;
    form.capabilities.value = unit.capabilities.join(", ");
    form.home_station.value = unit.home_station;
    document.getElementById("form-title").textContent = fmt(_("Edit %(callsign)s"), { callsign: unit.callsign });
    form.callsign.focus();
  }

  function render(units) {
    tbody.replaceChildren(...units.map((unit) => {
      const actions = document.createElement("span");
      actions.className = "sv-actions";
      actions.append(
        button(_("Edit"), () => edit(unit)),
        button(_("Out of service"), () => act(fmt(_("%(callsign)s is out of service."), { callsign: unit.callsign }),
          () => SV.api(`units/${unit.id}/out-of-service/`, { method: "POST" })), unit.status === "out_of_service"),
        button(_("New device token"), async () => {
          if (!confirm(fmt(_("Issue a new token for %(callsign)s? Its device must be set up again."), { callsign: unit.callsign }))) return;
          try {
            // The token, the crew app's link /crew/#token=… and that link as a QR code.
            const { token, link, qr } = await SV.api(`units/${unit.id}/pairing/`, { method: "POST" });
            document.getElementById("token-unit").textContent = unit.callsign;
            document.getElementById("token-value").textContent = token;
            document.getElementById("token-link").href = link;
            document.getElementById("token-qr").src = qr;
            document.getElementById("token").hidden = false;
            document.getElementById("token").scrollIntoView({ block: "nearest" });
          } catch (error) {
            SV.status(error.message, true);
          }
        }),
      );
      return SV.row([unit.callsign, label("service", unit.service), unit.capabilities.join(", "), unit.home_station,
                     label("status", unit.status), unit.location ? SV.when(unit.location.recorded_at) : _("never"), actions]);
    }));
  }

  async function load() {
    try {
      render(await SV.all("units/"));
    } catch (error) {
      SV.status(error.message, true);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      callsign: form.callsign.value.trim(),
      service: form.service.value,
      capabilities: form.capabilities.value.split(",").map((c) => c.trim()).filter(Boolean),
      home_station: form.home_station.value.trim(),
    };
    const id = form.id.value;
    act(fmt(id ? _("%(callsign)s saved.") : _("%(callsign)s created (out of service until its device reports)."), { callsign: body.callsign }),
      () => SV.api(id ? `units/${id}/` : "units/", { method: id ? "PATCH" : "POST", body }))
      .then(() => form.reset());
  });
  form.addEventListener("reset", () => {
    form.id.value = "";
    document.getElementById("form-title").textContent = _("New unit");
  });

  // The token is shown once: hiding it also drops it from the page.
  document.getElementById("token-hide").addEventListener("click", () => {
    document.getElementById("token").hidden = true;
    for (const id of ["token-value", "token-unit"]) document.getElementById(id).textContent = "";
    document.getElementById("token-link").href = "#";
    document.getElementById("token-qr").removeAttribute("src");
  });

  load();
})();
