// The live list of open attempts: refreshed every few seconds from the operator API, a
// countdown between refreshes (from the server's seconds left, never the browser's clock),
// and dialogs to extend time or end an attempt with a reason; operators may grant more
// attempts. Rows are redrawn in place; the dialogs live outside the table, so a refresh
// never takes the focus away from a form being filled in. Learners are shown by name and
// masked ID (never the whole ID number); each row links to the attempt's log. On a phone
// the rows are cards (staff.css): every cell carries its column's name in data-label.
import { api } from "./api.js";
import { formatTime, t, tn } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const page = JSON.parse($("page-data").textContent || "{}");
const REFRESH_MS = page.refresh_ms || 5000;

/** When the last list arrived (this browser's clock: only for the countdown between refreshes). */
let fetchedAt = performance.now();
let current = page.live || { server_ms: 0, attempts: [] };
let target = null; // {attempt, learner} the open dialog acts on

function clock(seconds) {
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function ago(serverMs, savedMs) {
  if (savedMs === null || savedMs === undefined) return t("js.proctor.never");
  const s = Math.max(0, Math.floor((serverMs - savedMs) / 1000));
  return s < 120 ? t("js.proctor.ago", { s }) : t("js.proctor.ago_min", { m: Math.floor(s / 60) });
}

/** A login as lists show it (examengine.ids.masked): 110105********002X, 138****0001. */
function masked(login) {
  if (login.length === 18) return `${login.slice(0, 6)}${"*".repeat(8)}${login.slice(-4)}`;
  if (login.length === 11 && /^\d+$/.test(login)) return `${login.slice(0, 3)}****${login.slice(-4)}`;
  return login;
}

/** "Name · 110105********002X": how a dialog and a button's label name the learner. */
function who(a) {
  return `${a.name || masked(a.learner)} · ${masked(a.learner)}`;
}

function td(text, label = "", className = "") {
  const node = document.createElement("td");
  node.textContent = text;
  if (label) node.dataset.label = t(`js.proctor.${label}`);
  if (className) node.className = className;
  return node;
}

function actionButton(action, a) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `btn btn--small ${action === "terminate" ? "btn--danger" : "btn--secondary"}`;
  button.dataset.action = action;
  button.dataset.attempt = a.attempt;
  button.dataset.learner = who(a);
  button.textContent = t(`js.proctor.${action}`);
  button.setAttribute("aria-label", t(`js.proctor.${action}_label`, { learner: who(a) }));
  return button;
}

function logLink(a, className, text) {
  const link = document.createElement("a");
  link.href = `/proctor/attempts/${encodeURIComponent(a.attempt)}`;
  if (className) {
    // The row's "Log" button names whose log it opens; the name link says so by itself.
    link.className = className;
    link.setAttribute("aria-label", t("js.proctor.log_label", { learner: who(a) }));
  }
  link.append(text);
  return link;
}

function render(list) {
  const body = $("live-rows");
  const focused = document.activeElement?.closest?.("#live-rows button");
  const focusKey = focused ? `${focused.dataset.action}:${focused.dataset.attempt}` : "";
  body.replaceChildren();
  for (const a of list.attempts) {
    const row = document.createElement("tr");
    row.dataset.attempt = a.attempt;
    if (a.events) row.className = "has-events";
    const learner = document.createElement("th");
    learner.scope = "row";
    learner.className = "learner-cell";
    const name = document.createElement("span");
    name.className = "learner-name";
    name.dataset.content = "";
    name.textContent = a.name || masked(a.learner);
    const id = document.createElement("span");
    id.className = "learner-id";
    id.textContent = masked(a.learner);
    learner.append(logLink(a, "", name), " ", id);
    const left = td(clock(a.seconds_left), "seconds_left", "seconds-left");
    left.dataset.seconds = String(a.seconds_left);
    const exam = td(a.exam, "exam");
    exam.dataset.content = "";
    const actions = td("", "", "row-actions");
    actions.append(
      logLink(a, "btn btn--small btn--secondary", t("js.proctor.log")),
      " ",
      actionButton("extend", a),
      " ",
      actionButton("terminate", a),
    );
    row.append(
      learner,
      exam,
      td(t(a.practice ? "js.proctor.practice" : "js.proctor.formal"), "kind"),
      td(t(`js.proctor.state.${a.state}`), "state"),
      left,
      td(ago(list.server_ms, a.last_save_ms), "last_save"),
      td(String(a.events), "events", "events"),
      actions,
    );
    body.append(row);
  }
  $("live-empty").hidden = list.attempts.length > 0;
  if (focusKey) {
    const [action, attempt] = focusKey.split(":");
    body.querySelector(`button[data-action="${action}"][data-attempt="${CSS.escape(attempt)}"]`)?.focus();
  }
}

