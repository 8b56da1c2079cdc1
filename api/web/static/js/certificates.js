// Revoking a certificate on the operators' page (api/web/certificates.py): a dialog asks
// for the reason, the JSON API revokes, the list is redrawn from the server.
import { api, refresh } from "./api.js";
import { t } from "./i18n.js";

const dialog = document.getElementById("revoke-dialog");
let number = null;

function say(text, kind = "ok") {
  const status = document.getElementById("action-status");
  if (!status) return;
  status.hidden = false;
  status.className = `notice notice--${kind}`;
  status.textContent = text;
  status.setAttribute("tabindex", "-1");
  status.focus();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action=revoke]");
  if (!button || !dialog) return;
  number = button.dataset.number;
  const form = dialog.querySelector("form");
  form.reset();
  dialog.querySelector(".dialog-who").textContent = button.dataset.who;
  dialog.querySelector(".dialog-error").textContent = "";
  dialog.showModal();
  form.querySelector("textarea").focus();
});

if (dialog) {
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = dialog.querySelector("textarea");
    const error = dialog.querySelector(".dialog-error");
    const submit = dialog.querySelector("button[type=submit]");
    if (!reason.value.trim()) {
      reason.setAttribute("aria-invalid", "true");
      error.textContent = t("js.cert.need_reason");
      reason.focus();
      return;
    }
    reason.removeAttribute("aria-invalid");
    submit.disabled = true;
    error.textContent = t("js.cert.busy");
    try {
      await api("POST", `/api/operator/certificates/${encodeURIComponent(number)}/revoke`, { reason: reason.value.trim() });
      dialog.close();
      await refresh();
      say(t("js.cert.revoked", { number }));
    } catch (problem) {
      error.textContent = problem.message;
    } finally {
      submit.disabled = false;
    }
  });
}
