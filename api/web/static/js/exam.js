// The exam page: answers saved at once through the queue, the countdown from the
// server's clock, the navigator, flags, time warnings, submit, integrity reports.
//
// Time: the browser's clock is never trusted. Every reply carries the seconds left (and
// mostly the deadline and the server's time); the deadline is kept as a point on the
// monotonic performance.now() scale, re-set from every reply. A later deadline in a
// reply is a proctor's extension: the clock moves at once and the page says so
// (decision 0031). Flags are kept with the attempt on the server (PUT …/flags).
import { api, ApiError, NetworkError } from "./api.js";
import { t, tn } from "./i18n.js";
import { SaveQueue } from "./queue.js";

const data = JSON.parse(document.getElementById("exam-data").textContent);
const attempt = data.attempt;
const base = `/api/attempts/${encodeURIComponent(attempt)}`;

const timerNode = document.getElementById("timer");
const saveNode = document.getElementById("save-state");
const alertNode = document.getElementById("exam-alert");
const noticeNode = document.getElementById("exam-notice");
const form = document.getElementById("paper");
const dialog = document.getElementById("confirm-dialog");
const navButtons = [...document.querySelectorAll(".nav-item")];
const questions = [...document.querySelectorAll(".question")];
const byItem = new Map(questions.map((q) => [q.dataset.item, q]));

let closed = false;

// ------------------------------------------------------------------------- clock

const clock = {
  deadlineMono: performance.now() + data.seconds_left * 1000,
  deadlineMs: data.deadline_ms,
  serverMs: data.server_ms,
  serverMono: performance.now(),
  warned5: false,
  warned1: false,
};

/** Re-set the countdown from a reply of the server. */
function sync(reply) {
  if (!reply || typeof reply.seconds_left !== "number") return;
  const now = performance.now();
  let leftMs = reply.seconds_left * 1000;
  if (typeof reply.deadline_ms === "number" && typeof reply.server_ms === "number" && reply.seconds_left > 0) {
    leftMs = Math.max(0, reply.deadline_ms - reply.server_ms);
  }
  clock.deadlineMono = now + leftMs;
  if (typeof reply.deadline_ms === "number" && reply.deadline_ms > 0) {
    const gained = reply.deadline_ms - clock.deadlineMs;
    clock.deadlineMs = reply.deadline_ms;
    if (gained >= 1000) extended(gained);
  }
  if (typeof reply.server_ms === "number") {
    clock.serverMs = reply.server_ms;
    clock.serverMono = now;
  }
  if (reply.state && reply.state !== "in_progress" && reply.state !== "overdue") finish();
}

/** The server's time now, estimated from its last reply and the monotonic clock. */
function serverNow() {
  return Math.round(clock.serverMs + (performance.now() - clock.serverMono));
}