function tick() {
  const elapsed = Math.floor((performance.now() - fetchedAt) / 1000);
  for (const cell of document.querySelectorAll("#live-rows .seconds-left")) {
    const left = Number(cell.dataset.seconds) - elapsed;
    cell.textContent = clock(left);
    cell.classList.toggle("low", left < 300);
  }
}

async function refresh() {
  const status = $("live-status");
  const query = new URLSearchParams({ open: "true" });
  if (page.exam) query.set("exam", page.exam);
  try {
    current = await api("GET", `/api/operator/attempts?${query}`);
    fetchedAt = performance.now();
    render(current);
    status.textContent = `${tn("js.proctor.count", current.attempts.length)} · ${t("js.proctor.updated", { time: formatTime(current.server_ms, { date: false, seconds: true }) })}`;
    status.classList.remove("live-status--error");
  } catch (error) {
    status.textContent = t("js.proctor.refresh_failed", { error: error.message });
    status.classList.add("live-status--error");
  }
}

// --------------------------------------------------------------------------- dialogs

function openDialog(dialog, a) {
  target = a;
  dialog.querySelector(".dialog-who").textContent = `${a.learner} · ${current.attempts.find((x) => x.attempt === a.attempt)?.exam || ""}`;
  dialog.querySelector(".dialog-error").textContent = "";
  dialog.querySelector("form").reset();
  dialog.showModal();
  dialog.querySelector("input, textarea").focus();
}

function wireDialog(dialog, act) {
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = dialog.querySelector(".dialog-error");
    const submit = dialog.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const message = await act(dialog.querySelector("form"));
      dialog.close();
      const status = $("action-status");
      status.className = "notice notice--ok";
      status.textContent = message;
      refresh();
    } catch (problem) {
      error.textContent = problem.message;
    } finally {
      submit.disabled = false;
    }
  });
}

function reasonOf(form) {
  const reason = form.elements.reason.value.trim();
  if (!reason) {
    form.elements.reason.focus();
    throw new Error(t("js.proctor.need_reason"));
  }
  return reason;
}

wireDialog($("extend-dialog"), async (form) => {
  const reason = reasonOf(form);
  const minutes = Number(form.elements.minutes.value);
  const done = await api("POST", `/api/operator/attempts/${encodeURIComponent(target.attempt)}/extend`, {
    extra_s: Math.round(minutes * 60),
    reason,
  });
  return t("js.proctor.extended", { learner: target.learner, left: clock(done.seconds_left) });
});

wireDialog($("terminate-dialog"), async (form) => {
  const reason = reasonOf(form);
  if (!form.elements.confirm.checked) {
    form.elements.confirm.focus();
    throw new Error(t("js.proctor.need_confirm"));
  }
  const done = await api("POST", `/api/operator/attempts/${encodeURIComponent(target.attempt)}/terminate`, { reason });
  return t("js.proctor.terminated", { learner: target.learner });
});

$("live-rows").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const a = { attempt: button.dataset.attempt, learner: button.dataset.learner };
  openDialog($(button.dataset.action === "extend" ? "extend-dialog" : "terminate-dialog"), a);
});

const grant = $("grant-form");
if (grant) {
  grant.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("grant-status");
    try {
      const reason = reasonOf(grant);
      const login = grant.elements.login.value.trim();
      const exam = grant.elements.exam.value.trim();
      const done = await api("POST", `/api/operator/learners/${encodeURIComponent(login)}/exams/${encodeURIComponent(exam)}/grant`, {
        reason,
        extra_attempts: Number(grant.elements.extra_attempts.value || 0),
        extra_s: Math.round(Number(grant.elements.extra_minutes.value || 0) * 60),
      });
      status.className = "notice notice--ok";
      status.textContent = t("js.proctor.granted", { learner: masked(done.learner), allowed: done.attempts_allowed });
    } catch (error) {
      status.className = "notice notice--error";
      status.textContent = error.message;
    }
  });
}

$("exam-filter").addEventListener("change", () => $("filter-form").requestSubmit());
render(current);
window.setInterval(tick, 1000);
window.setInterval(refresh, REFRESH_MS);
