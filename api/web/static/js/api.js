// fetch wrapper for the JSON API: JSON in, JSON out, problem+json turned into ApiError
// whose message is the problem's detail in the page's language (detail_zh / detail).
import { lang, t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, problem, retryAfterMs = null) {
    const text = (lang === "zh" ? problem.detail_zh : problem.detail) || problem.detail || t("js.unknown_error");
    // the engine's English messages are sentence fragments ("that is not the right answer")
    super(text.charAt(0).toUpperCase() + text.slice(1));
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code || "";
    this.problem = problem;
    /** The server's Retry-After in ms (a 503 or 429), or null. */
    this.retryAfterMs = retryAfterMs;
  }
}

/** Milliseconds to wait before trying again: the server's Retry-After (or `fallbackMs`)
 * stretched by a random 0-50 %, so that a room of browsers refused together does not
 * come back together. */
export function backoff(error, fallbackMs) {
  const base = error instanceof ApiError && error.retryAfterMs !== null ? Math.max(error.retryAfterMs, fallbackMs) : fallbackMs;
  return Math.round(base * (1 + Math.random() / 2));
}

/** A 503 refusal: the server did nothing, the same request may simply be sent again. */
const REFUSED = 503;
/** Refusals retried inside `api` before the caller sees the error. */
const REFUSAL_RETRIES = 2;

function retryAfterMs(response) {
  const seconds = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The request never reached the server (offline, DNS, connection refused). */
export class NetworkError extends Error {
  constructor(cause) {
    super(t("js.network_error"));
    this.name = "NetworkError";
    this.cause = cause;
  }
}

/** The header carrying the form security token (Litestar's CSRF protection: the
 * `csrftoken` cookie the server sets, sent back as `x-csrftoken`). The server requires
 * it on form and multipart posts; JSON requests send it too. */
export function csrfHeaders() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? { "x-csrftoken": decodeURIComponent(match[1]) } : {};
}

/** `method` `url` with an optional JSON `body`; resolves to the decoded reply (null for 204).
 * A 503 refusal (the server was full and did nothing) is sent again after its
 * Retry-After with jitter, `retries` times at most (2), before it is thrown;
 * `onRefused(waitMs, retry)` is told of each wait, so that the page can say so. */
export async function api(method, url, body = undefined, { timeoutMs = 15000, retries = REFUSAL_RETRIES, onRefused = null } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await request(method, url, body, timeoutMs);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== REFUSED || attempt >= retries) throw error;
      const waitMs = backoff(error, 1000);
      if (onRefused) onRefused(waitMs, attempt + 1);
      await sleep(waitMs);
    }
  }
}

async function request(method, url, body, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...csrfHeaders(),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
    });
  } catch (error) {
    throw new NetworkError(error);
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data && typeof data === "object" ? data : {}, retryAfterMs(response));
  }
  return data;
}

/** Show `error`'s message in `node` (a role=alert region) and mark it visible. */
export function showError(node, error) {
  if (!node) return;
  node.textContent = error instanceof Error ? error.message : String(error);
}

/** POST a multipart form (an upload); resolves to the JSON reply, throws ApiError /
 * NetworkError. */
export async function postForm(url, form) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { Accept: "application/json", ...csrfHeaders() },
    });
  } catch (error) {
    throw new NetworkError(error);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data && typeof data === "object" ? data : {});
  return data;
}

/** Redraw the page's [data-refresh] parts from the server's rendering of this page. */
export async function refresh() {
  let response;
  try {
    response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
  } catch {
    return;
  }
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const part of document.querySelectorAll("[data-refresh]")) {
    const next = fresh.getElementById(part.id);
    if (next) part.replaceWith(document.importNode(next, true));
  }
}
