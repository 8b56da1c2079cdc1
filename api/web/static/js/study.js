// The study page: a simulated player (play/pause, a position advancing in real time),
// heartbeats to the study API, the credited-time counter, and the anti-idle challenge
// dialog fed both by heartbeat replies and by pushes — over one WebSocket when it opens
// (heartbeats and answers on it too), else over HTTP and the Server-Sent Events stream.
//
// Time: the challenge's countdown is the server's (issued_ms/expires_ms against the
// server's clock, estimated from its last reply and the monotonic clock).
import { api, ApiError, showError } from "./api.js";
import { t } from "./i18n.js";

const root = document.getElementById("study");
const chapter = root.dataset.chapter;
const durationMs = Number(root.dataset.durationMs);

const playButton = document.getElementById("play-button");
const restartButton = document.getElementById("restart-button");
const positionBar = document.getElementById("study-position");
const positionText = document.getElementById("position-text");
const creditedNode = document.getElementById("credited");
const pendingNode = document.getElementById("pending");
const stateNode = document.getElementById("study-state");
const statusNode = document.getElementById("study-status");
const alertNode = document.getElementById("study-alert");
const dialog = document.getElementById("challenge-dialog");
const promptNode = document.getElementById("challenge-prompt");
const leftNode = document.getElementById("challenge-left");
const optionsNode = document.getElementById("challenge-options");
const challengeAlert = document.getElementById("challenge-alert");

const session = {
  token: "",
  state: "starting",
  serverMs: 0,
  serverMono: 0,
  events: null,
  beatTimer: 0,
};
const player = { playing: false, positionMs: 0, fromMono: 0, fromPosition: 0 };
/** The challenge on screen, and the numbers of those already answered or run out. */
let challenge = null;
let resumeAfter = false;
let countdown = 0;
const done = new Set();

function mmss(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
}

function serverNow() {
  return session.serverMs + (performance.now() - session.serverMono);
}

function heartbeatMs() {
  const value = Number(root.dataset.heartbeatMs);
  return Number.isFinite(value) && value >= 200 ? value : 15000;
}

// ------------------------------------------------------------------------ player

function position() {
  if (!player.playing) return player.positionMs;
  return Math.min(durationMs, player.fromPosition + (performance.now() - player.fromMono));
}

function setPlaying(playing) {
  player.positionMs = position();
  if (playing && player.positionMs >= durationMs) player.positionMs = 0;
  player.playing = playing;
  player.fromMono = performance.now();
  player.fromPosition = player.positionMs;
  root.dataset.playing = String(playing);
  playButton.setAttribute("aria-pressed", String(playing));
  playButton.textContent = playing ? t("js.study.pause") : t("js.study.play");
  showState();
  render();
}

function render() {
  const at = position();
  if (player.playing && at >= durationMs) {
    setPlaying(false);
    return;
  }
  positionBar.value = at;
  positionText.textContent = `${mmss(at)} / ${mmss(durationMs)}`;
  if (challenge) {
    const left = Math.max(0, Math.ceil((challenge.expires_ms - serverNow()) / 1000));
    leftNode.textContent = t("js.study.challenge_left", { seconds: left });
    leftNode.dataset.seconds = String(left);
    if (left <= 0) timedOut();
  }
}

// ---------------------------------------------------------------------- replies

function applyStatus(reply) {
  session.token = reply.token;
  root.dataset.token = reply.token;
  session.serverMs = reply.server_ms;
  session.serverMono = performance.now();
  creditedNode.textContent = `${mmss(reply.credited_s * 1000)} / ${mmss(reply.duration_s * 1000)}`;
  creditedNode.dataset.seconds = String(reply.credited_s);
  root.dataset.creditedS = String(reply.credited_s);
  pendingNode.textContent = mmss(reply.pending_s * 1000);
  pendingNode.dataset.seconds = String(reply.pending_s);
  setState(reply.state);
  confirmCredit(reply);
  if (reply.challenge) showChallenge(reply.challenge);
}

// A passed check is applied by the server's next tick (within about a second), after
// the ack's reply: until a status shows the credit, look again shortly rather than
// at the next heartbeat (15 s on), so the credited time moves when the check passes.
const confirming = { before: -1, tries: 0, timer: 0 };

