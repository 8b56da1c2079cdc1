// The answer-save queue: every change gets the next client sequence number, is kept in
// localStorage at once, and is sent in order (batches of at most BATCH). While the
// network is down the changes wait in the browser and are replayed, in order, when it is
// back (the `online` event, or the next retry). The server keeps the newest seq per item
// and answers a repeated seq as "repeated", so sending a change twice is harmless.
import { ApiError, NetworkError, backoff } from "./api.js";

const BATCH = 100;
const MAX_BACKOFF_MS = 15000;

export class SaveQueue {
  /**
   * attempt: the attempt id; lastSeq: the server's highest accepted seq;
   * send(batch) -> Promise<SaveResult>; onState(state, pendingCount);
   * onReply(reply); onFatal(error): the attempt can no longer take saves.
   */
  constructor({ attempt, lastSeq, send, onState, onReply, onFatal }) {
    this.key = `examengine.saves.${attempt}`;
    this.send = send;
    this.onState = onState || (() => {});
    this.onReply = onReply || (() => {});
    this.onFatal = onFatal || (() => {});
    this.pending = [];
    this.seq = lastSeq || 0;
    this.inFlight = null;
    this.stopped = false;
    this.failures = 0;
    this.retryTimer = null;
    this.state = "saved";
    this.waiters = [];
    this.load();
    window.addEventListener("online", () => this.flush(true));
  }

  load() {
    try {
      const stored = JSON.parse(window.localStorage.getItem(this.key) || "null");
      if (stored && Array.isArray(stored.pending)) {
        this.pending = stored.pending.filter((s) => s && typeof s.item === "string" && Number.isInteger(s.seq));
        this.seq = Math.max(this.seq, stored.seq || 0, ...this.pending.map((s) => s.seq));
      }
    } catch {
      this.pending = [];
    }
  }

  persist() {
    try {
      window.localStorage.setItem(this.key, JSON.stringify({ seq: this.seq, pending: this.pending }));
    } catch {
      // storage full or disabled: the in-memory queue still works while the page lives
    }
  }

  /** The newest unsent response per item (to show over the server's answers on load). */
  pendingAnswers() {
    const latest = new Map();
    for (const save of this.pending) latest.set(save.item, save.response);
    return latest;
  }

  get size() {
    return this.pending.length;
  }

  /** Record one change and send it (or queue it while offline). */
  change(item, response) {
    if (this.stopped) return;
    this.seq += 1;
    this.pending.push({ item, seq: this.seq, response });
    this.persist();
    this.flush();
  }

  setState(state) {
    this.state = state;
    this.onState(state, this.pending.length);
  }

  /** Send what is pending, one request at a time; `now` skips a scheduled back-off. */
  flush(now = false) {
    if (this.stopped) return;
    if (now && this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.inFlight || this.retryTimer !== null) return;
    if (this.pending.length === 0) {
      this.setState("saved");
      this.resolveWaiters();
      return;
    }
    if (this.state !== "offline") this.setState("saving");
    else this.onState("offline", this.pending.length);
    const batch = this.pending.slice(0, BATCH);
    this.inFlight = this.send(batch)
      .then((reply) => {
        // the batch is a prefix of the queue: later changes were appended behind it
        this.pending.splice(0, batch.length);
        this.persist();
        this.failures = 0;
        this.state = "saving";
        this.onReply(reply);
      })
      .catch((error) => {
        if (error instanceof NetworkError || (error instanceof ApiError && (error.status >= 500 || error.status === 429))) {
          this.failures += 1;
          this.setState(error instanceof NetworkError ? "offline" : "saving");
          // Exponential, at least the server's Retry-After, with jitter (api.js).
          const delay = Math.min(MAX_BACKOFF_MS, backoff(error, 500 * 2 ** Math.min(this.failures, 6)));
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.flush();
          }, delay);
        } else {
          this.stopped = true;
          this.onFatal(error);
          this.resolveWaiters();
        }
      })
      .finally(() => {
        this.inFlight = null;
        if (!this.stopped && this.retryTimer === null) this.flush();
      });
  }

  resolveWaiters() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve(this.pending.length === 0);
  }

  /** Resolves true once everything is saved, false on timeout or a fatal refusal. */
  drain(timeoutMs = 10000) {
    if (this.pending.length === 0 && !this.inFlight) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push((ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
      this.flush(true);
    });
  }

  stop() {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
  }
}