function format(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

function showAlert(text) {
  alertNode.textContent = text;
}

/** A proctor's extension arrived: say so (a polite live region), let the warnings come again. */
function extended(gainedMs) {
  const minutes = Math.max(1, Math.round(gainedMs / 60000));
  noticeNode.hidden = false;
  noticeNode.textContent = tn("js.exam.extended", minutes);
  const left = (clock.deadlineMono - performance.now()) / 1000;
  if (left > 300) clock.warned5 = false;
  if (left > 60) clock.warned1 = false;
  if (left > 60 && alertNode.textContent) showAlert("");
  tick();
}

function tick() {
  if (closed) return;
  const left = Math.max(0, Math.ceil((clock.deadlineMono - performance.now()) / 1000));
  timerNode.textContent = format(left);
  timerNode.dataset.seconds = String(left);
  timerNode.classList.toggle("timer--low", left <= 300);
  if (left <= 60 && left > 0 && !clock.warned1) {
    clock.warned1 = true;
    clock.warned5 = true;
    showAlert(t("js.exam.warn1"));
  } else if (left <= 300 && left > 60 && !clock.warned5) {
    clock.warned5 = true;
    showAlert(t("js.exam.warn5"));
  }
  if (left === 0) timeUp();
}

let timeUpTimer = null;
function timeUp() {
  if (timeUpTimer !== null || closed) return;
  showAlert(t("js.exam.time_up"));
  for (const input of form.querySelectorAll("input, select")) input.disabled = true;
  const check = async () => {
    try {
      const beat = await api("POST", `${base}/heartbeat`);
      sync(beat);
    } catch (error) {
      if (error instanceof ApiError && error.status !== 429 && error.status < 500) finish();
    }
    if (!closed) timeUpTimer = setTimeout(check, 2000);
  };
  timeUpTimer = setTimeout(check, 0);
}

function finish() {
  if (closed) return;
  closed = true;
  queue.stop();
  window.location.assign(data.result_url);
}

// ------------------------------------------------------------------------- saving

function renderSaveState(state, count) {
  saveNode.dataset.state = state;
  let text = t(`js.exam.${state}`);
  if (state !== "saved" && count > 0) text += ` · ${tn("js.exam.pending", count)}`;
  saveNode.textContent = text;
}

const queue = new SaveQueue({
  attempt,
  lastSeq: data.last_seq,
  // The queue retries a refusal itself (Retry-After with jitter), showing "saving".
  send: (batch) => api("POST", `${base}/answers`, batch, { retries: 0 }),
  onState: renderSaveState,
  onReply: sync,
  onFatal: (error) => {
    if (error instanceof ApiError && error.code === "device_moved") {
      showAlert(t("js.exam.device_moved"));
      for (const input of form.querySelectorAll("input, select")) input.disabled = true;
      return;
    }
    if (error instanceof ApiError && error.status === 409) {
      finish();
      return;
    }
    showAlert(error.message);
  },
});

/** The response a question's controls hold now (null: unanswered). */
function responseOf(question) {
  const kind = question.dataset.kind;
  const inputs = [...question.querySelectorAll("[name^='a-']")];
  switch (kind) {
    case "single": {
      const chosen = inputs.find((i) => i.checked);
      return chosen ? chosen.value : null;
    }
    case "true_false": {
      const chosen = inputs.find((i) => i.checked);
      return chosen ? chosen.value === "true" : null;
    }
    case "multiple":
      return inputs.filter((i) => i.checked).map((i) => i.value);
    case "fill_blank":
    case "numerical": {
      const value = inputs[0].value;
      return value.trim() === "" ? null : value;
    }
    case "matching": {
      const values = inputs.map((i) => i.value);
      return values.every((v) => v === "") ? null : values;
    }
    default:
      return null;
  }
}

/** Put `response` into a question's controls (a queued change shown over the server's). */
function setControls(question, response) {
  const kind = question.dataset.kind;
  const inputs = [...question.querySelectorAll("[name^='a-']")];
  if (kind === "single") for (const i of inputs) i.checked = i.value === response;
  else if (kind === "true_false") for (const i of inputs) i.checked = response !== null && i.value === String(response);
  else if (kind === "multiple") for (const i of inputs) i.checked = Array.isArray(response) && response.includes(i.value);
  else if (kind === "fill_blank" || kind === "numerical") inputs[0].value = response ?? "";
  else if (kind === "matching") inputs.forEach((i, n) => (i.value = Array.isArray(response) ? response[n] ?? "" : ""));
}

function isAnswered(response) {
  if (response === null || response === undefined || response === "") return false;
  if (Array.isArray(response)) return response.some((r) => r !== "");
  return true;
}

const lastSent = new Map();
function record(question) {
  if (closed) return;
  const response = responseOf(question);
  const item = question.dataset.item;
  const text = JSON.stringify(response);
  if (lastSent.get(item) === text) return;
  lastSent.set(item, text);
  queue.change(item, response);
  updateNav(item);
}

const debounce = new Map();
form.addEventListener("change", (event) => {
  const question = event.target.closest(".question");
  if (!question || event.target.classList.contains("flag")) return;
  clearTimeout(debounce.get(question));
  record(question);
});
form.addEventListener("input", (event) => {
  const question = event.target.closest(".question");
  if (!question || event.target.type !== "text") return;
  clearTimeout(debounce.get(question));
  debounce.set(question, setTimeout(() => record(question), 500));
});

// ---------------------------------------------------------------- navigator, flags

// The flags are the server's (they follow the attempt to another browser); a change the
// server has not taken yet waits in localStorage and is sent again with the heartbeat.
const flagKey = `examengine.flags.${attempt}`;
let flags = new Set(data.flags || []);
let flagsPending = false;
try {
  const waiting = window.localStorage.getItem(flagKey);
  if (waiting !== null) {
    flags = new Set(JSON.parse(waiting));
    flagsPending = true;
  }
} catch {
  // no localStorage: the server's flags stand
}

// One PUT at a time (the whole set each time): a change made meanwhile is sent after it.
let flagsInFlight = null;
let flagsAgain = false;
function saveFlags() {
  if (flagsInFlight) {
    flagsAgain = true;
    return flagsInFlight;
  }
  flagsInFlight = putFlags().finally(() => {
    flagsInFlight = null;
    if (flagsAgain) {
      flagsAgain = false;
      saveFlags();
    }
  });
  return flagsInFlight;
}

async function putFlags() {
  if (closed) return;
  const sent = [...flags];
  flagsPending = true;
  try {
    window.localStorage.setItem(flagKey, JSON.stringify(sent));
  } catch {
    // flags are a convenience; nothing is lost without them
  }
  try {
    await api("PUT", `${base}/flags`, { items: sent }, { retries: 0 });
    if (JSON.stringify([...flags]) === JSON.stringify(sent)) {
      flagsPending = false;
      try {
        window.localStorage.removeItem(flagKey);
      } catch {
        // as above
      }
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 409 && error.code !== "device_moved") finish();
    else if (!(error instanceof NetworkError)) showAlert(t("js.exam.flags_unsaved"));
  }
}

function updateNav(item) {
  const button = navButtons.find((b) => b.dataset.item === item);
  const question = byItem.get(item);
  if (!button || !question) return;
  const answered = isAnswered(responseOf(question));
  const flagged = flags.has(item);
  button.dataset.answered = String(answered);
  button.dataset.flagged = String(flagged);
  const states = [t(answered ? "js.exam.answered" : "js.exam.unanswered")];
  if (flagged) states.push(t("js.exam.flagged"));
  button.setAttribute("aria-label", t("js.exam.nav_label", { n: question.dataset.position, state: states.join(t("js.exam.list_sep")) }));
}

for (const box of document.querySelectorAll(".flag")) {
  box.checked = flags.has(box.dataset.item);
  box.addEventListener("change", () => {
    if (box.checked) flags.add(box.dataset.item);
    else flags.delete(box.dataset.item);
    updateNav(box.dataset.item);
    saveFlags();
  });
}

function goTo(button) {
  const question = document.getElementById(button.dataset.target);
  if (!question) return;
  question.scrollIntoView({ block: "start" });
  const first = question.querySelector("[name^='a-']:checked") || question.querySelector("input, select");
  (first || question).focus({ preventScroll: true });
}

// The navigator is one Tab stop (a roving tabindex): the arrow keys, Home and End move
// within it, Enter or Space goes to the question.
function rove(target) {
  for (const b of navButtons) b.tabIndex = b === target ? 0 : -1;
  target.focus();
}

navButtons.forEach((button, index) => {
  button.addEventListener("click", () => {
    for (const b of navButtons) b.tabIndex = b === button ? 0 : -1;
    goTo(button);
  });
  button.addEventListener("keydown", (event) => {
    const columns = Math.max(1, Math.round(button.closest("ol").clientWidth / (button.offsetWidth || 1)));
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns, Home: -index, End: navButtons.length - 1 - index };
    if (!(event.key in moves)) return;
    event.preventDefault();
    rove(navButtons[Math.min(navButtons.length - 1, Math.max(0, index + moves[event.key]))]);
  });
});