function awaitCredit() {
  confirming.before = Number(creditedNode.dataset.seconds);
  confirming.tries = 0;
  clearTimeout(confirming.timer);
  confirming.timer = setTimeout(beat, 1000);
}

function confirmCredit(reply) {
  if (confirming.before < 0) return;
  clearTimeout(confirming.timer);
  const moved = reply.credited_s !== confirming.before || reply.pending_s === 0;
  if (moved || reply.state !== "active" || ++confirming.tries > 5) {
    confirming.before = -1;
    return;
  }
  confirming.timer = setTimeout(beat, 1000);
}

/** The badge: the session's state, and while it is open whether the chapter plays. */
function showState() {
  const state = session.state;
  let key = `js.study.state.${state}`;
  let kind = state === "paused" || state === "ended" ? "badge--error" : state === "complete" ? "badge--ok" : "badge--info";
  if (state === "active" && !player.playing) {
    const started = Number(creditedNode.dataset.seconds) > 0 || position() > 0;
    key = started ? "js.study.paused_by_user" : "js.study.state.not_started";
    kind = "badge--plain";
  }
  stateNode.textContent = t(key);
  stateNode.className = `badge ${kind}`;
  stateNode.dataset.show = key.replace("js.study.", "");
}

function setState(state) {
  const before = session.state;
  session.state = state;
  root.dataset.state = state;
  showState();
  const live = state === "active" || state === "closing";
  playButton.disabled = !live;
  restartButton.hidden = state !== "paused" && state !== "ended";
  if (!live && player.playing) setPlaying(false);
  if (state === before) return;
  if (state === "paused") {
    closeChallenge();
    statusNode.textContent = "";
    statusNode.className = "notice notice--error";
    statusNode.textContent = t("js.study.voided");
    statusNode.dataset.kind = "voided";
  } else if (state === "complete") {
    closeChallenge();
    statusNode.className = "notice notice--ok";
    statusNode.textContent = t("js.study.complete");
    statusNode.dataset.kind = "complete";
  }
}

function sessionEnded() {
  stopEvents();
  closeSocket(false);
  clearTimeout(session.beatTimer);
  closeChallenge();
  setState("ended");
  statusNode.className = "notice notice--warn";
  statusNode.textContent = t("js.study.ended");
  statusNode.dataset.kind = "ended";
}

/** Refusals that mean this page's study session is over (start the chapter again). */
const ENDED = ["session_ended", "bad_token", "not_your_session", "not_authenticated"];

function failed(error) {
  if (error instanceof ApiError && ENDED.includes(error.code)) {
    sessionEnded();
    return;
  }
  showError(alertNode, error);
}

// ---------------------------------------------------------------------- socket

// Heartbeats and answers go over one WebSocket when it opens (decision 0022), the
// challenges pushed down it. When it cannot open, or drops, the page carries on over
// HTTP and the event stream (what was sent on the socket and not answered is sent again
// over HTTP) and tries the socket again later, backing off.
const socket = { ws: null, pending: [], retryMs: 5000, retryTimer: 0 };
/** Close codes: the session is over (4000) or not this sign-in's (4401). */
const SOCKET_ENDED = [4000, 4401];

