// fetch wrapper for the JSON API: JSON in, JSON out, problem+json turned into ApiError
// whose message is the problem's detail in the page's language (detail_zh / detail).
import { lang, t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, problem) {
    const text = (lang === "zh" ? problem.detail_zh : problem.detail) || problem.detail || t("js.unknown_error");
    super(text);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code || "";
    this.problem = problem;
  }
}

/** The request never reached the server (offline, DNS, connection refused). */
export class NetworkError extends Error {
  constructor(cause) {
    super(t("js.network_error"));
    this.name = "NetworkError";
    this.cause = cause;
  }
}

/** `method` `url` with an optional JSON `body`; resolves to the decoded reply (null for 204). */
export async function api(method, url, body = undefined, { timeoutMs = 15000 } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
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
    throw new ApiError(response.status, data && typeof data === "object" ? data : {});
  }
  return data;
}

/** Show `error`'s message in `node` (a role=alert region) and mark it visible. */
export function showError(node, error) {
  if (!node) return;
  node.textContent = error instanceof Error ? error.message : String(error);
}