// ------------------------------------------------------------------------- submit

function unanswered() {
  return questions.filter((q) => !isAnswered(responseOf(q))).map((q) => q.dataset.position);
}

async function askSubmit() {
  if (closed) return;
  if (!(await queue.drain(8000))) {
    showAlert(t("js.exam.wait_offline"));
    return;
  }
  const missing = unanswered();
  const names = (positions) => positions.map((n) => t("js.exam.q", { n })).join(t("js.exam.list_sep"));
  let text = missing.length
    ? tn("js.exam.confirm_unanswered", missing.length, { list: names(missing) })
    : t("js.exam.confirm_all");
  const flagged = questions.filter((q) => flags.has(q.dataset.item)).map((q) => q.dataset.position);
  if (flagged.length) text = `${tn("js.exam.confirm_flagged", flagged.length, { list: names(flagged) })}${text}`;
  document.getElementById("confirm-text").textContent = text;
  dialog.showModal();
  document.getElementById("confirm-no").focus();
}

async function submit() {
  dialog.close();
  try {
    await api("POST", `${base}/submit`, { sent_ms: serverNow() });
    closed = true;
    queue.stop();
    window.location.assign(data.result_url);
  } catch (error) {
    if (error instanceof NetworkError) showAlert(t("js.exam.wait_offline"));
    else if (error instanceof ApiError && error.status === 409) finish();
    else showAlert(error.message);
  }
}