function openSocket() {
  closeSocket();
  root.dataset.transport = "http";
  if (typeof WebSocket === "undefined" || !session.token) {
    listen();
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let ws;
  try {
    ws = new WebSocket(`${scheme}://${location.host}/api/study/socket?token=${encodeURIComponent(session.token)}`);
  } catch {
    listen();
    return;
  }
  ws.addEventListener("open", () => {
    if (ws.retired) return;
    socket.ws = ws;
    socket.retryMs = 5000;
    stopEvents();
    root.dataset.transport = "socket";
  });
  ws.addEventListener("message", (event) => {
    try {
      onSocketMessage(JSON.parse(event.data));
    } catch {
      // a malformed message: the next heartbeat's reply says the same
    }
  });
  ws.addEventListener("close", (event) => {
    if (socket.ws === ws) socket.ws = null;
    const pending = socket.pending.splice(0);
    if (ws.retired) return;
    if (SOCKET_ENDED.includes(event.code)) {
      pending.forEach((p) => p.reject(new ApiError(409, { code: "session_ended" })));
      sessionEnded();
      return;
    }
    root.dataset.transport = "http";
    pending.forEach((p) => api("POST", p.path, p.body).then(p.resolve, p.reject));
    if (session.state === "ended") return;
    listen();
    clearTimeout(socket.retryTimer);
    socket.retryTimer = setTimeout(() => {
      if (session.state !== "ended" && !socket.ws) openSocket();
    }, socket.retryMs);
    socket.retryMs = Math.min(socket.retryMs * 2, 10 * 60 * 1000);
  });
}

/** Close the socket; what it was still to answer goes over HTTP (`resend`) or is
 * dropped (the session is over). */
function closeSocket(resend = true) {
  clearTimeout(socket.retryTimer);
  const ws = socket.ws;
  socket.ws = null;
  if (ws) {
    ws.retired = true;
    ws.close(1000);
  }
  const pending = socket.pending.splice(0);
  if (resend) pending.forEach((p) => api("POST", p.path, p.body).then(p.resolve, p.reject));
}

function onSocketMessage(message) {
  if (message.op === "challenge") {
    showChallenge(message.body);
    return;
  }
  if (message.op === "ended") {
    sessionEnded();
    return;
  }
  const waiting = socket.pending.shift();
  if (message.op === "error") {
    const error = new ApiError(0, message.body);
    if (waiting) waiting.reject(error);
    else failed(error);
    return;
  }
  if (waiting) waiting.resolve(message.body);
}

/** A heartbeat or an answer: over the socket when it is open, else over HTTP. */
function studyCall(path, body, message) {
  const ws = socket.ws;
  if (ws && ws.readyState === WebSocket.OPEN) {
    return new Promise((resolve, reject) => {
      socket.pending.push({ path, body, resolve, reject });
      ws.send(JSON.stringify(message));
    });
  }
  return api("POST", path, body);
}

// -------------------------------------------------------------------- heartbeat

// A heartbeat is authenticated by its token and the sign-in's cookie without reading
// the sign-in (decision 0022), so it does not keep the sign-in alive: while studying,
// renew it now and then, as any page request would.
const RENEW_MS = 10 * 60 * 1000;
let renewedAt = Date.now();

function keepSignedIn() {
  if (Date.now() - renewedAt < RENEW_MS) return;
  renewedAt = Date.now();
  api("GET", "/auth/me").catch(() => {}); // a failure shows on the next heartbeat
}

async function beat() {
  clearTimeout(session.beatTimer);
  if (!session.token || session.state === "ended") return;
  keepSignedIn();
  try {
    const at = Math.round(position());
    const reply = await studyCall(
      "/api/study/heartbeat",
      { token: session.token, position_ms: at, playing: player.playing },
      { op: "beat", position_ms: at, playing: player.playing },
    );
    alertNode.textContent = "";
    applyStatus(reply);
  } catch (error) {
    failed(error);
  }
  if (session.state !== "ended") session.beatTimer = setTimeout(beat, heartbeatMs());
}

// -------------------------------------------------------------------------- SSE

function stopEvents() {
  if (session.events) session.events.close();
  session.events = null;
}

function listen() {
  stopEvents();
  const source = new EventSource(`/api/study/events?token=${encodeURIComponent(session.token)}`);
  source.addEventListener("challenge", (event) => {
    try {
      showChallenge(JSON.parse(event.data));
    } catch {
      // a malformed event: the next heartbeat reply carries the challenge too
    }
  });
  source.addEventListener("ended", () => {
    if (source === session.events) stopEvents();
  });
  session.events = source;
}

// -------------------------------------------------------------------- challenge

function showChallenge(next) {
  if (!next || done.has(next.seq) || (challenge && challenge.seq === next.seq)) return;
  if (session.state !== "active" && session.state !== "closing") return;
  challenge = next;
  resumeAfter = player.playing || resumeAfter;
  if (player.playing) {
    setPlaying(false);
    beat();
  }
  // A "click to continue" prompt is the service's own words: in the page's language.
  const prompt = next.kind === "prompt";
  promptNode.textContent = prompt ? t("js.study.prompt") : next.prompt;
  challengeAlert.textContent = "";
  optionsNode.replaceChildren(
    ...next.options.map((option) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn--secondary";
      button.textContent = prompt && option.id === "continue" ? t("js.study.continue") : option.text;
      button.dataset.answer = option.id;
      button.addEventListener("click", () => answer(next, option.id, button));
      return button;
    }),
  );
  dialog.dataset.seq = String(next.seq);
  if (!dialog.open) dialog.showModal();
  render();
  clearInterval(countdown);
  countdown = setInterval(render, 250);
}

