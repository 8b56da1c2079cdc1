// The rules page: start an attempt (formal or practice), then open the exam page.
import { api, ApiError, showError } from "./api.js";
import { t } from "./i18n.js";

/** Refused starts tried again before the page gives up (about 2–10 minutes at the
 * server's Retry-After of 2–15 s): a learner should not have to click again. */
const START_RETRIES = 20;

const button = document.getElementById("start-button");
const error = document.getElementById("form-error");
const status = document.getElementById("start-status");

if (button) {
  button.addEventListener("click", async () => {
    const practice = button.dataset.practice === "true";
    const label = button.textContent;
    button.disabled = true;
    button.textContent = t("js.rules.busy");
    error.textContent = "";
    try {
      // At 09:00 a whole province starts at once: a refused start did nothing (the clock
      // has not started), so the page keeps trying, after each Retry-After with jitter,
      // and says so instead of failing.
      const paper = await api("POST", `/api/exams/${encodeURIComponent(button.dataset.exam)}/attempts`, { practice }, {
        retries: START_RETRIES,
        onRefused: (waitMs) => {
          status.textContent = t("js.rules.refused", { seconds: Math.ceil(waitMs / 1000) });
        },
      });
      window.location.assign(`/learner/attempts/${paper.attempt}`);
    } catch (err) {
      const open = err instanceof ApiError && err.code === "attempt_open";
      const attempt = open && err.problem.errors && err.problem.errors[0] && err.problem.errors[0].open_attempt;
      if (attempt) {
        window.location.assign(`/learner/attempts/${attempt}`);
        return;
      }
      status.textContent = "";
      showError(error, err);
      button.disabled = false;
      button.textContent = label;
    }
  });
  button.disabled = false;  // the page renders it disabled until this handler is bound
}
