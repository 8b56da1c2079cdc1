// The employer administrator's page: a roster upload (the summary from the X-Roster-*
// headers, the error file offered for download) and enrolling staff in a plan.
import { api, ApiError, csrfHeaders, NetworkError, showError } from "./api.js";
import { lang, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

function say(node, text) {
  node.hidden = false;
  node.classList.remove("notice--error");
  node.replaceChildren(document.createTextNode(text));
}

function failed(node, error) {
  node.hidden = false;
  node.classList.add("notice--error");
  showError(node, error);
}

async function uploadRoster(event) {
  event.preventDefault();
  const form = event.target;
  const result = $("roster-result");
  const file = form.elements.file.files[0];
  if (!file) {
    form.elements.file.focus();
    return;
  }
  const body = new FormData();
  body.append("file", file);
  const query = new URLSearchParams({
    format: "xlsx",
    warnings: form.elements.block.checked ? "block" : "allow",
    mode: form.elements.all.checked ? "all" : "rows",
  });
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  say(result, t("js.employer.busy"));
  try {
    let response;
    try {
      response = await fetch(`/api/accounts/roster?${query}`, {
        method: "POST", body, credentials: "same-origin", headers: csrfHeaders(),
      });
    } catch (error) {
      throw new NetworkError(error);
    }
    if (!response.ok) {
      let problem = {};
      try { problem = await response.json(); } catch { problem = {}; }
      throw new ApiError(response.status, problem);
    }
    const n = (name) => Number(response.headers.get(`X-Roster-${name}`) || 0);
    let text = t("js.employer.roster_done", {
      header: t("js.employer.header_row", { n: n("Header-Row") }), lines: n("Lines"),
      created: n("Created"), warned: n("Warned"), skipped: n("Skipped"), failed: n("Failed"),
    });
    if (n("Held-Back")) text += " " + t("js.employer.held_back", { n: n("Held-Back") });
    say(result, text);
    if (n("Failed") || n("Skipped")) {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = file.name.replace(/\.[^.]*$/, "") + ".errors.xlsx";
      link.textContent = t("js.employer.error_file");
      result.append(document.createElement("br"), link);
    }
  } catch (error) {
    failed(result, error);
  } finally {
    button.disabled = false;
  }
}

async function enroll(event) {
  event.preventDefault();
  const form = event.target;
  const result = $("enroll-result");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const report = await api("POST", "/api/employer/enrollments", {
      plan: form.elements.plan.value, logins: form.elements.logins.value,
    });
    say(result, t("js.employer.enroll_done", report));
    const list = document.createElement("ul");
    for (const line of report.lines) {
      const item = document.createElement("li");
      item.textContent = t("js.employer.line", { ...line, reason: lang === "en" ? line.reason : line.reason_zh });
      list.append(item);
    }
    if (report.lines.length) result.append(list);
  } catch (error) {
    failed(result, error);
  } finally {
    button.disabled = false;
  }
}

async function sendLink(event) {
  const button = event.target.closest("button[data-action=send-link]");
  if (!button) return;
  const name = button.dataset.name;
  if (!window.confirm(t("js.employer.confirm_link", { name }))) return;
  const status = $("action-status");
  button.disabled = true;
  try {
    const reset = await api("POST", `/api/accounts/${encodeURIComponent(button.dataset.account)}/reset-password`, {});
    const hours = Math.round((reset.link_expires_ms - Date.now()) / 3_600_000);
    say(status, t("js.employer.link_sent", { name, hours }));
  } catch (error) {
    failed(status, error);
  } finally {
    button.disabled = false;
  }
}

$("staff-table")?.addEventListener("click", sendLink);
$("roster-form")?.addEventListener("submit", uploadRoster);
$("enroll-form")?.addEventListener("submit", enroll);
