// The bank's calibrations page: "calibrate now" posts to the JSON API (the same rules and
// refusals as the command line) and opens the new record. Without the script the list
// still shows; calibrating needs it, as the other author actions do.
import { api } from "./api.js";
import { t } from "./i18n.js";

const form = document.getElementById("calibrate-form");
const status = document.getElementById("calibrate-status");

function say(text, kind = "") {
  status.className = "notice" + (kind ? ` notice--${kind}` : "");
  status.textContent = text;
}

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const bank = form.dataset.bank;
    const button = form.querySelector("button[type=submit]");
    const version = Number.parseInt(form.elements.version.value, 10);
    button.disabled = true;
    say(t("js.cal.calibrating"));
    try {
      const record = await api(
        "POST",
        `/api/banks/${encodeURIComponent(bank)}/calibrations`,
        { version: Number.isFinite(version) ? version : null, model: form.elements.model.value },
        { timeoutMs: 120000 },
      );
      say(t("js.cal.done", { n: record.number }), "ok");
      window.location.assign(`/author/banks/${encodeURIComponent(bank)}/calibrations/${record.number}`);
    } catch (error) {
      button.disabled = false;
      say(error.message, "error");
    }
  });
}