function closeChallenge() {
  clearInterval(countdown);
  challenge = null;
  if (dialog.open) dialog.close();
}

async function answer(shown, optionId, button) {
  if (challenge !== shown) return;
  for (const b of optionsNode.querySelectorAll("button")) b.disabled = true;
  challengeAlert.textContent = "";
  try {
    await studyCall(
      "/api/study/ack",
      { token: session.token, seq: shown.seq, answer: optionId },
      { op: "ack", seq: shown.seq, answer: optionId },
    );
  } catch (error) {
    if (challenge !== shown) return;
    for (const b of optionsNode.querySelectorAll("button")) b.disabled = false;
    if (error instanceof ApiError && error.code === "wrong_answer") {
      button.disabled = true;
      showError(challengeAlert, error);
      return;
    }
    if (error instanceof ApiError && error.code === "no_challenge") {
      done.add(shown.seq);
      closeChallenge();
      beat();
      return;
    }
    if (error instanceof ApiError && ENDED.includes(error.code)) {
      sessionEnded();
      return;
    }
    showError(challengeAlert, error);
    return;
  }
  done.add(shown.seq);
  closeChallenge();
  statusNode.className = "notice notice--ok";
  statusNode.textContent = t("js.study.passed");
  statusNode.dataset.kind = "passed";
  const resume = resumeAfter;
  resumeAfter = false;
  if (resume) setPlaying(true);
  playButton.focus();
  beat();
  awaitCredit();
}

function timedOut() {
  const shown = challenge;
  if (!shown) return;
  done.add(shown.seq);
  closeChallenge();
  resumeAfter = false;
  statusNode.className = "notice notice--warn";
  statusNode.textContent = t("js.study.timeout");
  statusNode.dataset.kind = "timeout";
  // the server misses it at its next tick: look again shortly
  setTimeout(beat, 1200);
}

// The challenge must be answered: Escape does not dismiss it.
dialog.addEventListener("cancel", (event) => event.preventDefault());
// Focus stays in the dialog (Tab past the last button comes back to the first).
dialog.addEventListener("keydown", (event) => {
  if (event.key !== "Tab") return;
  const focusable = [...dialog.querySelectorAll("button:not([disabled])")];
  if (focusable.length === 0) {
    event.preventDefault();
    return;
  }
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  const inside = dialog.contains(document.activeElement) && document.activeElement !== dialog;
  if (event.shiftKey && (!inside || document.activeElement === first)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (!inside || document.activeElement === last)) {
    event.preventDefault();
    first.focus();
  }
});

// ------------------------------------------------------------------------ start

async function start() {
  clearTimeout(session.beatTimer);
  alertNode.textContent = "";
  statusNode.textContent = "";
  statusNode.className = "notice";
  delete statusNode.dataset.kind;
  stateNode.textContent = t("js.study.starting");
  stateNode.className = "badge badge--plain";
  try {
    const reply = await api("POST", `/api/study/${encodeURIComponent(chapter)}/start`);
    player.positionMs = reply.position_ms >= durationMs ? 0 : reply.position_ms;
    session.state = "starting";
    applyStatus(reply);
    openSocket();
    if (session.state === "complete") statusNode.textContent = t("js.study.complete");
  } catch (error) {
    // Not begun (refused, or the network): the chapter did not end; say it did not start.
    showError(alertNode, error);
    session.state = "refused";
    root.dataset.state = "refused";
    stateNode.textContent = t("js.study.state.refused");
    stateNode.className = "badge badge--error";
    playButton.disabled = true;
    restartButton.hidden = false;
    return;
  }
  session.beatTimer = setTimeout(beat, heartbeatMs());
}

playButton.addEventListener("click", () => {
  setPlaying(!player.playing);
  statusNode.textContent = player.playing ? t("js.study.playing") : t("js.study.paused_by_user");
  statusNode.className = "notice";
  beat();
});
restartButton.addEventListener("click", () => start());
setInterval(render, 500);
window.addEventListener("pagehide", () => {
  stopEvents();
  closeSocket();
});
start();