document.getElementById("submit-button").addEventListener("click", askSubmit);
document.getElementById("submit-button-bottom").addEventListener("click", askSubmit);
document.getElementById("confirm-yes").addEventListener("click", submit);
document.getElementById("confirm-no").addEventListener("click", () => dialog.close());

// ------------------------------------------------------------------- heartbeats

async function heartbeat() {
  if (closed) return;
  try {
    const beat = await api("POST", `${base}/heartbeat`);
    sync(beat);
    if (flagsPending && !beat.device_moved) saveFlags();
    if (beat.device_moved) {
      queue.stop();
      showAlert(t("js.exam.device_moved"));
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) finish();
    // offline: the countdown goes on from the monotonic clock
  }
}

// -------------------------------------------------------------------- integrity

if (!data.practice) {
  let lastFocusReport = 0;
  const report = (kind) => {
    if (closed) return;
    api("POST", `${base}/integrity`, { kind }).catch(() => {});
  };
  const focusLost = () => {
    const now = performance.now();
    if (now - lastFocusReport < 1000) return;
    lastFocusReport = now;
    report("focus_lost");
  };
  window.addEventListener("blur", focusLost);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") focusLost();
  });
  document.addEventListener("copy", () => report("copy"));
  document.addEventListener("paste", () => report("paste"));
  let wasFullscreen = false;
  document.addEventListener("fullscreenchange", () => {
    if (document.fullscreenElement) wasFullscreen = true;
    else if (wasFullscreen) {
      wasFullscreen = false;
      report("fullscreen_exit");
    }
  });
  const fullscreen = document.getElementById("fullscreen-button");
  if (fullscreen && document.documentElement.requestFullscreen) {
    fullscreen.addEventListener("click", () => document.documentElement.requestFullscreen().catch(() => {}));
  } else if (fullscreen) {
    fullscreen.hidden = true;
  }
}

// ------------------------------------------------------------------------ start

// Changes still queued in this browser (saved while offline, or before a crash) go over
// the server's answers, then are sent.
for (const [item, response] of queue.pendingAnswers()) {
  const question = byItem.get(item);
  if (question) setControls(question, response);
}
for (const question of questions) {
  lastSent.set(question.dataset.item, JSON.stringify(responseOf(question)));
  updateNav(question.dataset.item);
}
renderSaveState(queue.size ? "saving" : "saved", queue.size);
queue.flush();
tick();
setInterval(tick, 250);
heartbeat();
setInterval(heartbeat, 30000);
// Back to the page (another tab, a locked phone): ask at once, not at the next beat.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") heartbeat();
});
